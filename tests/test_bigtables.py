"""Big tables stay fast (plugins/bigtables.py, ingest/bigtables.py): capped counts from an
index, sorts and facets only where an index serves them, no suggested facets, keyset
pages that start at the page boundary - and small tables exactly as Datasette has them.

The threshold is lowered to 5,000 rows for a copy of the sample data whose disbursements
table has 12,280 rows (so it is big and its count passes Datasette's 10,000 cap); persons
(325 rows) stays small."""
from __future__ import annotations

import random
import re
import shutil
import sqlite3
from urllib.parse import urlsplit

import pytest
from datasette import tracer
from datasette.views import table as table_view
from datasette.views import table_extras

from ingest import bigtables
from ingest.app import make_datasette

from .conftest import login
from .test_chinese_ui import english, visible_text

EXTRA_ROWS = 12_000
THRESHOLD = 5_000
T = "/community/disbursements"


@pytest.fixture(scope="module")
def big_dir(built_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("bigtables") / "data"
    shutil.copytree(built_dir, path)
    conn = sqlite3.connect(path / "community.db")
    # This private copy's disbursements are filler for the page tests: no audit, search
    # or summary triggers.
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                   " AND tbl_name = 'disbursements'").fetchall():
        conn.execute(f'DROP TRIGGER "{trigger}"')
    persons = [r[0] for r in conn.execute("SELECT id FROM persons")]
    communities = [r[0] for r in conn.execute("SELECT id FROM communities")]
    programs = [r[0] for r in conn.execute("SELECT id FROM programs")]
    rng = random.Random(6)
    rows = []
    for _ in range(EXTRA_ROWS):
        person, community = rng.choice(persons), rng.choice(communities)
        # 300 dates: ~40 rows share each, so page boundaries fall inside runs of ties.
        day = f"2015-{rng.randrange(1, 13):02d}-{rng.randrange(1, 26):02d}"
        rows.append((day, community, person, rng.choice(programs), "现金",
                     rng.randrange(100, 100_000) / 100, rng.choice(["甲", "乙", "丙"])))
    conn.executemany("INSERT INTO disbursements (paid_on, community_id, person_id, program_id,"
                     " method, amount_yuan, handler) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


@pytest.fixture(scope="module")
async def big(big_dir):
    ds = make_datasette(big_dir)
    ds.config["plugins"]["shequ"]["big_table_rows"] = THRESHOLD
    conn = sqlite3.connect(big_dir / "community.db")
    yield ds, await login(ds, "staff1"), conn
    conn.close()


async def traced(ds, path, cookies, **kwargs):
    traces = []
    with tracer.capture_traces(traces):
        response = await ds.client.get(path, cookies=cookies, **kwargs)
    return response, [" ".join(t["sql"].split()) for t in traces if t.get("sql")]


def small_community(conn) -> int:
    return conn.execute("SELECT community_id FROM disbursements GROUP BY community_id"
                        " ORDER BY count(*) DESC LIMIT 1").fetchone()[0]


def path_of(url: str) -> str:
    """Datasette's next_url is absolute; ds.client wants the path."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def plan_of(conn, sql, params) -> list[str]:
    return [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params or {})]


# ── counts ──────────────────────────────────────────────────────────────────────────

def test_datasette_internals_are_wrapped(big):
    for function in (table_extras.CountExtra.resolve, table_extras.SuggestedFacetsExtra.resolve,
                     table_view._sort_order):
        assert getattr(function, "_shequ_bigtables", False), function


async def test_big_table_page_counts_to_10000_from_an_index_and_suggests_nothing(big):
    ds, staff, conn = big
    assert conn.execute("SELECT count(*) FROM disbursements").fetchone()[0] > 10_001
    response, sqls = await traced(ds, T, staff)
    assert response.status_code == 200
    html = response.text
    assert "超过 10,000 行" in html and "统计全部" in html
    counts = [s for s in sqls if "count(*)" in s.lower()]
    assert counts == ["select count(*) from (select 1 from disbursements limit 10001)"], counts
    assert not [s for s in sqls if "with limited as" in s], "suggested facets were computed"
    assert "建议分类统计" not in html

    data = (await ds.client.get(T + ".json?_extra=count,count_truncated,suggested_facets",
                                cookies=staff)).json()
    assert data["count"] == 10_001 and data["count_truncated"] is True
    assert data["suggested_facets"] == []


async def test_count_is_the_whole_filtered_table_on_every_page(big):
    ds, staff, conn = big
    community = small_community(conn)
    exact = conn.execute("SELECT count(*) FROM disbursements WHERE community_id = ?",
                         [community]).fetchone()[0]
    assert 100 < exact < 10_000
    url = f"{T}.json?community_id={community}&_sort_desc=paid_on&_size=100&_extra=count"
    first = (await ds.client.get(url, cookies=staff)).json()
    deep = (await ds.client.get(path_of(first["next_url"]), cookies=staff)).json()
    assert first["count"] == deep["count"] == exact
    # The "统计全部" button posts the page's own query string, _next included.
    query = urlsplit(first["next_url"]).query
    response = await ds.client.post(f"{T}/-/count?{query}", cookies=staff)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == exact


# ── sorting and facets ──────────────────────────────────────────────────────────────

async def test_big_table_offers_and_allows_only_indexed_sorts(big):
    ds, staff, _ = big
    html = (await ds.client.get(T, cookies=staff)).text
    assert re.search(r'<th [^>]*data-column="paid_on"[^>]*>\s*<a href="[^"]*_sort=paid_on', html)
    amount = re.search(r'<th [^>]*data-column="amount_yuan"[^>]*>(.*?)</th>', html, re.DOTALL)
    assert "<a " not in amount.group(1)
    assert "_sort=amount_yuan" not in html and "_sort_desc=amount_yuan" not in html

    for path in (T + "?_sort=amount_yuan", T + "?_sort_desc=handler&community_id=1"):
        response = await ds.client.get(path, cookies=staff)
        assert response.status_code == 400
        assert "只能按有索引的列排序：编号、发放日期" in response.text
        assert english(visible_text(response.text)) == []
    response = await ds.client.get(T + ".json?_sort_desc=amount_yuan", cookies=staff)
    assert response.status_code == 400 and "只能按有索引的列排序" in response.json()["error"]
    # The downloads are this page's rows as a file: the same rule, the same answer.
    response = await ds.client.get(T + ".xlsx?_sort_desc=amount_yuan", cookies=staff)
    assert response.status_code == 400

    for ok in ("_sort_desc=paid_on", "_sort=paid_on", "_sort_desc=id"):
        assert (await ds.client.get(f"{T}?{ok}", cookies=staff)).status_code == 200, ok


async def test_big_table_facets_only_by_indexed_columns(big):
    ds, staff, _ = big
    for facet in ("_facet=handler", "_facet=amount_yuan", '_facet={"simple": "method"}',
                  "_facet_array=note", "_facet=program_id&_facet=goods"):
        response = await ds.client.get(f"{T}?{facet}", cookies=staff)
        assert response.status_code == 400, facet
        assert "只能按有索引的列分面：发放日期、社区、受助人、项目" in response.text
        assert english(visible_text(response.text)) == []
    response = await ds.client.get(
        T + ".json?_facet=program_id&_facet_date=paid_on&_extra=facet_results", cookies=staff)
    assert response.status_code == 200
    assert set(response.json()["facet_results"]["results"]) == {"program_id", "paid_on"}


# ── keyset pagination ───────────────────────────────────────────────────────────────

WALKS = {  # query → (ORDER BY of the same rows in SQL, what the index search must say)
    "": ("id", "USING INTEGER PRIMARY KEY (rowid>?)"),
    "_sort_desc=paid_on": ("paid_on DESC, id", "idx_disbursements_paid_on (paid_on<?)"),
    "_sort=paid_on": ("paid_on, id", "idx_disbursements_paid_on (paid_on>?)"),
    "_sort_desc=paid_on&community_id={c}": (
        "paid_on DESC, id", "idx_disbursements_community_paid_on (community_id=? AND paid_on<?)"),
}


@pytest.mark.parametrize("query", list(WALKS))
async def test_next_pages_are_keyset_pages_in_index_order(big, query):
    ds, staff, conn = big
    community = small_community(conn)
    order, search = WALKS[query]
    query = query.format(c=community)
    where = f" WHERE community_id = {community}" if "community_id" in query else ""
    expected = [r[0] for r in conn.execute(f"SELECT id FROM disbursements{where} ORDER BY {order}")]

    size = 100 if where else 1000
    url = f"{T}.json?_size={size}&_extra=query" + (f"&{query}" if query else "")
    seen, pages = [], 0
    while url:
        data = (await ds.client.get(url, cookies=staff)).json()
        seen += [row["id"] for row in data["rows"]]
        sql, params = data["query"]["sql"], data["query"]["params"]
        assert "offset" not in sql.lower()
        if pages:  # a _next page: the index starts at the boundary, nothing is sorted whole
            plan = plan_of(conn, sql, params)
            assert any(search in step for step in plan), plan
            assert not any(s.startswith("SCAN") or s == "USE TEMP B-TREE FOR ORDER BY"
                           for s in plan), plan
        url = data["next_url"] and path_of(data["next_url"])
        if url:
            assert "_next=" in url
        pages += 1
    assert pages > 1
    assert seen == expected


async def test_html_next_link_is_a_keyset_link(big):
    ds, staff, _ = big
    html = (await ds.client.get(T + "?_sort_desc=paid_on", cookies=staff)).text
    link = re.search(r'href="([^"]*_next=[^"]*)"', html)
    assert link and "_sort_desc=paid_on" in link.group(1)
    response, sqls = await traced(ds, path_of(link.group(1).replace("&amp;", "&")), staff)
    assert response.status_code == 200
    page = [s for s in sqls if s.startswith("select id, paid_on")]
    assert page and "paid_on <= :shequ_keyset" in page[0] and "offset" not in page[0]


def test_no_views_in_the_staff_database(big_dir):
    """Datasette pages a view with OFFSET; community.db has none, so no page does."""
    conn = sqlite3.connect(big_dir / "community.db")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'view'").fetchone()[0] == 0


def test_every_offered_sort_is_served_by_an_index(big_dir):
    """For every table: each column a big table may sort by is read in index order, first
    page and deep pages - never a sort of the whole table, and a `_next` boundary is an
    index range. (A descending sort still orders each run of ties by the key: Datasette's
    tie-break is ascending while the index is read backwards.)"""
    conn = sqlite3.connect(big_dir / "community.db")
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                         " AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE '%VIRTUAL%'")]
    checked = 0
    for table in tables:
        plan = bigtables.plan(conn, table)
        pks = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")') if r[5]]
        tie = pks[0] if len(pks) == 1 else "rowid"
        for column in plan.sortable:
            for direction, op in (("desc", "<="), ("", ">=")):
                for bound in ("", f' WHERE "{column}" {op} 1'):
                    sql = f'SELECT * FROM "{table}"{bound} ORDER BY "{column}" {direction}, "{tie}" LIMIT 51'
                    steps = plan_of(conn, sql, None)
                    assert "USE TEMP B-TREE FOR ORDER BY" not in steps, (sql, steps)
                    if bound:
                        assert steps[0].startswith("SEARCH"), (sql, steps)
                    else:
                        assert steps[0] == f"SCAN {table}" or " INDEX " in steps[0], (sql, steps)
                    checked += 1
    assert checked > 20
    disbursements = bigtables.plan(conn, "disbursements")
    assert {"id", "paid_on"} <= set(disbursements.sortable)
    assert "amount_yuan" not in disbursements.sortable
    assert {"paid_on", "community_id", "program_id"} <= set(disbursements.facetable)
    assert "handler" not in disbursements.facetable
    assert "birth_date" not in bigtables.plan(conn, "persons").sortable


# ── small tables ────────────────────────────────────────────────────────────────────

async def test_small_tables_keep_exact_counts_any_sort_and_suggestions(big, ds, cookies):
    big_ds, staff, conn = big
    persons = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
    assert persons < THRESHOLD
    response = await big_ds.client.get("/community/persons?_sort_desc=birth_date", cookies=staff)
    assert response.status_code == 200 and f"共 {persons:,} 行" in response.text
    data = (await big_ds.client.get("/community/persons.json?_extra=count,suggested_facets"
                                    "&_facet=gender", cookies=staff)).json()
    assert data["count"] == persons and data["suggested_facets"]

    # The sample database with the configured threshold: nothing is big.
    response = await ds.client.get(T + "?_sort_desc=amount_yuan&_facet=handler",
                                   cookies=cookies["staff"])
    assert response.status_code == 200
    assert re.search(r"共 \d+ 行", response.text)
    data = (await ds.client.get(T + ".json?_extra=suggested_facets", cookies=cookies["staff"])).json()
    assert data["suggested_facets"]


async def test_a_table_that_stops_being_big_gets_every_sort_back(big):
    ds, staff, _ = big
    assert (await ds.client.get(T + "?_sort=amount_yuan", cookies=staff)).status_code == 400
    ds.config["plugins"]["shequ"]["big_table_rows"] = 1_000_000
    try:
        response = await ds.client.get(T + "?_sort=amount_yuan", cookies=staff)
        assert response.status_code == 200
        assert "sortable_columns" not in ds.config["databases"]["community"]["tables"]["disbursements"]
    finally:
        ds.config["plugins"]["shequ"]["big_table_rows"] = THRESHOLD
    assert (await ds.client.get(T + "?_sort=amount_yuan", cookies=staff)).status_code == 400


async def test_tables_sharing_one_yaml_entry_get_their_own_sorts(big):
    """datasette.yaml gives all search-index tables one entry (a YAML alias): a big one
    must not hand its sortable columns to a small one."""
    ds, staff, conn = big
    sizes = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
             for t in ("persons_fts_docsize", "visits_fts_docsize")}
    limit = (sizes["persons_fts_docsize"] + sizes["visits_fts_docsize"]) // 2
    assert sizes["visits_fts_docsize"] < limit < sizes["persons_fts_docsize"]
    tables = ds.config["databases"]["community"]["tables"]
    assert tables["persons_fts_docsize"] is tables["visits_fts_docsize"]
    ds.config["plugins"]["shequ"]["big_table_rows"] = limit
    try:
        big_one = await ds.client.get("/community/persons_fts_docsize?_sort=sz", cookies=staff)
        assert big_one.status_code == 400
        small_one = await ds.client.get("/community/visits_fts_docsize?_sort=sz", cookies=staff)
        assert small_one.status_code == 200
        assert "sortable_columns" not in tables["visits_fts_docsize"]
        assert tables["persons_fts_docsize"]["sortable_columns"] == ["id"]
    finally:
        ds.config["plugins"]["shequ"]["big_table_rows"] = THRESHOLD
