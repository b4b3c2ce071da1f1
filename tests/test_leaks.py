"""Leak attack suite: canary residents go into community.db, public.db is published from it,
and then everything an anonymous visitor can reach is fetched and searched for the
canaries in every encoding (tests/leakcheck.py). Deliberately leaky builds prove that the
checks can fail.

Canaries: six fictional residents whose names, 身份证号, phones, addresses, household
numbers, notes, amounts, a staff name and a goods description occur nowhere else.
Three live in 跃华社区 (the sample community), three in a new 栖霞测试社区 where exactly one
person is 低保 (with one 低保慰问 payment and one visit), so every cell of that community is
small and must be suppressed. One canary payment is the only 2013 payment in the data.
"""
from __future__ import annotations

import csv
import html
import re
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml

from datasette.extras import ExtraScope
from datasette.views.table_extras import table_extra_registry
from ingest import ROOT, datadir, schema
from ingest.app import make_datasette
from ingest.loader import load_files
from ingest.publish import build as build_public
from ingest.publish import load_policy
from ingest.validators import make_id_number

from .conftest import PASSWORD
from .leakcheck import (
    canary_strings,
    db_files,
    scan_bytes,
    scan_db_files,
    small_counts,
    structure_violations,
    subtraction_leaks,
    value_of,
)
from .test_access import ADMIN_ONLY_ROUTES, COMMUNITY_ROUTES

THRESHOLD = 5
YUEHUA, QIXIA = "跃华社区", "栖霞测试社区"
STAFF = "钟离听澜"          # a canary handler / visitor name
GOODS = "翎秋牌电动轮椅"      # a canary goods description
PHRASE = "金丝雀暗记"         # in every note field

# name, gender, birth (YYYYMMDD), seq, community, household, phone, address, categories, grade
PEOPLE = [
    ("尉迟金翎", "女", "19320229", "918", YUEHUA, "ZZ9001", "13791357924", "翎秋巷17号附9号", "低保", ""),
    ("欧阳砚秋", "男", "19211225", "937", YUEHUA, "ZZ9002", "15924681357", "砚秋里3弄5号", "特困、空巢老人", ""),
    ("司马凌霄", "男", "20040229", "951", YUEHUA, "ZZ9002", "18635792468", "砚秋里3弄5号", "残疾", "二级"),
    ("端木雪棠", "女", "19441231", "962", QIXIA, "ZZ9003", "17702468135", "雪棠苑6栋6单元606室", "低保", ""),
    ("皇甫锦瑟", "女", "19770707", "984", QIXIA, "ZZ9005", "13546801357", "锦瑟巷8号", "残疾", "一级"),
    ("公孙墨岚", "男", "19280630", "913", QIXIA, "ZZ9006", "19913572468", "墨岚街2号", "军属", ""),
]
ID = {p[0]: make_id_number("500199", p[2], p[3]) for p in PEOPLE}
PERSON = {p[0]: p for p in PEOPLE}
# date, person, programme, method, goods, amount
PAYMENTS = [
    ("2012-06-18", "尉迟金翎", "临时救助", "现金", "", "8765.43"),
    ("2012-09-29", "欧阳砚秋", "特困慰问", "现金", "", "3141.59"),
    ("2013-05-20", "司马凌霄", "助残慰问", "实物", GOODS, "6061.17"),
    ("2012-01-20", "端木雪棠", "低保慰问", "现金", "", "1234.56"),
    ("2012-03-15", "皇甫锦瑟", "助残慰问", "转账", "", "2718.28"),
]
VISITS = [("2012-06-18", "尉迟金翎"), ("2012-01-20", "端木雪棠"), ("2013-05-20", "司马凌霄")]
DIBAO = [("端木雪棠", "9876.54", "2012-01"), ("尉迟金翎", "5432.19", "2012-02")]
DEATHS = [("公孙墨岚", "2013-08-08")]

CANARIES = {
    "name": [p[0] for p in PEOPLE] + [STAFF],
    "id_number": list(ID.values()),
    "birth": [f"{p[2][:4]}-{p[2][4:6]}-{p[2][6:]}" for p in PEOPLE],
    "phone": [p[6] for p in PEOPLE],
    "address": sorted({p[7] for p in PEOPLE}),
    "household": sorted({p[5] for p in PEOPLE}),
    "note": [PHRASE],
    "goods": [GOODS],
    "amount": [p[5] for p in PAYMENTS] + [d[1] for d in DIBAO],
}
PATTERNS = canary_strings(CANARIES)
CANARY_VALUES = sorted({str(v) for values in CANARIES.values() for v in values})
PROBES = [v for kind in ("name", "id_number", "phone", "address", "note", "household", "amount")
          for v in CANARIES[kind]]  # values sent as filters and parameters
PROBE_SAMPLE = [CANARIES[kind][i % len(CANARIES[kind])]  # one or two of each kind, to save requests
                for i, kind in enumerate(["name", "id_number", "phone", "address", "note", "household",
                                          "amount", "name", "id_number", "goods"])]
EXTRAS_ONE_BY_ONE = {"coverage_data", "committee_members", "_manifest"}  # elsewhere: all at once

POLICY = load_policy()
PUBLIC_QUERIES = yaml.safe_load((ROOT / "datasette.yaml").read_text(encoding="utf-8"))[
    "databases"]["public"]["queries"]
PUBLIC_TABLES = [*POLICY["tables"], "_manifest"]


def _extras(scope):
    return [cls.key() for cls in table_extra_registry.public_classes_for_scope(scope)]


SPIDER_LIMIT = 80  # pages the link-following crawl fetches
ROW_PAGES = 15  # row pages fetched per table (every row of the smaller tables)
TABLE_EXTRAS, ROW_EXTRAS, QUERY_EXTRAS = (_extras(s) for s in (ExtraScope.TABLE, ExtraScope.ROW,
                                                                ExtraScope.QUERY))


# ---------------------------------------------------------------- building the canary data

def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_ledgers(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    birth = lambda p: f"{p[2][:4]}-{p[2][4:6]}-{p[2][6:]}"  # noqa: E731
    registry = _write_csv(folder / "canary_registry.csv",
                          ["社区", "户号", "姓名", "性别", "身份证号", "出生日期", "联系电话", "住址",
                           "人员类别", "残疾等级", "备注"],
                          [[p[4], p[5], p[0], p[1], ID[p[0]], birth(p), p[6], p[7], p[8], p[9],
                            f"{PHRASE}：名册{i}"] for i, p in enumerate(PEOPLE)])
    payments = _write_csv(folder / "canary_payments.csv",
                          ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "物品",
                           "金额(元)", "经办人", "备注"],
                          [[d, PERSON[n][4], PERSON[n][5], n, ID[n], prog, how, goods, amount, STAFF,
                            f"{PHRASE}：发放"] for d, n, prog, how, goods, amount in PAYMENTS])
    visits = _write_csv(folder / "canary_visits.csv",
                        ["走访日期", "社区", "户号", "姓名", "身份证号", "走访人", "事由", "备注"],
                        [[d, PERSON[n][4], PERSON[n][5], n, ID[n], STAFF, "入户走访", f"{PHRASE}：走访"]
                         for d, n in VISITS])
    dibao = _write_csv(folder / "canary_dibao.csv",
                       ["社区", "户号", "户主姓名", "户主身份证号", "保障人数", "月保障金(元)", "起始月份",
                        "终止月份", "状态", "备注"],
                       [[PERSON[n][4], PERSON[n][5], n, ID[n], "1", amount, start, "", "在保",
                         f"{PHRASE}：低保"] for n, amount, start in DIBAO])
    deaths = _write_csv(folder / "canary_deaths.csv",
                        ["社区", "姓名", "身份证号", "死亡日期", "是否火化", "备注"],
                        [[PERSON[n][4], n, ID[n], d, "是", f"{PHRASE}：殡葬"] for n, d in DEATHS])
    return [registry, payments, visits, dibao, deaths]


def load_canaries(db_dir: Path, ledgers: Path) -> None:
    db = schema.connect(datadir.community_db(db_dir))
    reports = load_files(db, write_ledgers(ledgers), actor="测试", via="测试导入")
    assert all(r.ok for r in reports), [r.summary() for r in reports] + [
        str(e) for r in reports for e in r.errors]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


@pytest.fixture(scope="module")
def leak_dir(built_dir, tmp_path_factory):
    """A private copy of the sample data directory, plus the canaries, then published."""
    root = tmp_path_factory.mktemp("leaks")
    path = root / "data"
    shutil.copytree(built_dir, path)
    load_canaries(path, root / "ledgers")
    build_public(datadir.community_db(path), datadir.public_db(path))
    return path


@pytest.fixture(scope="module")
def public_db(leak_dir) -> Path:
    return datadir.public_db(leak_dir)


def _connect_ro(path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro&immutable=1", uri=True)


def _columns(path, table) -> list[str]:
    conn = _connect_ro(path)
    try:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    finally:
        conn.close()


# ---------------------------------------------------------------- the crawler

class Crawler:
    """Anonymous GETs through the in-process client, each response scanned for canaries."""

    def __init__(self, ds, patterns=PATTERNS):
        self.ds, self.patterns = ds, patterns
        self.log: list[tuple[str, int, list]] = []
        self.seconds: list[tuple[float, str]] = []

    async def get(self, path: str, exclude=(), cookies=None):
        sent = unquote(path)  # a value the request itself carries may be echoed back
        exclude = [*exclude, *(v for v in CANARY_VALUES if v in sent)]
        started = time.perf_counter()
        response = await self.ds.client.get(path, cookies=cookies or {})
        self.seconds.append((time.perf_counter() - started, path))
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode("latin-1")
        hits = (scan_bytes(response.content, self.patterns, exclude)
                + scan_bytes(headers, self.patterns, exclude))
        self.log.append((path, response.status_code, hits))
        return response

    def leaks(self, since=0):
        return [(path, status, [str(h) for h in hits[:5]])
                for path, status, hits in self.log[since:] if hits]


@pytest.fixture(scope="module")
def leak_ds(leak_dir):
    return make_datasette(leak_dir)


@pytest.fixture(scope="module")
def crawler(leak_ds):
    return Crawler(leak_ds)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _q(value: str) -> str:
    return quote(value, safe="")


# ================================================================ preconditions

def test_canaries_occur_nowhere_in_the_sample(built_dir):
    """Otherwise a hit would prove nothing: the canaries must be unique to this suite."""
    blobs = {p.name: p.read_bytes() for p in (ROOT / "sample").iterdir() if p.is_file()}
    blobs.update({p.name: p.read_bytes() for p in db_files(datadir.community_db(built_dir))})
    blobs.update({p.name: p.read_bytes() for p in db_files(datadir.public_db(built_dir))})
    found = {name: [str(h) for h in hits] for name, blob in blobs.items()
             if (hits := scan_bytes(blob, PATTERNS))}
    assert found == {}


def test_every_encoding_is_detected():
    for label, needle in PATTERNS.items():
        raw = needle if isinstance(needle, bytes) else needle.encode()
        assert [h.label for h in scan_bytes(b"\x00junk" + raw + b"junk\x00", PATTERNS)
                if h.label == label] == [label]
    assert scan_bytes(b"nothing here " * 100, PATTERNS) == []


def test_canaries_are_in_the_staff_database(leak_dir):
    """Positive control: every canary value really reached community.db."""
    blob = b"".join(p.read_bytes() for p in db_files(datadir.community_db(leak_dir)))
    found = {value_of(h.label) for h in scan_bytes(blob, PATTERNS)}
    assert set(CANARY_VALUES) <= found  # amounts as REAL (IEEE-754), the rest as UTF-8 text
    conn = _connect_ro(datadir.community_db(leak_dir))
    assert conn.execute("SELECT count(*) FROM communities WHERE name = ?", [QIXIA]).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM persons WHERE id_number IN (%s)" % ",".join("?" * len(ID)),
                        list(ID.values())).fetchone()[0] == len(PEOPLE)
    dibao_in_qixia = conn.execute(
        "SELECT count(*) FROM person_categories pc JOIN persons p ON p.id = pc.person_id"
        " JOIN communities c ON c.id = p.community_id WHERE c.name = ? AND pc.category = '低保'",
        [QIXIA]).fetchone()[0]
    assert dibao_in_qixia == 1
    conn.close()


async def test_the_crawler_sees_canaries_when_they_are_served(leak_ds):
    """Positive control for the crawl: a logged-in viewer does get the canaries."""
    crawler = Crawler(leak_ds)
    login = await leak_ds.client.post("/-/login", data={"username": "viewer1", "password": PASSWORD})
    cookies = {"shequ_session": login.cookies["shequ_session"]}
    await crawler.get("/community/persons.json?_sort_desc=id", cookies=cookies)
    labels = {h.label for h in crawler.log[-1][2]}
    name = PEOPLE[0][0]
    assert f"id_number:{ID[name]}|text" in labels and f"name:{name}|json" in labels
    # what the request carries is not counted, the rest still is
    await crawler.get(f"/community/persons.json?name={_q(name)}", cookies=cookies)
    hits = crawler.log[-1][2]
    assert hits and all(value_of(h.label) != name for h in hits)
    assert f"id_number:{ID[name]}|text" in {h.label for h in hits}


# ================================================================ (a) the public file itself

def test_public_db_bytes_carry_no_canary(public_db):
    assert public_db.exists()
    assert [p.name for p in db_files(public_db)] == [public_db.name], "no -wal/-journal/-shm beside it"
    assert scan_db_files(public_db, PATTERNS) == {}


def test_public_db_structure(public_db):
    """No view, trigger, virtual/FTS or stat table, no free page, no WAL mode; exactly the
    policy's tables plus _manifest, and only allow-listed columns."""
    assert structure_violations(public_db, POLICY, PUBLIC_QUERIES) == []
    conn = _connect_ro(public_db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(PUBLIC_TABLES)
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    conn.close()


def test_public_db_has_no_small_counts(public_db):
    assert small_counts(public_db, THRESHOLD, POLICY) == []


def test_canary_community_is_suppressed(public_db):
    conn = _connect_ro(public_db)
    rows = conn.execute("SELECT year, payments, recipients, total_yuan, suppressed"
                        " FROM relief_by_community_data WHERE community = ?", [QIXIA]).fetchall()
    assert rows and all(r[1] is None and r[2] is None and r[3] is None and r[4] == 1 for r in rows)
    coverage = conn.execute("SELECT group_name, registered, visited, assisted FROM coverage_data"
                            " WHERE community = ? AND registered > 0", [QIXIA]).fetchall()
    assert coverage == [], "every non-empty group of the canary community is hidden"
    only_2013 = conn.execute("SELECT payments, total_yuan FROM relief_by_community_data"
                             " WHERE year = '2013'").fetchall()
    assert only_2013 and all(p is None and t is None for p, t in only_2013)
    conn.close()


def test_suppressed_cells_cannot_be_recovered_by_subtraction(public_db):
    assert subtraction_leaks(public_db, POLICY, PUBLIC_QUERIES) == []


def test_sample_public_db_passes_the_same_checks(built_dir):
    """The sample data alone (no canaries, fewer suppressed cells) as published by conftest."""
    sample = datadir.public_db(built_dir)
    assert structure_violations(sample, POLICY, PUBLIC_QUERIES) == []
    assert small_counts(sample, THRESHOLD, POLICY) == []
    assert subtraction_leaks(sample, POLICY, PUBLIC_QUERIES) == []


# ================================================================ (b) anonymous crawl

async def test_home_and_database_pages(crawler):
    start = len(crawler.log)
    for path in ["/", "/.json", "/-/", "/-/.json", "/public", "/public.json",
                 "/public.json?_extra=" + "&_extra=".join(QUERY_EXTRAS), "/public/-/queries.json",
                 "/public/-/schema", "/public/-/schema.json", "/public/-/schema.md",
                 "/public/-/foreign-key-targets", "/public/-/query", "/public/-/query.json",
                 "/public/-/query/parameters?sql=select+:community", "/favicon.ico"]:
        response = await crawler.get(path)
        assert response.status_code < 500, path
    assert crawler.leaks(start) == []
    home = await crawler.get("/")
    assert home.status_code == 200 and "/public" in home.text and "/community" not in home.text


@pytest.mark.parametrize("table", PUBLIC_TABLES)
async def test_table_routes(crawler, public_db, table):
    start = len(crawler.log)
    base = f"/public/{table}"
    columns = _columns(public_db, table)
    responses = {}
    # pages and every JSON shape
    for path in [base, f"{base}.json", f"{base}.json?_size=max",
                 *(f"{base}.json?_shape={s}&_size=max" for s in ("objects", "array", "arrays", "object")),
                 f"{base}.json?_shape=array&_nl=on&_size=max", f"{base}.json?_labels=on",
                 f"{base}.json?_col={columns[0]}", f"{base}.json?_nocol={columns[0]}",
                 f"{base}.json?_nofacet=1&_nocount=1&_nosuggest=1",
                 f"{base}.csv", f"{base}.csv?_size=max", f"{base}.csv?_stream=on", f"{base}.csv?_dl=1",
                 f"{base}.csv?_stream=on&_labels=on", f"{base}/-/count", f"{base}/-/fragment",
                 f"{base}/-/schema", f"{base}/-/schema.json", f"{base}/-/schema.md",
                 f"{base}/-/foreign-key-suggestions", f"{base}/-/autocomplete?q=",
                 f"{base}?_facet_size=max&" + "&".join(f"_facet={c}" for c in columns)]:
        responses[path] = await crawler.get(path)
        assert responses[path].status_code < 500, path
    assert responses[f"{base}.json"].status_code == 200
    # every ?_extra=, all together on JSON and HTML, and one at a time on a few tables
    for extra in TABLE_EXTRAS if table in EXTRAS_ONE_BY_ONE else []:
        response = await crawler.get(f"{base}.json?_extra={extra}")
        assert response.status_code < 500, extra
    await crawler.get(f"{base}.json?_size=max&" + "&".join(f"_extra={e}" for e in TABLE_EXTRAS))
    await crawler.get(f"{base}?_extra=" + "&_extra=".join(TABLE_EXTRAS))
    # facets, sorting
    for column in columns:
        await crawler.get(f"{base}.json?_facet={column}&_facet_size=max&_extra=facet_results"
                          "&_extra=suggested_facets")
        await crawler.get(f"{base}.json?_sort={column}")
        await crawler.get(f"{base}.json?_sort_desc={column}")
    await crawler.get(f"{base}?_sort_desc={columns[-1]}")
    await crawler.get(f"{base}.json?" + "&".join(f"_facet_date={c}" for c in columns))
    # pagination to the end
    total = len(responses[f"{base}.json?_shape=array&_size=max"].json())
    seen, url, pages = 0, f"{base}.json?_size=20", 0
    while url and pages < 500:
        page = (await crawler.get(url)).json()
        seen, url, pages = seen + len(page["rows"]), page.get("next_url") and _path(page["next_url"]), pages + 1
    assert seen == total
    seen, url = 0, f"{base}.json?_size=100&_sort_desc={columns[-1]}"
    while url:
        page = (await crawler.get(url)).json()
        seen, url = seen + len(page["rows"]), page.get("next_url") and _path(page["next_url"])
    assert seen == total
    assert crawler.leaks(start) == []
    # filters and searches with canary values: the echo of what was sent is not a leak,
    # anything else is, and no row may match
    for i, column in enumerate(columns):
        ops = ["contains", "exact", "startswith", "endswith", "like", "glob"]
        for op, value in [(ops[i % len(ops)], PROBES[i % len(PROBES)]),
                          ("contains", PROBES[(i + 11) % len(PROBES)])]:
            for fmt in (".json", "") if i == 0 else (".json",):  # HTML is slow: first column only
                response = await crawler.get(f"{base}{fmt}?{column}__{op}={_q(value)}", exclude=[value])
                if fmt == ".json" and response.status_code == 200:
                    assert response.json()["rows"] == [], (column, op, value)
    for i, value in enumerate(PROBES[:4]):
        response = await crawler.get(f"{base}.json?_search={_q(value)}", exclude=[value])
        assert response.status_code in (200, 400)
        if i == 0:
            await crawler.get(f"{base}?_search={_q(value)}", exclude=[value])
        await crawler.get(f"{base}/-/autocomplete?q={_q(value)}", exclude=[value])
        where = f"{columns[0]} like '%{value}%'"
        response = await crawler.get(f"{base}.json?_where={_q(where)}", exclude=[value])
        if response.status_code == 200:
            assert response.json()["rows"] == []
    assert crawler.leaks(start) == []


@pytest.mark.parametrize("table", PUBLIC_TABLES)
async def test_row_pages(crawler, public_db, table):
    start = len(crawler.log)
    conn = _connect_ro(public_db)
    if table == "_manifest":
        keys = [_q(k) for (k,) in conn.execute("SELECT key FROM _manifest")]
    else:
        keys = [str(r) for (r,) in conn.execute(f'SELECT rowid FROM "{table}" ORDER BY rowid')]
    conn.close()
    assert keys
    step = max(1, len(keys) // ROW_PAGES)  # a spread of rows, first and last included
    for i, key in enumerate(keys):
        if i % step and i != len(keys) - 1:
            continue
        response = await crawler.get(f"/public/{table}/{key}.json")
        assert response.status_code == 200, (table, key)
        if i % (step * 5) == 0 or i == len(keys) - 1:  # HTML and extras on fewer
            assert (await crawler.get(f"/public/{table}/{key}")).status_code == 200
            await crawler.get(f"/public/{table}/{key}.json?_extra=" + "&_extra=".join(ROW_EXTRAS))
    await crawler.get(f"/public/{table}/999999999")
    await crawler.get(f"/public/{table}/999999999.json")
    assert crawler.leaks(start) == []


def _query_arguments(params):
    values = {"year": ["", "2011", "2012", "2013"], "community": ["", YUEHUA, QIXIA], "term": ["", "8", "9"]}
    combos = [{}]
    for p in params:
        combos = [{**c, p: v} for c in combos for v in values.get(p, [""])]
    return combos


@pytest.mark.parametrize("query", list(PUBLIC_QUERIES))
async def test_stored_queries(crawler, query):
    start = len(crawler.log)
    params = PUBLIC_QUERIES[query].get("params", [])
    base = f"/public/{query}"
    for args in _query_arguments(params):
        qs = "&".join(f"{k}={_q(v)}" for k, v in args.items())
        response = await crawler.get(f"{base}.json?{qs}&_shape=array")
        assert response.status_code == 200, (query, args)
        await crawler.get(f"{base}.csv?{qs}")
        if args.get("community", QIXIA) == QIXIA and args.get("year", "2013") in ("", "2013"):
            await crawler.get(f"{base}?{qs}")  # HTML is slow: the canary community's pages
    qs = "&".join(f"{p}=" for p in params)
    for extra in QUERY_EXTRAS:
        await crawler.get(f"{base}.json?{qs}&_extra={extra}")
    for path in [f"{base}.json?{qs}&_shape=objects", f"{base}.json?{qs}&_shape=arrays",
                 f"{base}.json?{qs}&_shape=array&_nl=on", f"{base}.csv?{qs}&_stream=on",
                 f"{base}.csv?{qs}&_dl=1", f"{base}", f"{base}.json", f"{base}/-/definition"]:
        await crawler.get(path)
    assert crawler.leaks(start) == []
    # canary values as parameters: echoed, never matched
    for i, value in enumerate(PROBE_SAMPLE):
        qs = "&".join(f"{p}={_q(value)}" for p in params)
        response = await crawler.get(f"{base}.json?{qs}&_shape=array", exclude=[value])
        if params:
            assert response.status_code == 200 and response.json() == [], (query, value)
        if i % 5 == 0:
            await crawler.get(f"{base}?{qs}", exclude=[value])
    assert crawler.leaks(start) == []


async def test_sql_queries(crawler, public_db):
    start = len(crawler.log)
    sqls = ["select * from sqlite_master", "select * from sqlite_schema",
            "select * from pragma_table_list", "select * from pragma_database_list",
            "select * from pragma_index_list('committee_members')",
            *(f'select * from "{t}"' for t in PUBLIC_TABLES),
            *(f'select rowid, * from "{t}"' for t in PUBLIC_TABLES),
            # reaching for the staff database from the public one
            "select * from persons", "select * from community.persons",
            "select * from main.persons", "attach database 'community.db' as c",
            f"attach database '{datadir.community_db(public_db.parent)}' as c",
            "select * from pragma_table_info('persons')", "select sqlite_version()"]
    all_extras = ".json?_extra=" + "&_extra=".join(QUERY_EXTRAS) + "&"
    for sql in sqls:
        whole_table = sql.startswith(("select * from \"", "select rowid"))
        # HTML of a 1000-row result is slow: HTML only for the small results
        for fmt in (".json?_shape=array&", ".csv?", all_extras) if whole_table else (
                ".json?_shape=array&", ".csv?", "?", all_extras):
            response = await crawler.get(f"/public/-/query{fmt}sql={_q(sql)}")
            assert response.status_code < 500, sql
    await crawler.get(f"/public/-/query?sql={_q('select * from committee_members')}")
    response = await crawler.get(f"/public/-/query.json?sql={_q('select * from sqlite_master')}&_shape=array")
    assert response.status_code == 200
    assert {r["name"] for r in response.json() if r["type"] == "table"} == set(PUBLIC_TABLES)
    for value in PROBE_SAMPLE:
        sql = f"select * from committee_members where name = '{value}'"
        response = await crawler.get(f"/public/-/query.json?sql={_q(sql)}&_shape=array", exclude=[value])
        assert response.json() == []
        await crawler.get(f"/public/-/query.json?sql={_q('select :v')}&v={_q(value)}", exclude=[value])
    assert crawler.leaks(start) == []


async def test_download(crawler, public_db):
    response = await crawler.get("/public.db")
    assert response.status_code == 200
    assert response.content == public_db.read_bytes()
    assert crawler.log[-1][2] == []


INTROSPECTION = [
    "/-/databases.json", "/-/databases", "/-/metadata.json", "/-/metadata", "/-/versions.json",
    "/-/plugins.json", "/-/settings.json", "/-/config.json", "/-/actor.json", "/-/actor",
    "/-/schema", "/-/schema.json", "/-/schema.md", "/-/queries", "/-/queries.json", "/-/api",
    "/-/jump.json?q=public", "/-/jump.json?q=persons", "/-/jump.json?q=community", "/-/jump?q=persons",
    "/-/allowed.json?action=view-table", "/-/allowed.json?action=view-table&parent=community",
    "/-/rules.json", "/-/check.json?action=view-table&parent=community&child=persons",
    "/-/actions.json", "/-/threads.json", "/-/tasks.json", "/-/messages", "/-/patterns",
    "/-/permissions", "/-/allow-debug", "/-/debug/autocomplete", "/-/create-token", "/-/auth-token",
    "/-/login", "/-/login?next=/community/persons", "/-/logout",
    "/-/shequ/accounts", "/-/shequ/upload", "/-/shequ/form/person", "/-/shequ/form/disbursement",
    "/-/shequ/persons.json", "/-/shequ/history/persons/1", "/_memory", "/_memory.json",
    "/_memory/-/query.json?sql=select+1", "/_internal", "/_internal/catalog_tables.json",
    "/_internal/-/query.json?sql=select+*+from+catalog_tables",
]


@pytest.mark.parametrize("path", INTROSPECTION)
async def test_introspection_pages(crawler, path):
    response = await crawler.get(path)
    assert response.status_code < 500
    assert crawler.log[-1][2] == []
    if response.status_code == 200 and not path.startswith("/-/login"):
        assert "/community/" not in response.text, path


async def test_introspection_with_canary_queries(crawler, leak_dir):
    start = len(crawler.log)
    conn = _connect_ro(datadir.community_db(leak_dir))
    canary_ids = [r[0] for r in conn.execute(
        "SELECT id FROM persons WHERE id_number IN (%s)" % ",".join("?" * len(ID)), list(ID.values()))]
    conn.close()
    for value in PROBE_SAMPLE:
        for path in [f"/-/jump.json?q={_q(value)}", f"/-/jump?q={_q(value)}",
                     f"/-/shequ/persons.json?q={_q(value)}", f"/-/login?next={_q(value)}"]:
            response = await crawler.get(path, exclude=[value])
            assert response.status_code < 500
    for pid in canary_ids:
        for path in [f"/-/shequ/history/persons/{pid}", f"/-/shequ/form/person?id={pid}",
                     f"/-/shequ/form/disbursement?person={pid}", f"/-/shequ/form/visit?person={pid}"]:
            response = await crawler.get(path)
            assert response.status_code in (302, 401, 403), path
    assert crawler.leaks(start) == []


ERROR_PAGES = [
    "/public/nope", "/public/nope.json", "/nope", "/nope.json", "/public/-/query?sql=select+nonsense",
    "/public/-/query.json?sql=select+nonsense", "/public/-/query.json?sql=select+*+from+persons",
    "/public/communities.json?_sort=nonexistent", "/public/communities.json?_shape=nonsense",
    "/public/communities.json?_extra=nonsense", "/public/communities/nope/-/nope",
    "/community/persons.json?x=1", "/community/nope.json", "/public/relief_by_category.json?year=",
    "/public/-/query.json?sql=" + _q("select * from relief_by_category_data where x = "),
]


@pytest.mark.parametrize("path", ERROR_PAGES)
async def test_error_pages(crawler, path):
    response = await crawler.get(path)
    assert response.status_code < 500
    assert crawler.log[-1][2] == []


# Ways around a URL guard keyed on the literal path: Datasette tilde-decodes database and
# table names, so these still name the staff database after routing.
GUARD_PROBES = [
    "/comm~75nity/persons.json", "/comm~75nity/persons", "/comm~75nity.json", "/comm~75nity",
    "/~63ommunity/-/query.json?sql=select+*+from+persons", "/comm~75nity/persons.csv",
    "/comm~75nity/persons/1.json", "/comm~75nity/relief_by_category.json?year=2012",
    "/comm~75nity.db", "/Community/persons.json", "/COMMUNITY/persons.json",
    "//community/persons.json", "/./community/persons.json", "/public/../community/persons.json",
    "/community%2Fpersons.json", "/community/persons.json/", "/community/persons/-/count",
    "/community/persons/-/fragment", "/community/-/schema.md", "/community/persons/-/schema.md",
    "/community/audit_log.json", "/community/dibao_enrolments.csv?_stream=on",
    "/community/-/queries", "/community/stop_dibao.json",
]


@pytest.mark.parametrize("path", COMMUNITY_ROUTES)
async def test_community_routes_refused(crawler, path):
    response = await crawler.get(path)
    assert crawler.log[-1][2] == []
    is_page = "." not in path.split("?")[0].rsplit("/", 1)[-1]
    assert response.status_code == (302 if is_page else 403), path


async def test_community_routes_with_canaries(crawler, leak_dir):
    start = len(crawler.log)
    conn = _connect_ro(datadir.community_db(leak_dir))
    pid = conn.execute("SELECT id FROM persons WHERE id_number = ?", [ID[PEOPLE[0][0]]]).fetchone()[0]
    conn.close()
    name = PEOPLE[0][0]
    for path in [f"/community/persons.json?name={_q(name)}", f"/community/persons?name={_q(name)}",
                 f"/community/persons/{pid}", f"/community/persons/{pid}.json",
                 f"/community/persons.csv?id_number={ID[name]}", f"/community/persons.json?_search={_q(name)}",
                 f"/community/persons/-/autocomplete?q={_q(name)}",
                 f"/community/-/query.json?sql={_q(f'select * from persons where name = {chr(39)}{name}{chr(39)}')}",
                 f"/community/coverage.json?year=2012&community={_q(QIXIA)}",
                 f"/community/relief_by_community.json?year=2013"]:
        response = await crawler.get(path, exclude=[name])
        assert response.status_code in (302, 403), path
    assert crawler.leaks(start) == []


@pytest.mark.parametrize("path", GUARD_PROBES + ADMIN_ONLY_ROUTES)
async def test_guard_evasions_get_nothing(crawler, path):
    response = await crawler.get(path)
    assert crawler.log[-1][2] == []
    assert response.status_code in (301, 302, 400, 401, 403, 404), (path, response.status_code)
    if response.status_code in (301, 302):
        location = response.headers["location"]
        assert location.startswith("/-/login") or "community" not in location.replace("next=", ""), location
    body = response.text
    assert "id_number" not in body and "500199" not in body, path


def _plugin_probes(pids=("1",)):
    probes = [f"/-/shequ/dashboard/{db}{qs}" for db in ("public", "community", "comm~75nity", "nope")
              for qs in ("", "?year=2012", "?year=2013&community=" + _q(QIXIA), "?year=&community=" + _q(YUEHUA),
                         "?year=2099", "?community=" + _q(PEOPLE[0][0]))]
    probes += [f"/-/shequ/report{ext}{qs}" for ext in ("", ".docx")
               for qs in ("", "?year=2012&community=" + _q(QIXIA), "?year=2013&community=" + _q(YUEHUA),
                          "?year=2012&community=")]
    probes += [f"/-/shequ/search{ext}?q={_q(v)}{t}" for ext in ("", ".json") for v in PROBE_SAMPLE[:4]
               for t in ("", "&table=persons")]
    probes += [f"/-/shequ/persons.json?q={_q(v)}" for v in PROBE_SAMPLE[:4]]
    probes += [f"/-/shequ/history/{t}/{pid}" for t in ("persons", "disbursements", "visits") for pid in pids]
    probes += [f"/-/shequ/form/{f}{qs}" for f in ("person", "disbursement", "visit", "dibao", "election")
               for qs in ("", f"?person={pids[0]}", f"?id={pids[0]}")]
    probes += ["/-/shequ/restore", "/-/shequ/accounts", "/-/shequ/upload", "/-/shequ/upload/confirm",
               "/-/shequ/upload/cancel", "/-/login", "/-/logout"]
    return probes


def test_every_plugin_route_is_probed(leak_ds):
    """A route a plugin adds later must be added to the crawl (and fail here until it is)."""
    from datasette.plugins import pm
    probes = [p.split("?")[0] for p in _plugin_probes()]
    unprobed = [regex for routes in pm.hook.register_routes(datasette=leak_ds) for regex, _ in routes or []
                if not any(re.match(regex, p) for p in probes)]
    assert unprobed == []


async def test_plugin_routes(crawler, leak_dir):
    start = len(crawler.log)
    conn = _connect_ro(datadir.community_db(leak_dir))
    pids = [str(r[0]) for r in conn.execute(
        "SELECT id FROM persons WHERE id_number IN (%s)" % ",".join("?" * len(ID)), list(ID.values()))]
    conn.close()
    for path in _plugin_probes(pids):
        response = await crawler.get(path, exclude=PROBE_SAMPLE[:4] if "q=" in path else ())
        assert response.status_code < 500, path
        if "/dashboard/public" in path and response.status_code == 200:
            assert "/community" not in response.text
        elif not path.startswith(("/-/login", "/-/logout", "/-/shequ/dashboard/nope")):
            assert response.status_code in (302, 400, 403, 404, 405), (path, response.status_code)
    assert crawler.leaks(start) == []


async def test_spider_from_public_pages(crawler):
    """Follow every same-site link an anonymous visitor is shown (href, src, data-*),
    breadth first, two URLs per path at most."""
    start = len(crawler.log)
    queue = ["/", "/public", "/-/shequ/dashboard/public", "/-/shequ/dashboard/public?year=2012&community="
             + _q(QIXIA), "/public/coverage_data", "/public/coverage?year=2012&community=" + _q(QIXIA)]
    seen, per_path, fetched = set(queue), {}, 0
    while queue and fetched < SPIDER_LIMIT:
        url = queue.pop(0)
        response = await crawler.get(url)
        fetched += 1
        if "html" not in response.headers.get("content-type", ""):
            continue
        for link in re.findall(r'(?:href|src|data-[a-z-]+)="(/[^"]*)"', response.text):
            link = html.unescape(link).split("#")[0]
            if link.startswith("//") or link in seen or link.startswith("/-/static"):
                continue
            bare = link.split("?")[0]
            if per_path.get(bare, 0) >= 2:
                continue
            per_path[bare] = per_path.get(bare, 0) + 1
            seen.add(link)
            queue.append(link)
    assert fetched > 50
    assert crawler.leaks(start) == []
    assert not any(path.startswith("/community") and status == 200
                   for path, status, _ in crawler.log[start:])


@pytest.mark.parametrize("path", ["/comm~75nity/persons.json", "/comm~75nity/persons", "/~63ommunity.json"])
async def test_guard_refuses_tilde_encoded_staff_database(leak_ds, path):
    response = await leak_ds.client.get(path)
    if "." in path.rsplit("/", 1)[-1]:
        assert response.status_code == 403 and response.json()["error"] == "请先登录"
    else:
        assert response.status_code == 302 and response.headers["location"].startswith("/-/login")


async def test_bogus_bearer_token_gets_nothing(crawler):
    response = await crawler.ds.client.get("/community/persons.json",
                                           headers={"Authorization": "Bearer dstok_forged"})
    assert response.status_code == 401
    assert scan_bytes(response.content, PATTERNS) == []


async def test_public_only_instance(leak_dir):
    crawler = Crawler(make_datasette(leak_dir, public_only=True))
    for path in ["/", "/.json", "/-/databases.json", "/public/coverage_data.json?_size=max",
                 "/public.db", "/community", "/community/persons.json", "/community.db"]:
        response = await crawler.get(path)
        if path.startswith("/community"):
            assert response.status_code in (302, 403, 404)
    assert crawler.leaks() == []


async def test_crawl_summary(crawler):
    """Runs after every crawl test above: the whole anonymous crawl, nothing leaked, no 5xx
    (an error page is where a traceback with data would show)."""
    if len(crawler.log) < 1000:
        pytest.skip("a summary of the whole module's crawl: run the module, not this test alone")
    assert crawler.leaks() == []
    assert [path for path, status, _ in crawler.log if status >= 500] == []
    statuses = {}
    for _, status, _ in crawler.log:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"\nanonymous requests scanned: {len(crawler.log)} "
          f"({len({p.split('?')[0] for p, _, _ in crawler.log})} distinct paths), "
          f"{len(PATTERNS)} patterns each, statuses {dict(sorted(statuses.items()))}, "
          f"request time {sum(t for t, _ in crawler.seconds):.1f}s")


# ================================================================ (c) leaky builds are caught

def _leaky_policy(tmp_path, mutate) -> Path:
    policy = yaml.safe_load((ROOT / "publish.yml").read_text(encoding="utf-8"))
    mutate(policy)
    path = tmp_path / "publish-leaky.yml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def test_leaky_policy_publishing_persons_is_caught(leak_dir, tmp_path):
    def add_persons(policy):
        policy["tables"]["persons"] = {"title": "居民", "source": "persons",
                                       "columns": {"name": "keep", "gender": "keep"}}
    out = tmp_path / "data"
    out.mkdir()
    shutil.copy(datadir.accounts_db(leak_dir), datadir.accounts_db(out))
    build_public(datadir.community_db(leak_dir), datadir.public_db(out),
                 policy_path=_leaky_policy(tmp_path, add_persons))
    hits = scan_db_files(datadir.public_db(out), PATTERNS)
    assert {value_of(h.label) for h in hits["public.db"]} >= {p[0] for p in PEOPLE}
    assert any("persons" in v for v in structure_violations(datadir.public_db(out), POLICY, PUBLIC_QUERIES))
    crawler = Crawler(make_datasette(out, public_only=True))
    for path in ["/public/persons.json?_size=max", "/public/persons.csv?_stream=on", "/public.db",
                 "/public/-/query.json?sql=select+*+from+persons"]:
        await crawler.get(path)
    assert len(crawler.leaks()) == 4


def test_leaky_policy_without_suppression_is_caught(leak_dir, tmp_path):
    def no_suppression(policy):
        for table, spec in policy["tables"].items():
            if table.startswith("relief_") or table.startswith("coverage"):
                spec["suppress"] = False
    leaky = tmp_path / "public.db"
    build_public(datadir.community_db(leak_dir), leaky, policy_path=_leaky_policy(tmp_path, no_suppression))
    violations = small_counts(leaky, THRESHOLD, POLICY)
    assert violations, "unsuppressed small cells must be detected"
    assert any(v.startswith("coverage_data.") for v in violations)
    assert any(v.startswith("relief_by_community_data.") for v in violations)
    # the threshold argument on its own is honoured too
    lowered = tmp_path / "public-t2.db"
    build_public(datadir.community_db(leak_dir), lowered, threshold=2)
    assert small_counts(lowered, THRESHOLD, POLICY)
    assert small_counts(lowered, 2, POLICY) == []


PERSONAL_TABLES = ["persons", "disbursements", "visits", "dibao_enrolments", "deaths", "households",
                   "person_categories", "audit_log"]


def _delete_personal_rows(src: Path, dst: Path, *, vacuum: bool) -> None:
    """Copy the staff database and delete the personal rows the naive way."""
    source = sqlite3.connect(src)
    source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    source.close()
    shutil.copy(src, dst)
    conn = sqlite3.connect(dst)
    conn.execute("PRAGMA journal_mode = DELETE")  # deletions land in the file itself, not a WAL
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")
    # audit_log refuses DELETE by trigger, and the audit triggers would log the deletions
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{trigger}"')
    for table in PERSONAL_TABLES:
        conn.execute(f'DELETE FROM "{table}"')
    # search indexes over the personal tables (FTS5 and its shadow tables) go with them
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                 " AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall():
        conn.execute(f'DROP TABLE "{table}"')
    conn.commit()
    if vacuum:
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("VACUUM")
    conn.close()


def test_delete_without_vacuum_is_caught(leak_dir, tmp_path):
    leaky = tmp_path / "deleted.db"
    _delete_personal_rows(datadir.community_db(leak_dir), leaky, vacuum=False)
    conn = _connect_ro(leaky)
    assert all(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == 0 for t in PERSONAL_TABLES)
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    hits = scan_db_files(leaky, PATTERNS)
    assert hits, "deleted rows linger in free pages and must be detected"
    found = {value_of(h.label) for h in hits[leaky.name]}
    assert {p[0] for p in PEOPLE} | set(ID.values()) <= found
    assert free > 0
    # the same copy vacuumed (secure_delete on) holds no canary: the checker has no false positive
    clean = tmp_path / "vacuumed.db"
    _delete_personal_rows(datadir.community_db(leak_dir), clean, vacuum=True)
    assert scan_db_files(clean, PATTERNS) == {}


def test_stale_wal_beside_public_db_is_caught(leak_dir, tmp_path):
    """(iv) public.db with an old WAL from a leaky build lying beside it."""
    out = tmp_path / "public.db"
    shutil.copy(datadir.public_db(leak_dir), out)
    staging = tmp_path / "staging.db"
    conn = sqlite3.connect(staging)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE persons (name TEXT, id_number TEXT)")
    with conn:
        conn.executemany("INSERT INTO persons VALUES (?, ?)", [(n, i) for n, i in ID.items()])
    shutil.copy(f"{staging}-wal", f"{out}-wal")
    conn.close()
    assert scan_bytes(out.read_bytes(), PATTERNS) == []
    hits = scan_db_files(out, PATTERNS)
    assert list(hits) == ["public.db-wal"]


def test_primary_suppression_alone_is_caught_by_subtraction(leak_dir, tmp_path):
    """(v) small cells hidden, but no complementary suppression: the differencing check
    recomputes hidden cells from the published totals."""
    def no_suppression(policy):
        for spec in policy["tables"].values():
            if spec.get("suppress"):
                spec["suppress"] = False
    leaky = tmp_path / "public.db"
    build_public(datadir.community_db(leak_dir), leaky, policy_path=_leaky_policy(tmp_path, no_suppression))
    conn = sqlite3.connect(leaky)
    for table, spec in POLICY["tables"].items():
        if not spec.get("suppress"):
            continue
        counts = [c for c, how in spec["columns"].items() if how == "count"]
        measures = [c for c, how in spec["columns"].items() if how in ("count", "money", "rate")]
        conn.execute(f'UPDATE "{table}" SET ' + ", ".join(f'"{c}" = NULL' for c in measures)
                     + " WHERE " + " OR ".join(f'("{c}" > 0 AND "{c}" < {THRESHOLD})' for c in counts))
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    assert small_counts(leaky, THRESHOLD, POLICY) == []
    recovered = subtraction_leaks(leaky, POLICY, PUBLIC_QUERIES)
    assert recovered, "primary-only suppression must be defeated by subtraction"
    assert any(f"community={QIXIA!r}" in r for r in recovered)
