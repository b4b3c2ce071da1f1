"""A Hypothesis-driven fuzzer over the JSON endpoints, as anonymous, as staff (session
cookie) and as a staff bearer token (admin too, for the writes nobody may make).

Reads: every table `.json` of community and public, every stored query `.json`, row
`.json`, `/<db>/-/query.json`, `/-/shequ/search.json`, `/-/shequ/persons.json`, with random
query strings: `_shape`, `_size`, `_sort`/`_sort_desc`, `_next`, `_facet*`, `_where`,
`_extra`, `_col`/`_nocol`, `_search`, `_timelimit`, `_through`, `_labels`, and filters
`column__op=value` with Datasette's operators, unknown ones and unicode values.
Writes: `/-/insert`, `/-/upsert`, `/<pk>/-/update`, `/<pk>/-/delete`, and the schema
and SQL writes (`/-/create`, `/-/alter`, `/-/drop`, `/-/execute-write`), with random JSON
bodies (well-formed rows, random JSON, broken JSON).

Every answer: no 5xx. Anonymous: nothing of community is ever 2xx, and no community data in
any body. Staff: no delete, no SQL (`/-/query`, `_where`) and no schema/SQL write on
community is ever 2xx, and inserts/updates only on the tables staff may write. Anybody: no
write to audit_log, to the search indexes or to public.db is ever 2xx.

Bounded: `max_examples` per test keep the whole file well under 45 s. Counts per role,
endpoint kind and status go to test-artifacts/fuzz_stats.json.
"""
from __future__ import annotations

import collections
import json
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import httpx2 as httpx
import pytest
from datasette.filters import Filters
from datasette.utils import tilde_decode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import accounts, datadir
from ingest.app import load_yaml, make_datasette

from tests.conftest import login

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CANARIES = ["陈宸", "500199", "跃华小区"]
SETTINGS = dict(deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
STATS: collections.Counter = collections.Counter()
SPENT: dict[str, float] = {}


def _tables(path) -> dict[str, list[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
        return {n: [c[1] for c in conn.execute(f'PRAGMA table_xinfo("{n}")')] for n in names}
    finally:
        conn.close()


def _seeds(path) -> dict[str, list[dict]]:
    """A few real rows per table (without generated columns): well-formed write bodies."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        out = {}
        for name in _tables(path):
            stored = [c[1] for c in conn.execute(f'PRAGMA table_xinfo("{name}")') if c[6] == 0]
            if not stored:
                continue
            cols = ", ".join(f'"{c}"' for c in stored)
            rows = conn.execute(f'SELECT {cols} FROM "{name}" LIMIT 3').fetchall()
            out[name] = [{k: r[k] for k in r.keys() if k != "id" and not isinstance(r[k], bytes)}
                         for r in rows]
        return out
    finally:
        conn.close()


CONFIG = load_yaml("datasette.yaml")["databases"]
QUERIES = {db: {name: q.get("params") or [] for name, q in (CONFIG[db].get("queries") or {}).items()}
           for db in ("community", "public")}
STAFF_WRITABLE = {t for t, spec in (CONFIG["community"].get("tables") or {}).items()
                  if "staff" in str(((spec.get("permissions") or {}).get("insert-row") or {}))}
NEVER_WRITABLE = {"audit_log"} | {t for t in CONFIG["community"]["tables"] if "_fts" in t}
OPERATORS = [f.key for f in Filters._filters]


@pytest.fixture(scope="module")
async def fuzz(built_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(built_dir, path)
    app = make_datasette(path)
    await app.invoke_startup()
    conn = accounts.connect(datadir.accounts_db(path))
    token = accounts.create_token(conn, "staff1", name="fuzz", ttl=3600)
    conn.close()
    credentials = {
        "anonymous": ({}, {}),
        "staff": (await login(app, "staff1"), {}),
        "bearer": ({}, {"Authorization": f"Bearer {token}"}),
        "admin": (await login(app, "admin1"), {}),
    }
    schema = {"community": _tables(datadir.community_db(path)),
              "public": _tables(datadir.public_db(path))}
    seeds = {"community": _seeds(datadir.community_db(path)),
             "public": _seeds(datadir.public_db(path))}
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.app()),
                               base_url="http://localhost")
    yield {"client": client, "credentials": credentials, "schema": schema, "seeds": seeds}
    await client.aclose()
    ARTIFACTS.mkdir(exist_ok=True)
    stats = {"requests": sum(STATS.values()), "seconds": {k: round(v, 1) for k, v in SPENT.items()},
             "by": {" ".join(k): n for k, n in sorted(STATS.items())}}
    (ARTIFACTS / "fuzz_stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1),
                                               encoding="utf-8")


# ── strategies ───────────────────────────────────────────────────────────────

weird_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "-1", "0", "1", "999999999999999999999", "abc", "1.5", "NaN", "null",
                     "~", "~2F", "%", "'", '"', "\\", "/", "..", "\x00", "陈", "陈宸", "1,2",
                     "a,b,c", "{}", "[]", '{"table": "x"}', "2012", "2012-06-01", "9" * 40,
                     "select 1", "1=1", "1) or (1=1", "rowid", "*", "_", "\u202e", "😀"]))
column_or_junk = lambda columns: st.one_of(st.sampled_from(columns), weird_text)  # noqa: E731


@st.composite
def table_params(draw, columns):
    pairs = []
    keys = draw(st.lists(st.sampled_from([
        "_shape", "_size", "_sort", "_sort_desc", "_next", "_facet", "_facet_array",
        "_facet_date", "_where", "_extra", "_col", "_nocol", "_search", "_timelimit",
        "_through", "_labels", "_nl", "_json", "_facet_size", "_trace", "_stream",
        "_search_name", "filter", "filter", "filter"]), max_size=5))
    for key in keys:
        if key == "_shape":
            value = draw(st.one_of(st.sampled_from(
                ["objects", "array", "arrays", "object", "arrayfirst", "nope"]), weird_text))
        elif key in ("_size", "_timelimit", "_facet_size"):
            value = draw(st.one_of(st.integers(-10**12, 10**12).map(str),
                                   st.sampled_from(["max", "-1", "0", "1e9"]), weird_text))
        elif key in ("_sort", "_sort_desc", "_facet", "_facet_array", "_facet_date", "_col",
                     "_nocol", "_json"):
            value = draw(column_or_junk(columns))
        elif key == "_extra":
            value = draw(st.one_of(st.sampled_from(
                ["count", "facet_results", "columns", "primary_keys", "query", "next_url",
                 "suggested_facets", "human_description_en", "database", "table",
                 "private", "metadata", "render_cell", "display_columns", "renderers",
                 "expandable_columns", "column_types", "set_column_type_ui", "count_sql",
                 "table_definition", "view_definition", "is_view", "debug", "request"]),
                weird_text))
        elif key == "_through":
            value = draw(st.one_of(weird_text, st.builds(
                lambda t, c, v: json.dumps({"table": t, "column": c, "value": v}),
                weird_text, weird_text, weird_text)))
        elif key == "filter":
            column = draw(column_or_junk(columns))
            op = draw(st.one_of(st.sampled_from(OPERATORS), weird_text))
            key = f"{column}__{op}" if draw(st.booleans()) else column
            value = draw(weird_text)
        else:
            value = draw(weird_text)
        pairs.append((key, value))
    return pairs


def _qs(pairs) -> str:
    return urlencode(pairs, doseq=True) if pairs else ""


def _url(path, pairs) -> str:
    query = _qs(pairs)
    return f"{path}?{query}" if query else path


def _segment(value: str) -> str:
    """One path segment; "." and ".." percent-encoded, or the client would resolve them
    and the request would go to another route."""
    text = quote(value, safe="") or "x"
    return text.replace(".", "%2E") if text in (".", "..") else text


@st.composite
def read_request(draw, schema):
    """(kind, database, table, method, url, body) for a read endpoint."""
    kind = draw(st.sampled_from(["table", "table", "table", "row", "query", "stored",
                                 "shequ_search", "shequ_persons"]))
    database = draw(st.sampled_from(["community", "community", "public"]))
    tables = schema[database]
    if kind in ("table", "row"):
        table = draw(st.sampled_from(sorted(tables)))
        columns = tables[table] or ["rowid"]
        if kind == "table":
            return kind, database, table, _url(f"/{database}/{_segment(table)}.json",
                                               draw(table_params(columns)))
        pk = draw(st.one_of(st.integers(-5, 10**20).map(str), weird_text))
        return kind, database, table, _url(f"/{database}/{_segment(table)}/{_segment(pk)}.json",
                                           draw(table_params(columns)))
    if kind == "query":
        sql = draw(st.one_of(st.sampled_from([
            "select * from persons", "select count(*) from visits", "select 1",
            "select * from programs", "select sqlite_version()", "pragma table_info(persons)",
            "delete from visits", "insert into audit_log(actor) values ('x')",
            "attach database 'x.db' as x", "select load_extension('x')",
            "select * from persons where name like :q", "select :a, :b",
            "with recursive c(x) as (select 1 union all select x+1 from c) select count(*) from c",
            "select zeroblob(100000000)", "select randomblob(-1)", "select * from nowhere"]),
            weird_text))
        pairs = [("sql", sql)] + draw(st.lists(st.tuples(
            st.sampled_from(["q", "a", "b", "_shape", "_timelimit", "_size", "_json", "_next"]),
            weird_text), max_size=3))
        return kind, database, None, _url(f"/{database}/-/query.json", pairs)
    if kind == "stored":
        name = draw(st.sampled_from(sorted(QUERIES[database])))
        params = QUERIES[database][name]
        pairs = [(p, draw(weird_text)) for p in params if draw(st.booleans())]
        pairs += draw(st.lists(st.tuples(st.sampled_from(
            ["_shape", "_size", "_json", "_timelimit", "_extra", "sql", "_next"]), weird_text),
            max_size=2))
        return kind, database, name, _url(f"/{database}/{name}.json", pairs)
    if kind == "shequ_search":
        pairs = [("q", draw(weird_text))] + draw(st.lists(st.tuples(
            st.sampled_from(["table", "page", "q"]),
            st.one_of(weird_text, st.sampled_from(["persons", "disbursements", "visits"]))),
            max_size=2))
        return kind, "community", None, _url("/-/shequ/search.json", pairs)
    pairs = [("q", draw(weird_text))]
    return kind, "community", None, _url("/-/shequ/persons.json", pairs)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
              st.floats(allow_nan=False, allow_infinity=False), weird_text),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(weird_text, children, max_size=3)),
    max_leaves=8)


@st.composite
def row_values(draw, columns, seeds=()):
    """A random row, or (half the time, when there are seeds) a real row with a few
    values changed, so that many writes are well-formed and reach the permission check
    and the database."""
    if seeds and draw(st.booleans()):
        row = dict(draw(st.sampled_from(list(seeds))))
        for key in draw(st.lists(st.sampled_from(columns), max_size=2, unique=True)):
            row[key] = draw(json_values)
        return row
    keys = draw(st.lists(column_or_junk(columns), max_size=5, unique=True))
    return {k: draw(json_values) for k in keys}


@st.composite
def write_request(draw, schema, seeds):
    """(kind, database, table, url, body) for a write endpoint; body is JSON-able or bytes."""
    kind = draw(st.sampled_from(["insert", "insert", "insert", "upsert", "update", "update",
                                 "update", "delete", "delete", "create", "alter", "drop",
                                 "execute-write"]))
    database = draw(st.sampled_from(["community", "community", "community", "public"]))
    tables = schema[database]
    # Weighted towards the tables whose rules matter: staff's, audit_log, programs.
    favoured = sorted((STAFF_WRITABLE | {"audit_log", "programs", "communities"}) & set(tables))
    table = draw(st.sampled_from(favoured) if favoured and draw(st.booleans())
                 else st.sampled_from(sorted(tables)))
    columns = [c for c in tables[table] if c not in ("amount_fen",)] or ["id"]
    rows = seeds[database].get(table) or []
    t = _segment(table)
    if kind in ("insert", "upsert"):
        url = f"/{database}/{t}/-/{kind}"
        single = st.builds(lambda r, extra: {"row": r, **extra}, row_values(columns, rows),
                           st.dictionaries(st.sampled_from(["return", "ignore", "replace",
                                                            "alter"]), st.booleans(), max_size=2))
        body = draw(st.one_of(
            single, single, single,
            st.builds(lambda rs: {"rows": rs}, st.lists(row_values(columns, rows), max_size=3)),
            json_values, st.binary(max_size=20)))
    elif kind in ("update", "delete"):
        pk = draw(st.one_of(st.integers(1, 60).map(str), st.integers(-2, 10**6).map(str),
                            weird_text))
        url = f"/{database}/{t}/{_segment(pk)}/-/{kind}"
        update = st.builds(lambda u, a: {"update": u, "return": a},
                           row_values(columns, rows), st.booleans())
        body = (draw(st.one_of(update, update, update, json_values, st.binary(max_size=20)))
                if kind == "update" else draw(st.one_of(st.none(), json_values)))
    elif kind == "create":
        url = f"/{database}/-/create"
        body = draw(st.one_of(
            st.builds(lambda n, r: {"table": n, "row": r}, weird_text, row_values(columns, rows)),
            st.builds(lambda r: {"table": table, "rows": [r], "replace": True}, row_values(columns, rows)),
            json_values))
    elif kind == "alter":
        url = f"/{database}/{t}/-/alter"
        body = draw(st.one_of(st.just({"add_column": {"name": "x", "type": "text"}}), json_values))
    elif kind == "drop":
        url = f"/{database}/{t}/-/drop"
        body = draw(st.one_of(st.just({"confirm": True}), json_values))
    else:
        url = f"/{database}/-/execute-write"
        body = {"sql": draw(st.one_of(st.sampled_from(
            ["delete from visits", "update persons set note = 'x'", "drop table audit_log",
             "delete from audit_log", "insert into visits(visited_on) values ('2012-01-01')"]),
            weird_text))}
    return kind, database, table, url, body


# ── invariants ───────────────────────────────────────────────────────────────

def _database_of(url: str) -> str:
    segment = unquote(url.split("?")[0]).lstrip("/").split("/", 1)[0]
    return tilde_decode(segment.split(".", 1)[0])


def _query_args(url: str) -> list[str]:
    return [unquote(p.split("=", 1)[0]) for p in url.split("?", 1)[1].split("&")] if "?" in url else []


async def _send(fuzz, role, method, url, body=None):
    cookies, headers = fuzz["credentials"][role]
    kwargs = {"headers": dict(headers), "cookies": cookies}
    if method == "POST":
        if isinstance(body, bytes):
            kwargs["content"] = body
            kwargs["headers"]["content-type"] = "application/json"
        else:
            kwargs["json"] = body
    fuzz["client"].cookies.clear()
    return await fuzz["client"].request(method, url, **kwargs)


def _check_common(response, role, kind, url):
    STATS[(role, kind, f"{response.status_code // 100}xx")] += 1
    assert response.status_code < 500, (role, url, response.status_code, response.text[:300])
    ok = 200 <= response.status_code < 300
    if role == "anonymous" and (_database_of(url) == "community" or url.startswith("/-/shequ/")):
        assert not ok, (url, response.status_code)
        for canary in CANARIES:
            assert canary not in response.text, (url, canary)
    return ok


# ── the fuzz tests ───────────────────────────────────────────────────────────

def _reads(role, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(data=st.data())
    async def test(fuzz, data):
        start = time.perf_counter()
        kind, database, table, url = data.draw(read_request(fuzz["schema"]), label="request")
        response = await _send(fuzz, role, "GET", url)
        SPENT[f"read {role}"] = SPENT.get(f"read {role}", 0) + time.perf_counter() - start
        ok = _check_common(response, role, f"{kind} {database}", url)
        if role in ("staff", "bearer") and database == "community" and ok:
            assert kind != "query", url                  # no arbitrary SQL
            if kind == "table":                           # (row pages ignore _where)
                assert "_where" not in _query_args(url), url  # not even a WHERE fragment
    return test


test_fuzz_reads_anonymous = _reads("anonymous", 400)
test_fuzz_reads_staff = _reads("staff", 250)
test_fuzz_reads_staff_bearer = _reads("bearer", 180)


def _writes(role, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(data=st.data())
    async def test(fuzz, data):
        start = time.perf_counter()
        kind, database, table, url, body = data.draw(write_request(fuzz["schema"], fuzz["seeds"]),
                                                        label="request")
        response = await _send(fuzz, role, "POST", url, body)
        SPENT[f"write {role}"] = SPENT.get(f"write {role}", 0) + time.perf_counter() - start
        ok = _check_common(response, role, f"write-{kind} {database}", url)
        assert response.headers.get("content-type", "").startswith("application/json"), (
            "not JSON", role, kind, url, response.request.url.path, response.status_code,
            response.headers.get("content-type"), response.text[:300])  # an API answers JSON
        if not ok:
            return
        detail = (role, url, response.status_code, response.text[:200])
        assert database == "community", detail                 # public.db is immutable
        assert kind in ("insert", "upsert", "update", "delete"), detail  # no schema or SQL writes
        assert table not in NEVER_WRITABLE, detail              # audit_log, search indexes
        if role in ("staff", "bearer"):
            assert kind != "delete", detail
            assert table in STAFF_WRITABLE, detail
    return test


test_fuzz_writes_anonymous = _writes("anonymous", 100)
test_fuzz_writes_staff = _writes("staff", 250)
test_fuzz_writes_staff_bearer = _writes("bearer", 150)
test_fuzz_writes_admin = _writes("admin", 120)

