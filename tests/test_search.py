"""Staff search: FTS5 indexes over segmented text kept current by triggers, the search
page and its JSON, ranking, and that no index is readable by anyone who cannot read its
base table."""
from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner

from ingest import audit, schema, search
from ingest.app import make_datasette
from ingest.cli import main

from .conftest import login


@pytest.fixture(scope="module")
def conn(built_dir):
    c = sqlite3.connect(f"file:{built_dir / 'community.db'}?mode=ro", uri=True)
    yield c
    c.close()


def names(conn, q, limit=500):
    return [r["title"] for r in _group(search.search(conn, q, limit=limit), "persons")["rows"]]


def _group(result, table):
    return next(g for g in result["groups"] if g["table"] == table)


def _ids(conn, table, q):
    return set(search.ids(conn, table, q, limit=10_000))


# ------------------------------------------------------------------ what is found

def test_one_character_finds_exactly_the_names_containing_it(conn):
    assert sorted(names(conn, "陈")) == ["陈世海", "陈宸"]
    expected = {r[0] for r in conn.execute("SELECT id FROM persons WHERE name LIKE '%陈%'")}
    assert _ids(conn, "persons", "陈") == expected


def test_full_and_partial_names(conn):
    assert names(conn, "陈宸") == ["陈宸"]
    assert names(conn, "陈世海") == ["陈世海"]
    assert names(conn, "世海") == ["陈世海"]


def test_dibao_finds_the_dibao_persons_and_payments(conn):
    dibao = {r[0] for r in conn.execute("SELECT person_id FROM person_categories WHERE category = '低保'")}
    assert len(dibao) == 70
    assert _ids(conn, "persons", "低保") == dibao
    result = search.search(conn, "低保")
    assert _group(result, "persons")["count"] == 70
    payments = _ids(conn, "disbursements", "低保")
    dibao_programs = {r[0] for r in conn.execute(
        "SELECT d.id FROM disbursements d JOIN programs p ON p.id = d.program_id"
        " WHERE p.name IN ('低保慰问', '低保金')")}
    assert dibao_programs and dibao_programs <= payments
    # the others mention 低保 in their note
    for (note,) in conn.execute(f"SELECT note FROM disbursements WHERE id IN"
                                f" ({','.join(map(str, payments - dibao_programs)) or 0})"):
        assert "低保" in note
    first = _group(result, "disbursements")["rows"][0]
    assert first["url"].startswith("/community/disbursements/") and "低保" in first["title"]


@pytest.mark.parametrize("word", ["残疾", "慰问"])
def test_words_find_their_rows(conn, word):
    for table, sql in [
        ("persons", "SELECT p.id FROM persons p WHERE p.note LIKE :w OR p.address LIKE :w OR EXISTS"
                    " (SELECT 1 FROM person_categories c WHERE c.person_id = p.id AND c.category LIKE :w)"),
        ("disbursements", "SELECT d.id FROM disbursements d JOIN programs p ON p.id = d.program_id"
                          " WHERE p.name LIKE :w OR p.category LIKE :w OR d.note LIKE :w OR d.goods LIKE :w"),
        ("visits", "SELECT id FROM visits WHERE purpose LIKE :w OR note LIKE :w OR visitors LIKE :w"),
    ]:
        expected = {r[0] for r in conn.execute(sql, {"w": f"%{word}%"})}
        assert _ids(conn, table, word) == expected, table
    assert _ids(conn, "disbursements", word) and _ids(conn, "visits", word)


@pytest.mark.parametrize("name,suffix", [("高中良", "115X"), ("高中良", "115x"), ("高中良", "04115X"),
                                         ("陈世海", "9477"), ("陈世海", "49477"), ("陈世海", "249477"),
                                         ("陈世海", "03249477"), ("陈世海", "500199196503249477"),
                                         ("陈世海", "5001991965")])
def test_id_number_and_its_last_digits(conn, name, suffix):
    assert name in names(conn, suffix)


def test_phone_finds_its_person(conn):
    phone, name = conn.execute("SELECT phone, name FROM persons WHERE name = '陈宸'").fetchone()
    assert names(conn, phone) == ["陈宸"]
    assert "陈宸" in names(conn, phone[-4:])
    assert "陈宸" in names(conn, phone[:8])  # the beginning of a number (7 digits or more)


def test_address_fragment(conn):
    expected = {r[0] for r in conn.execute("SELECT id FROM persons WHERE address LIKE '%跃华小区14栋%'")}
    assert len(expected) > 1
    assert _ids(conn, "persons", "跃华小区14栋") == expected
    assert _ids(conn, "persons", "14栋1单元") == {
        r[0] for r in conn.execute("SELECT id FROM persons WHERE address LIKE '%14栋1单元%'")}


def test_several_words_must_all_occur(conn):
    assert sorted(names(conn, "陈 残疾")) == ["陈世海", "陈宸"]
    assert names(conn, "陈宸 低保") == []


@pytest.mark.parametrize("exact,longer", [("文中", "林文中"), ("韩忠", "韩忠清")])
def test_exact_name_is_ranked_first(conn, exact, longer):
    found = names(conn, exact)
    assert found[0] == exact and longer in found
    assert search.persons(conn, exact)[0]["name"] == exact


@pytest.mark.parametrize("q", ['"', '*', 'OR', 'AND', 'NOT', 'NEAR(', 'NEAR(陈 宸, 2)', '-', '陈"', '"陈宸"',
                               '陈*', '陈 OR 王', '-陈', '^陈', 'name:陈', '{name}:陈', '(', ')', "'",
                               '%', '_', '\\', '陈宸' * 40, '　', '', '   ', '１１５Ｘ'])
def test_fts_syntax_in_user_input_is_harmless(conn, q):
    result = search.search(conn, q)
    assert [g["table"] for g in result["groups"]] == ["persons", "disbursements", "visits"]
    search.persons(conn, q)


def test_full_width_digits_are_normalised(conn):
    assert "高中良" in names(conn, "１１５Ｘ")


def test_match_expression_quotes_everything():
    assert search.match_expression("陈") == '"陈"'
    assert search.match_expression("陈世海") == '"陈世 世海"'
    assert search.match_expression('陈"宸') == '"陈" AND "宸"'
    assert search.match_expression("NEAR(") == '"NE EA AR"'
    assert search.match_expression("115X") == '("rX511" * OR "11 15 5X")'
    assert search.match_expression("1380000") == '("r0000831" * OR "1380000" * OR "13 38 80 00 00 00")'
    assert search.match_expression('" * - ( )') is None


def test_broad_queries_count_to_a_cap_and_list_newest_first(conn, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 30)
    monkeypatch.setattr(search, "RANK_MAX", 10)
    persons = _group(search.search(conn, "低保", limit=5), "persons")
    assert persons["count"] == 30 and persons["capped"]
    newest = sorted(_ids(conn, "persons", "低保"), reverse=True)
    assert [r["id"] for r in persons["rows"]] == newest[:5]
    few = _group(search.search(conn, "陈"), "persons")
    assert few["count"] == 2 and not few["capped"]


def test_picker_search_returns_person_summaries(conn):
    [row] = search.persons(conn, "陈宸")
    assert set(row) == {"id", "name", "id_number", "community", "household_no", "birth_date"}
    assert row["name"] == "陈宸" and row["household_no"] == "YH0046"
    assert search.persons(conn, "") == []
    assert len(search.persons(conn, "低保", limit=5)) == 5


# ------------------------------------------------------------------ the index is used

@pytest.mark.parametrize("q", ["陈", "陈宸", "9477"])
@pytest.mark.parametrize("table", ["persons", "disbursements", "visits"])
def test_query_plan_uses_the_fts_index(conn, q, table):
    index = search.GROUP_BY_TABLE[table].index
    steps = [r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN " + search.ids_sql(index), [search._match_for(index, q), 20])]
    assert any(s.startswith(f"SCAN {index.fts} VIRTUAL TABLE INDEX 0:M") for s in steps), steps
    assert not any(s.split()[:2] == ["SCAN", table] for s in steps), steps
    # the result rows are then fetched by primary key
    steps = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + search.GROUP_BY_TABLE[table].rows_sql, [1])]
    assert steps[0].startswith("SEARCH b USING INTEGER PRIMARY KEY"), steps
    assert not any(s.startswith("SCAN") for s in steps), steps
    for sql, params in [(search.count_sql(index), [search._match_for(index, q), 100]),
                        (search.ids_sql(index, ranked=False), [search._match_for(index, q), 20])]:
        steps = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        assert any(re.match(rf"SCAN {index.fts} VIRTUAL TABLE INDEX \d+:M", s) for s in steps), steps
        assert not any(s.split()[:2] == ["SCAN", table] for s in steps), steps


def test_exact_name_lookup_uses_the_name_index(conn):
    plan = " | ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN " + search.EXACT_NAME_SQL, ["陈宸"]))
    assert "idx_persons_name" in plan and "SCAN" not in plan, plan


def test_triggers_call_only_builtin_functions(built_dir):
    """Triggers compile on a bare connection (no plugin functions registered)."""
    conn = sqlite3.connect(built_dir / "community.db")
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                            " AND name LIKE 'search_%'").fetchall()
    assert len(triggers) == 14
    conn.execute("BEGIN")
    for name, sql in triggers:  # recreating them compiles them here
        conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute(sql)
    with audit.acting(conn, "测试", "测试"):
        conn.execute("UPDATE persons SET note = '测试备注' WHERE id = 1")
    assert 1 in set(search.ids(conn, "persons", "测试备注"))
    conn.rollback()
    conn.close()


# ------------------------------------------------------------------ kept current

@pytest.fixture
async def private(data_dir):
    ds = make_datasette(data_dir)
    jar = {role: await login(ds, f"{role}1") for role in ("viewer", "staff", "admin")}
    return ds, jar, data_dir


def _fresh(data_dir):
    return sqlite3.connect(data_dir / "community.db")


def _integrity(conn):
    for index in search.INDEXES:
        conn.execute(f"INSERT INTO {index.fts} ({index.fts}) VALUES ('integrity-check')")
        assert conn.execute(f"SELECT count(*) FROM {index.fts}").fetchone() == \
            conn.execute(f"SELECT count(*) FROM {index.table}").fetchone()


async def test_index_follows_api_insert_update_delete(private):
    ds, jar, data_dir = private
    response = await ds.client.post("/community/persons/-/insert", cookies=jar["staff"], json={"row": {
        "id_number": "500199198001010019", "name": "搜索测试", "community_id": 1,
        "phone": "13912345678", "address": "新村小区9栋"}})
    assert response.status_code == 201, response.text
    new_id = response.json()["rows"][0]["id"]
    conn = _fresh(data_dir)
    assert search.ids(conn, "persons", "搜索测试") == [new_id]
    assert search.ids(conn, "persons", "0019") == [new_id]
    assert search.ids(conn, "persons", "新村") == [new_id]

    response = await ds.client.post(f"/community/persons/{new_id}/-/update", cookies=jar["staff"],
                                    json={"update": {"name": "改名以后"}})
    assert response.status_code == 200, response.text
    assert search.ids(conn, "persons", "搜索测试") == []
    assert search.ids(conn, "persons", "改名以后") == [new_id]
    assert search.ids(conn, "persons", "0019") == [new_id]

    response = await ds.client.post(f"/community/persons/{new_id}/-/delete", cookies=jar["admin"])
    assert response.status_code == 200, response.text
    assert search.ids(conn, "persons", "改名以后") == []
    assert search.ids(conn, "persons", "0019") == []
    _integrity(conn)


async def test_renaming_a_person_renames_their_payments_and_visits(private):
    ds, jar, data_dir = private
    conn = _fresh(data_dir)
    chen = conn.execute("SELECT id FROM persons WHERE name = '陈宸'").fetchone()[0]
    payments = {r[0] for r in conn.execute("SELECT id FROM disbursements WHERE person_id = ?", [chen])}
    visits = {r[0] for r in conn.execute("SELECT id FROM visits WHERE person_id = ?", [chen])}
    assert payments and visits
    response = await ds.client.post(f"/community/persons/{chen}/-/update", cookies=jar["staff"],
                                    json={"update": {"name": "陈晨曦"}})
    assert response.status_code == 200, response.text
    assert _ids(conn, "disbursements", "陈晨曦") == payments
    assert _ids(conn, "visits", "陈晨曦") == visits
    assert _ids(conn, "disbursements", "陈宸") == set()
    _integrity(conn)


async def test_categories_and_programs_update_the_documents(private):
    ds, jar, data_dir = private
    conn = _fresh(data_dir)
    chen = conn.execute("SELECT id FROM persons WHERE name = '陈宸'").fetchone()[0]
    assert chen not in _ids(conn, "persons", "低保")
    response = await ds.client.post("/community/person_categories/-/insert", cookies=jar["staff"],
                                    json={"row": {"person_id": chen, "category": "低保"}})
    assert response.status_code == 201, response.text
    assert chen in _ids(conn, "persons", "低保")
    # programs: a renamed program renames every payment's document
    program = conn.execute("SELECT id FROM programs WHERE name = '爱心购物券'").fetchone()[0]
    paid = {r[0] for r in conn.execute("SELECT id FROM disbursements WHERE program_id = ?", [program])}
    response = await ds.client.post(f"/community/programs/{program}/-/update", cookies=jar["admin"],
                                    json={"update": {"name": "爱心超市购物卡"}})
    assert response.status_code == 200, response.text
    assert _ids(conn, "disbursements", "购物卡") == paid
    assert _ids(conn, "disbursements", "爱心购物券") == set()
    assert _ids(conn, "disbursements", "爱心超市购物卡") == paid
    _integrity(conn)


def test_index_follows_cli_ingest(data_dir, tmp_path):
    registry = tmp_path / "名册.csv"
    registry.write_text("社区,户号,姓名,身份证号,联系电话,住址,人员类别\n"
                        "跃华社区,YH9001,欧阳索引,500199198001010019,13700001234,跃华小区99栋,低保、残疾\n",
                        encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", "--db-dir", str(data_dir), str(registry)])
    assert result.exit_code == 0, result.output
    conn = _fresh(data_dir)
    [person] = search.persons(conn, "欧阳索引")
    assert search.persons(conn, "0019")[0]["id"] == person["id"]
    assert person["id"] in _ids(conn, "persons", "1234")
    assert person["id"] in _ids(conn, "persons", "99栋")
    assert person["id"] in _ids(conn, "persons", "低保") and person["id"] in _ids(conn, "persons", "残疾")
    assert person["id"] in _ids(conn, "persons", "欧")  # one character: names only
    _integrity(conn)


def test_migration_backfills_an_existing_database(data_dir):
    """An m002 database (no search yet) gets every row indexed by m003."""
    path = data_dir / "community.db"
    conn = sqlite3.connect(path)
    expected = {q: {t: _ids(conn, t, q) for t in ("persons", "disbursements", "visits")}
                for q in ("陈", "低保", "115X", "跃华小区14栋", "慰问")}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                " AND name LIKE 'search_%'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    for index in search.INDEXES:
        conn.execute(f"DROP TABLE {index.fts}")
    conn.execute("DELETE FROM _migrations WHERE name = 'm003_search'")
    conn.commit()
    conn.close()
    db = schema.connect(path)
    assert schema.migrate(db) == ["m003_search"]
    assert schema.migrate(db) == []
    conn = db.conn
    for q, by_table in expected.items():
        for table, found in by_table.items():
            assert _ids(conn, table, q) == found, (q, table)
    _integrity(conn)


# ------------------------------------------------------------------ the page and its JSON

@pytest.mark.parametrize("role", ["admin", "staff", "viewer"])
async def test_every_role_can_search(ds, cookies, role):
    response = await ds.client.get("/-/shequ/search.json?q=陈", cookies=cookies[role])
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] and [g["table"] for g in data["groups"]] == ["persons", "disbursements", "visits"]
    persons = data["groups"][0]
    assert persons["title"] == "居民" and persons["count"] == 2
    assert {r["title"] for r in persons["rows"]} == {"陈宸", "陈世海"}
    for row in persons["rows"]:
        assert row["url"] == f"/community/persons/{row['id']}"
        assert (await ds.client.get(row["url"], cookies=cookies[role])).status_code == 200


async def test_search_page_groups_counts_links_and_empty_state(ds, cookies):
    response = await ds.client.get("/-/shequ/search?q=低保", cookies=cookies["staff"])
    assert response.status_code == 200
    html = response.text
    assert "居民 <span class=\"count\">（70 条）</span>" in html
    assert "救助发放" in html and "走访记录" in html
    assert 'href="/community/persons/' in html and 'href="/community/disbursements/' in html
    assert "查看全部 70 条居民" in html and "超过" not in html
    more = await ds.client.get("/-/shequ/search?q=低保&table=persons&page=2", cookies=cookies["staff"])
    assert more.status_code == 200 and "上一页" in more.text and "只看居民" in more.text
    empty = await ds.client.get("/-/shequ/search?q=没有这个人", cookies=cookies["staff"])
    assert empty.status_code == 200 and "没有找到与「没有这个人」相关的" in empty.text
    blank = await ds.client.get("/-/shequ/search", cookies=cookies["viewer"])
    assert blank.status_code == 200 and "请输入要查找的内容" in blank.text
    symbols = await ds.client.get('/-/shequ/search?q="*-', cookies=cookies["viewer"])
    assert symbols.status_code == 200 and "请输入文字或数字" in symbols.text


@pytest.mark.parametrize("q", ['"', "*", "OR", "NEAR(", "-", 'NEAR("陈" "宸")', "陈 AND"])
async def test_fts_syntax_through_the_api(ds, cookies, q):
    response = await ds.client.get("/-/shequ/search.json", params={"q": q}, cookies=cookies["staff"])
    assert response.status_code == 200 and response.json()["ok"]
    page = await ds.client.get("/-/shequ/search", params={"q": q}, cookies=cookies["staff"])
    assert page.status_code == 200


async def test_menu_has_search_for_logged_in_users_only(ds, cookies):
    staff = await ds.client.get("/", cookies=cookies["viewer"])
    assert 'href="/-/shequ/search"' in staff.text and "搜索" in staff.text
    anonymous = await ds.client.get("/")
    assert "/-/shequ/search" not in anonymous.text


# ------------------------------------------------------------------ nobody else reads it

CANARIES = ["陈宸", "500199", "跃华", "\\u9648\\u5bb8", "13800"]
FTS_TABLES = [name for base in search.FTS_TABLES
              for name in (base, *(base + s for s in search.SHADOW_SUFFIXES))]


def _no_data(response):
    for canary in CANARIES:
        assert canary not in response.text, (response.url, canary)


@pytest.mark.parametrize("path", ["/-/shequ/search?q=陈", "/-/shequ/search.json?q=陈",
                                  "/-/shequ/search.json?q=低保", "/-/shequ/search?q=",
                                  "/-/shequ/search.json"])
async def test_anonymous_search_is_forbidden(ds, path):
    response = await ds.client.get(path)
    assert response.status_code == 403
    _no_data(response)
    if ".json" in path:
        assert response.json()["ok"] is False and response.json()["error"] == "请先登录"


@pytest.mark.parametrize("table", FTS_TABLES)
async def test_no_fts_table_is_readable_anonymously(ds, table):
    for path in [f"/community/{table}", f"/community/{table}.json", f"/community/{table}.csv",
                 f"/community/{table}.json?_shape=array", f"/community/{table}/1",
                 f"/community/{table}/1.json", f"/community/{table}/-/schema.json",
                 f"/community/-/query.json?sql=select+*+from+{table}",
                 f"/community/-/query?sql=select+*+from+{table}",
                 f"/community.json?sql=select+*+from+{table}"]:
        response = await ds.client.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert response.headers["location"].startswith("/-/login?next=")
        _no_data(response)


@pytest.mark.parametrize("base", search.FTS_TABLES)
async def test_match_through_sql_is_forbidden_anonymously(ds, base):
    response = await ds.client.get(
        "/community/-/query.json", params={"sql": f"select * from {base} where {base} match '\"陈\"'"})
    assert response.status_code == 403
    _no_data(response)


@pytest.mark.parametrize("table", FTS_TABLES)
async def test_fts_permissions_match_the_base_table(ds, table):
    from datasette.resources import TableResource
    for actor in (None, {"id": "x", "role": "viewer"}, {"id": "y", "role": "staff"},
                  {"id": "z", "role": "admin"}):
        allowed = await ds.allowed(action="view-table", resource=TableResource("community", table),
                                   actor=actor)
        base = await ds.allowed(action="view-table", resource=TableResource("community", "persons"),
                                actor=actor)
        assert allowed == base == (actor is not None)
        for action in ("insert-row", "update-row", "delete-row"):
            assert not await ds.allowed(action=action, resource=TableResource("community", table),
                                        actor=actor)


async def test_nobody_writes_to_an_index_through_the_api(ds, cookies):
    for role in ("admin", "staff"):
        response = await ds.client.post("/community/persons_fts/-/insert", cookies=cookies[role],
                                        json={"row": {"name": "x"}})
        assert response.status_code == 403
        response = await ds.client.post("/community/persons_fts_content/1/-/delete",
                                        cookies=cookies[role])
        assert response.status_code in (403, 404)
