"""Hardened serving (plugins/security.py and friends): security headers and the
Content-Security-Policy per page kind, cookie flags, session expiry and logout, refusal of
cross-site writes, error pages without internals, and Datasette's /-/ pages by role."""
from __future__ import annotations

import base64
import datetime
import hashlib
import io
import logging
import os
import re
import shutil
import sqlite3
import time
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from datasette.plugins import pm

from ingest import accounts, datadir
from ingest.app import make_datasette

from .conftest import PASSWORD, login

CSP_DIRECTIVES = ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'self'",
                  "form-action 'self'", "object-src 'none'", "img-src 'self' data:",
                  "style-src 'self' 'unsafe-inline'"]
INLINE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
LEAKS = ("Traceback", "/root/", '.py"', ".py'", "site-packages", "File \"", "/tmp/", "/srv/")


def security():
    """plugins/security.py as Datasette loaded it (plugins_dir modules are named by file)."""
    return next(m for m in pm.get_plugins() if getattr(m, "__name__", "") == "security.py")


def csp_of(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";") if d.strip()}


def script_sources(response) -> list[str]:
    return csp_of(response)["script-src"].split()[1:]


def inline_scripts(text: str) -> list[str]:
    return [body for attrs, body in INLINE.findall(text)
            if "src=" not in attrs and body.strip()]


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def https_client(ds):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=ds.app()),
                             base_url="https://localhost")


# ── headers on every page kind ───────────────────────────────────────────────

# (role, path, kind): "ours" = our plugin pages, "datasette" = Datasette's pages with
# inline scripts hashed, "data" = JSON/CSV/static.
PAGES = [
    ("anonymous", "/", "datasette"),
    ("anonymous", "/public", "datasette"),
    ("anonymous", "/public/programs", "datasette"),
    ("anonymous", "/public/programs/1", "datasette"),
    ("anonymous", "/public/-/query?sql=select+1", "datasette"),
    ("anonymous", "/public/relief_by_category?year=2012&community=", "datasette"),
    ("anonymous", "/public/nope", "datasette"),
    ("anonymous", "/-/login", "ours"),
    ("anonymous", "/-/shequ/dashboard/public", "ours"),
    ("anonymous", "/public/programs.json", "data"),
    ("anonymous", "/community/persons.json", "data"),
    ("anonymous", "/-/static/app.css", "data"),
    ("staff", "/community", "datasette"),
    ("staff", "/community/persons?_size=5", "datasette"),
    ("staff", "/community/persons/1", "datasette"),
    ("staff", "/community/relief_by_category?year=2012", "datasette"),
    ("staff", "/community/stop_dibao", "datasette"),
    ("staff", "/-/logout", "ours"),
    ("staff", "/-/shequ/form/visit", "ours"),
    ("staff", "/-/shequ/form/election", "ours"),
    ("staff", "/-/shequ/upload", "ours"),
    ("staff", "/-/shequ/search?q=陈", "ours"),
    ("staff", "/-/shequ/dashboard/community", "ours"),
    ("staff", "/-/shequ/report", "ours"),
    ("staff", "/-/shequ/history/persons/1", "ours"),
    ("staff", "/community/persons.json", "data"),
    ("staff", "/community/persons.csv", "data"),
    ("staff", "/-/shequ/search.json?q=陈", "data"),
    ("admin", "/-/shequ/accounts", "ours"),
    ("admin", "/community/-/query?sql=select+1", "datasette"),
    ("admin", "/-/permissions", "datasette"),
]


@pytest.mark.parametrize("role,path,kind", PAGES)
async def test_security_headers_on_every_page_kind(ds, cookies, role, path, kind):
    response = await ds.client.get(path, cookies=cookies[role])
    assert response.status_code in (200, 403, 404), (path, response.status_code)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    policy = response.headers["content-security-policy"]
    for directive in CSP_DIRECTIVES:
        assert directive in policy
    sources = script_sources(response)
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert "strict-transport-security" not in response.headers  # plain http here
    if kind == "data":
        assert sources == ["'self'"]
        return
    scripts = inline_scripts(response.text)
    # Every inline block on the page is allowed by its hash, and nothing else is.
    hashes = [s for s in sources if s.startswith("'sha256-")]
    assert {sha256(body) for body in scripts} <= set(hashes)
    if "'unsafe-hashes'" not in sources:
        assert set(hashes) == {sha256(body) for body in scripts}
    if kind == "ours":
        # Our pages carry no inline script of their own: only base.html's two blocks.
        for body in scripts:
            assert body.startswith("window.datasetteVersion = ") or "details-menu" in body, body[:80]
        assert len(scripts) <= 2
        assert "'unsafe-hashes'" not in sources
        assert not re.search(r"\son(click|change|submit|load|input)=", response.text)


async def test_only_the_column_chooser_handler_is_allowed(ds, cookies):
    table = await ds.client.get("/community/persons?_size=3", cookies=cookies["staff"])
    sources = script_sources(table)
    assert 'onclick="openColumnChooser()"' in table.text
    assert "'unsafe-hashes'" in sources and sha256("openColumnChooser()") in sources
    row = await ds.client.get("/community/persons/1", cookies=cookies["staff"])
    assert "'unsafe-hashes'" not in script_sources(row)


def test_inline_scripts_allow_template_blocks_only(ds):
    allow = security().inline_scripts(ds).allows
    assert allow("window.datasetteVersion = '1.0a41';")
    assert allow('window._datasetteTableData = {"rows": [["\\u003c/script\\u003e"]]};')
    for injected in ("alert(1)", "window.datasetteVersion = '1';alert(1)//';",
                     'window._datasetteTableData = {"a": 1}; alert(1); ({"b": 2});',
                     'window._datasetteTableData = {"a": "</script>"};',
                     "window._datasetteTableData = alert(1);",
                     "DATASETTE_ALLOW_FACET = alert(1);"):
        assert not allow(injected), injected


async def test_data_in_a_cell_never_earns_a_hash(data_dir):
    """A resident whose note is a <script>: the page shows it as text (also inside the
    embedded JSON), and the policy hashes only the template blocks."""
    app = make_datasette(data_dir)
    staff = await login(app, "staff1")
    payload = "</script><script>alert('x')</script>"
    response = await app.client.post("/community/persons/1/-/update", cookies=staff,
                                     json={"update": {"note": payload}})
    assert response.status_code == 200, response.text
    for path in ("/community/persons?id=1", "/community/persons/1"):
        response = await app.client.get(path, cookies=staff)
        assert "<script>alert('x')</script>" not in response.text
        assert sha256("alert('x')") not in script_sources(response)
        for body in inline_scripts(response.text):
            assert sha256(body) in script_sources(response)


async def test_hsts_and_secure_cookie_only_over_https(ds):
    async with https_client(ds) as client:
        page = await client.get("/-/login")
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        response = await client.post("/-/login", data={"username": "viewer1",
                                                       "password": PASSWORD})
        assert response.status_code == 302
        cookie = response.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        token = response.cookies["shequ_session"]
        out = await client.post("/-/logout", cookies={"shequ_session": token})
        assert "Secure" in out.headers["set-cookie"]
    plain = await ds.client.post("/-/login", data={"username": "viewer1", "password": PASSWORD})
    assert "Secure" not in plain.headers["set-cookie"]
    assert "strict-transport-security" not in plain.headers


async def test_session_cookie_flags_and_lifetime(ds):
    response = await ds.client.post("/-/login", data={"username": "staff1", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert re.search(r"SameSite=lax", cookie, re.I)
    assert f"Max-Age={accounts.SESSION_HOURS * 3600}" in cookie
    assert response.headers["cache-control"] == "no-store"


async def test_every_cookie_gets_httponly_and_samesite(data_dir):
    """Datasette's own ds_messages cookie (set after a form save) is hardened too."""
    app = make_datasette(data_dir)
    staff = await login(app, "staff1")
    conn = sqlite3.connect(datadir.community_db(data_dir))
    pid = conn.execute("SELECT id FROM persons LIMIT 1").fetchone()[0]
    conn.close()
    response = await app.client.post("/-/shequ/form/visit", cookies=staff, data={
        "person_id": str(pid), "走访日期": "2012-11-03", "走访人": "渝蓉", "事由": "回访"})
    assert response.status_code == 302
    messages = [c for c in response.headers.get_list("set-cookie") if c.startswith("ds_messages=")]
    assert messages and all("HttpOnly" in c and re.search("SameSite=lax", c, re.I)
                            for c in messages)


@pytest.mark.parametrize("role,path,no_store", [
    ("staff", "/community/persons", True),
    ("staff", "/community/persons.json", True),
    ("staff", "/community/relief_by_category.json?year=2012", True),
    ("staff", "/-/shequ/form/visit", True),
    ("staff", "/-/shequ/dashboard/community", True),
    ("staff", "/public/programs.json", True),       # whoever is logged in: nothing shared
    ("viewer", "/", True),
    ("admin", "/-/shequ/accounts", True),
    ("staff", "/-/static/app.css", False),          # static files stay cacheable
    ("staff", "/shequ-static/shequ.css", False),
    ("anonymous", "/public/programs.json", False),
    ("anonymous", "/community/persons.json", True),  # the refusal of a private path
])
async def test_no_store_for_authenticated_responses(ds, cookies, role, path, no_store):
    response = await ds.client.get(path, cookies=cookies[role])
    cache = response.headers.get("cache-control", "")
    assert (cache == "no-store") is no_store, (path, cache)


async def test_bearer_token_responses_are_no_store(data_dir):
    conn = accounts.connect(datadir.accounts_db(data_dir))  # not built_dir: tests count tokens
    token = accounts.create_token(conn, "staff1", name="security-test", ttl=600)
    conn.close()
    app = make_datasette(data_dir)
    response = await app.client.get("/community/persons.json",
                                    headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


# ── sessions ─────────────────────────────────────────────────────────────────

def _sessions(path):
    return accounts.connect(datadir.accounts_db(path))


def _past(**delta) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return (now - datetime.timedelta(**delta)).isoformat()


async def test_session_expires_after_its_lifetime(data_dir):
    app = make_datasette(data_dir)
    cookie = await login(app, "staff1")
    assert (await app.client.get("/community/persons.json", cookies=cookie)).status_code == 200
    token_hash = hashlib.sha256(cookie["shequ_session"].encode()).hexdigest()
    conn = _sessions(data_dir)
    conn.execute("UPDATE sessions SET expires_at = ? WHERE token_hash = ?",
                 [_past(seconds=1), token_hash])
    conn.close()
    for path in ("/community/persons.json", "/-/shequ/search.json?q=陈"):
        assert (await app.client.get(path, cookies=cookie)).status_code == 403
    actor = await app.client.get("/-/actor.json", cookies=cookie)
    assert actor.json()["actor"] is None


async def test_session_ends_when_idle(data_dir):
    app = make_datasette(data_dir)
    cookie = await login(app, "staff1")
    token_hash = hashlib.sha256(cookie["shequ_session"].encode()).hexdigest()
    conn = _sessions(data_dir)
    # Used 100 minutes ago: still alive, and the use is recorded.
    conn.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?",
                 [_past(minutes=100), token_hash])
    assert (await app.client.get("/community/persons.json", cookies=cookie)).status_code == 200
    seen = conn.execute("SELECT last_seen_at FROM sessions WHERE token_hash = ?",
                        [token_hash]).fetchone()[0]
    assert seen > _past(minutes=1)
    # Unused for longer than SESSION_IDLE_MINUTES: over, and removed.
    conn.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?",
                 [_past(minutes=accounts.SESSION_IDLE_MINUTES + 1), token_hash])
    assert (await app.client.get("/community/persons.json", cookies=cookie)).status_code == 403
    assert conn.execute("SELECT count(*) FROM sessions WHERE token_hash = ?",
                        [token_hash]).fetchone()[0] == 0
    conn.close()


def test_old_accounts_db_gains_the_idle_column(tmp_path):
    path = tmp_path / "accounts.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,"
                " created_at TEXT NOT NULL, expires_at TEXT NOT NULL)")
    old.close()
    conn = accounts.connect(path)
    accounts.add_user(conn, "old1", "staff", PASSWORD)
    token = accounts.start_session(conn, "old1")
    assert accounts.session_actor(conn, token) == {"id": "old1", "role": "staff"}
    conn.close()


async def test_logout_invalidates_server_side(data_dir):
    app = make_datasette(data_dir)
    cookie = await login(app, "staff1")
    other = await login(app, "staff1")  # a second browser stays logged in
    response = await app.client.post("/-/logout", cookies=cookie)
    assert response.status_code == 302
    assert "Max-Age=0" in response.headers["set-cookie"]
    for path in ("/community/persons.json", "/-/shequ/persons.json?q=陈", "/-/shequ/form/visit"):
        assert (await app.client.get(path, cookies=cookie)).status_code in (302, 403)
    assert (await app.client.get("/community/persons.json", cookies=other)).status_code == 200


# ── cross-site writes ────────────────────────────────────────────────────────

CROSS_SITE = [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
              {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
              {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}]
SAME_ORIGIN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
async def csrf_app(built_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("csrf") / "data"
    shutil.copytree(built_dir, path)
    app = make_datasette(path)
    jar = {role: await login(app, f"{role}1") for role in ("staff", "admin")}
    return app, jar, path


def _state(path) -> dict:
    community = sqlite3.connect(datadir.community_db(path))
    acc = sqlite3.connect(datadir.accounts_db(path))
    uploads = path / "uploads"
    try:
        return {
            "visits": community.execute("SELECT count(*) FROM visits").fetchone()[0],
            "audit": community.execute("SELECT count(*) FROM audit_log").fetchone()[0],
            "sessions": acc.execute("SELECT count(*) FROM sessions").fetchone()[0],
            "failures": acc.execute("SELECT count(*) FROM login_failures").fetchone()[0],
            "accounts": acc.execute("SELECT count(*) FROM accounts").fetchone()[0],
            "uploads": sorted(os.listdir(uploads)) if uploads.is_dir() else [],
        }
    finally:
        community.close()
        acc.close()


def _person(path) -> int:
    conn = sqlite3.connect(datadir.community_db(path))
    try:
        return conn.execute("SELECT id FROM persons ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        conn.close()


def _visit_csv() -> bytes:
    return "走访日期,社区,姓名,身份证号,走访人,事由\n".encode()


def _write_requests(jar, pid):
    """(name, role, kwargs for client.post, path, expected same-origin status)."""
    return [
        ("login", None, "/-/login", {"data": {"username": "staff1", "password": PASSWORD}}, 302),
        ("logout", "staff", "/-/logout", {}, 302),
        ("form", "staff", "/-/shequ/form/visit",
         {"data": {"person_id": str(pid), "走访日期": "2012-11-03", "走访人": "渝蓉",
                   "事由": "跨站测试"}}, 302),
        ("insert", "staff", "/community/visits/-/insert",
         {"json": {"row": {"visited_on": "2012-06-01", "community_id": 1, "person_id": pid,
                           "purpose": "跨站测试"}}}, 201),
        ("accounts", "admin", "/-/shequ/accounts",
         {"data": {"action": "create", "username": "evil1", "role": "admin",
                   "password": "evil-password-1"}}, 302),
        ("upload", "staff", "/-/shequ/upload",
         {"files": [("files", ("visits.csv", io.BytesIO(_visit_csv()), "text/csv"))]}, 200),
    ]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: "+".join(f"{k}={v}" for k, v in h.items()))
@pytest.mark.parametrize("name", ["login", "logout", "form", "insert", "accounts", "upload"])
async def test_cross_site_writes_are_refused(csrf_app, name, headers):
    app, jar, path = csrf_app
    requests = {r[0]: r for r in _write_requests(jar, _person(path))}
    _, role, url, kwargs, _ = requests[name]
    cookies = dict(jar[role]) if role else {}
    before = _state(path)
    response = await app.client.post(url, headers=headers, cookies=cookies, **kwargs)
    assert response.status_code == 403, response.text[:200]
    assert "shequ_session" not in response.cookies
    assert _state(path) == before
    if role:  # the session survived (logout did not happen)
        check = await app.client.get("/-/actor.json", cookies=cookies)
        assert check.json()["actor"]["id"] == f"{role}1"


@pytest.mark.parametrize("name", ["form", "insert", "accounts", "upload", "login", "logout"])
async def test_same_origin_writes_work(csrf_app, name):
    app, jar, path = csrf_app
    requests = {r[0]: r for r in _write_requests(jar, _person(path))}
    _, role, url, kwargs, expected = requests[name]
    cookies = await login(app, f"{role}1") if role else {}  # logout ends its own session
    response = await app.client.post(url, headers=SAME_ORIGIN, cookies=cookies, **kwargs)
    assert response.status_code == expected, response.text[:300]


async def test_bearer_api_calls_are_not_cross_site_checked(csrf_app):
    app, _, path = csrf_app
    conn = accounts.connect(datadir.accounts_db(path))
    token = accounts.create_token(conn, "staff1", name="csrf-test", ttl=600)
    conn.close()
    before = _state(path)["visits"]
    response = await app.client.post(
        "/community/visits/-/insert", headers={"Authorization": f"Bearer {token}",
                                               "Origin": "https://evil.example"},
        json={"row": {"visited_on": "2012-06-02", "community_id": 1, "person_id": _person(path),
                      "purpose": "令牌测试"}})
    assert response.status_code == 201, response.text
    assert _state(path)["visits"] == before + 1
    # A bearer header does not excuse a cookie-carrying cross-site request.
    staff = await login(app, "staff1")
    response = await app.client.post(
        "/community/visits/-/insert", cookies=staff,
        headers={"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "cross-site"},
        json={"row": {"visited_on": "2012-06-02", "community_id": 1, "person_id": 1}})
    assert response.status_code == 403


# ── error pages ──────────────────────────────────────────────────────────────

PROVOCATIONS = [
    ("anonymous", "/public/programs.json?_next=~~~not-a-token"),
    ("anonymous", "/public/programs?_next=%FF%FE"),
    ("anonymous", "/public/programs.json?_next=99999999999999999999999999"),
    ("anonymous", "/public/programs.json?_sort=no_such_column"),
    ("anonymous", "/public/programs?_sort_desc=%27%3B--"),
    ("anonymous", "/public/programs.json?_sort=name&_sort_desc=name"),
    ("anonymous", "/public/programs.json?_size=-1"),
    ("anonymous", "/public/programs.json?_size=abc"),
    ("anonymous", "/public/programs.json?_size=99999999999999999999"),
    ("anonymous", "/public/programs.json?_timelimit=abc"),
    ("anonymous", "/public/programs.json?_facet=nope"),
    ("anonymous", "/public/programs.json?_through=%7Bbad"),
    ("anonymous", "/public/programs.json?_through=%7B%22table%22%3A%22%22%2C%22column%22%3A%22%22%2C%22value%22%3A%22%22%7D"),
    ("anonymous", "/public/programs.json?_through=NaN"),
    ("anonymous", "/public/programs.json?_facet_array=name"),
    ("anonymous", "/public/programs.json?_facet=%7B%7D"),
    ("anonymous", "/public/programs.json?_extra=x%00"),
    ("anonymous", "/public/programs.json?_timelimit=-5"),
    ("anonymous", "/public/committee_members.json?_col=education&_sort=community"),
    ("anonymous", "/public/committee_members.json?_nocol=community&_sort_desc=community"),
    ("anonymous", "/public/programs.json?_extra=nope"),
    ("anonymous", "/public/programs.json?name__nope=1"),
    ("anonymous", "/public/-/query.json?sql=select+*+from+nowhere"),
    ("anonymous", "/public/-/query?sql=selec+garbage"),
    ("anonymous", "/public/-/query.json?sql=select+load_extension(%27x%27)"),
    ("anonymous", "/public/-/query.json?sql=attach+database+%27/etc/passwd%27+as+x"),
    ("anonymous", "/public/no_such_table.json"),
    ("anonymous", "/public/no_such_table"),
    ("anonymous", "/public/programs/999999999999999999999.json"),
    ("anonymous", "/nodb/x.json"),
    ("anonymous", "/public/relief_by_category.json?year=%00"),
    ("staff", "/community/persons.json?_next=zzzz"),
    ("staff", "/community/persons?_next=-1"),
    ("staff", "/community/persons.json?_sort=nope"),
    ("staff", "/community/persons.json?_size=-1"),
    ("staff", "/community/persons.json?_timelimit=abc"),
    ("staff", "/community/persons.json?_where=1=1"),
    ("staff", "/community/persons.json?id__gt=abc&_sort=id"),
    ("staff", "/community/persons.json?_next=1,2,3,4"),
    ("staff", "/community/no_such_table.json"),
    ("staff", "/community/persons/abc.json"),
    ("staff", "/-/shequ/search.json?q=%22%22%22*&table=persons&page=99999999999"),
    ("staff", "/-/shequ/search?q=AND+OR+NOT&page=-5"),
    ("staff", "/-/shequ/history/nope/1"),
    ("staff", "/-/shequ/form/nope"),
    ("staff", "/-/shequ/form/person?id=99999999"),
    ("staff", "/-/shequ/dashboard/nope"),
    ("staff", "/-/shequ/report?year=abc"),
    ("admin", "/community/-/query.json?sql=select+*+from+nowhere"),
    ("admin", "/community/-/query?sql=select+from+where"),
    ("admin", "/community/-/query.json?sql=select+zeroblob(1000000000)"),
    ("admin", "/community/-/query.csv?sql=select+nope"),
    ("admin", "/community/-/query.json?sql=with+recursive+c(x)+as+(select+1+union+all+select+x%2B1+from+c)+select+count(*)+from+c"),
]


def _no_internals(response):
    for leak in LEAKS:
        assert leak not in response.text, (str(response.url), leak, response.text[:500])


@pytest.mark.parametrize("role,path", PROVOCATIONS)
async def test_provoked_errors_show_no_internals(ds, cookies, role, path):
    response = await ds.client.get(path, cookies=cookies[role])
    _no_internals(response)
    assert response.status_code < 500 or "错误编号" in response.text, (path, response.status_code)


@pytest.mark.parametrize("sql", ["select zeroblob(1000000000)", "select randomblob(300000)",
                                 "select printf('%.*c', 100000000, 'x')"])
async def test_giant_values_are_refused_quickly(ds, sql):
    """public.db takes SQL from anyone: one huge value must not hold a worker (SQLite's
    length limit, plugins/security.py MAX_VALUE_BYTES)."""
    start = time.perf_counter()
    response = await ds.client.get("/public/-/query.json?" + urlencode({"sql": sql}))
    assert time.perf_counter() - start < 2
    assert len(response.content) < 10_000
    assert response.status_code == 400 and "too big" in response.json()["error"] \
        or response.json()["rows"] == [{sql[len("select "):]: None}]  # printf: NULL


@pytest.mark.parametrize("path,body", [
    ("/community/visits/-/insert", b'{"row": {"purpose": "\xff\xfe"}}'),  # not UTF-8
    ("/community/person_categories/1/-/update", b'{"update": {"category": "x"}}'),  # pk count
    ("/community/persons/1/-/update", b"[1]"),
])
async def test_write_api_refusals_are_json(ds, cookies, path, body):
    response = await ds.client.post(path, content=body, cookies=cookies["staff"],
                                    headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["ok"] is False
    _no_internals(response)


def _failing(*args, **kwargs):
    raise RuntimeError('boom in "/root/secret/shequ/ingest/search.py", line 1')


@pytest.mark.parametrize("path", ["/-/shequ/search?q=陈", "/-/shequ/search.json?q=陈"])
async def test_unexpected_exception_is_a_chinese_500(ds, cookies, monkeypatch, caplog, path):
    from ingest import search
    monkeypatch.setattr(search, "search", _failing)
    with caplog.at_level(logging.ERROR, logger="shequ.security"):
        response = await ds.client.get(path, cookies=cookies["staff"])
    assert response.status_code == 500
    _no_internals(response)
    assert "boom" not in response.text
    is_json = path.split("?")[0].endswith(".json")
    text = response.json()["error"] if is_json else response.text
    match = re.search(r"服务器出错了，请稍后再试或联系管理员。错误编号：([0-9a-f]{8})", text)
    assert match
    if is_json:
        assert response.json()["error_id"] == match.group(1)
    else:
        assert 'lang="zh-CN"' in response.text
    # The traceback is in the server log, under the same id.
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info and "boom" in str(logged[0].exc_info[1])


async def test_exception_outside_datasette_is_a_chinese_500(ds, monkeypatch, caplog):
    """An exception escaping another ASGI wrapper (here the URL guard's token check)."""
    monkeypatch.setattr(accounts, "actor_for_bearer", _failing)
    with caplog.at_level(logging.ERROR, logger="shequ.security"):
        response = await ds.client.get("/public/programs.json",
                                       headers={"Authorization": "Bearer shequ_x"})
    assert response.status_code == 500
    _no_internals(response)
    assert "错误编号" in response.json()["error"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert any(r.exc_info for r in caplog.records)


# ── /-/ pages by role ────────────────────────────────────────────────────────

# Every /-/ route of Datasette 1.0a41 (app.py's route table), one URL each, and whether
# non-admins may have it. Public ones show only what the visitor may see anyway:
#   /-/ and /-/.json: the home page (databases filtered by permission)
#   /-/static/…: Datasette's CSS and JS;   /-/actor.json: who am I (for the page's JS)
#   /-/jump: the jump menu (filtered by permission);  /-/queries, /-/schema: the stored
#   queries and schemas the visitor may view (anonymous: public.db only)
#   /-/auth-token: Datasette's root login, which answers 403 without the --root token
#   /-/login, /-/logout: ours (Datasette's /-/logout is shadowed)
# Admin-only (plugins/guard.py ADMIN_ONLY, plus /-/databases and /-/api in
# plugins/security.py): configuration, versions, plugins, settings, threads, tasks, the
# server's file paths (/-/databases), the permission debuggers, messages, patterns,
# autocomplete debug, token creation and the API explorer.
DASH_ROUTES = {
    r"/(\.(?P<format>json))?$": None,
    r"/-/(\.(?P<format>json))?$": ("public", ["/-/", "/-/.json"]),
    r"/-$": ("public", ["/-"]),
    r"/-/static/(?P<path>.*)$": ("public", ["/-/static/app.css"]),
    r"/-/versions(\.(?P<format>json))?$": ("admin", ["/-/versions", "/-/versions.json"]),
    r"/-/plugins(\.(?P<format>json))?$": ("admin", ["/-/plugins", "/-/plugins.json"]),
    r"/-/settings(\.(?P<format>json))?$": ("admin", ["/-/settings", "/-/settings.json"]),
    r"/-/config(\.(?P<format>json))?$": ("admin", ["/-/config", "/-/config.json"]),
    r"/-/threads(\.(?P<format>json))?$": ("admin", ["/-/threads", "/-/threads.json"]),
    r"/-/tasks(\.(?P<format>json))?$": ("admin", ["/-/tasks", "/-/tasks.json"]),
    r"/-/databases(\.(?P<format>json))?$": ("admin", ["/-/databases", "/-/databases.json"]),
    r"/-/actor(\.(?P<format>json))?$": ("public", ["/-/actor.json"]),
    r"/-/actions(\.(?P<format>json))?$": ("admin", ["/-/actions", "/-/actions.json"]),
    r"/-/auth-token$": ("public", ["/-/auth-token"]),
    r"/-/create-token$": ("admin", ["/-/create-token"]),
    r"/-/api$": ("admin", ["/-/api"]),
    r"/-/jump(\.(?P<format>json))?$": ("public", ["/-/jump", "/-/jump.json?q=救助"]),
    r"/-/queries(\.(?P<format>json))?$": ("public", ["/-/queries", "/-/queries.json"]),
    r"/-/schema(\.(?P<format>json|md))?$": ("public", ["/-/schema", "/-/schema.json",
                                                       "/-/schema.md"]),
    r"/-/logout$": ("public", ["/-/logout"]),
    r"/-/permissions$": ("admin", ["/-/permissions"]),
    r"/-/allowed(\.(?P<format>json))?$": ("admin", ["/-/allowed", "/-/allowed.json"]),
    r"/-/rules(\.(?P<format>json))?$": ("admin", ["/-/rules", "/-/rules.json"]),
    r"/-/check(\.(?P<format>json))?$": ("admin", ["/-/check", "/-/check.json"]),
    r"/-/messages$": ("admin", ["/-/messages"]),
    r"/-/allow-debug$": ("admin", ["/-/allow-debug"]),
    r"/-/patterns$": ("admin", ["/-/patterns"]),
    r"/-/debug/autocomplete$": ("admin", ["/-/debug/autocomplete"]),
}
CANARIES = ["陈宸", "500199", "跃华小区", "\\u9648\\u5bb8", "community.db", "accounts.db"]


def _datasette_dash_routes(ds) -> set[str]:
    """Datasette's own routes (plugin routes are anchored with ^) under /-."""
    patterns = [regex.pattern for regex, _ in ds._routes()]
    return {p for p in patterns if p.startswith("/-") or p.startswith("/(\\.")}


def test_every_dash_route_is_classified(ds):
    """A Datasette upgrade that adds a /-/ route fails here until it is classified."""
    found = _datasette_dash_routes(ds) - {"/favicon.ico"}
    assert found - set(DASH_ROUTES) == set()


ADMIN_URLS = [u for kind, urls in filter(None, DASH_ROUTES.values()) if kind == "admin" for u in urls]
PUBLIC_URLS = [u for kind, urls in filter(None, DASH_ROUTES.values()) if kind == "public" for u in urls]


@pytest.mark.parametrize("role", ["anonymous", "viewer", "staff"])
@pytest.mark.parametrize("path", ADMIN_URLS)
async def test_debug_pages_are_closed_to_non_admins(ds, cookies, role, path):
    response = await ds.client.get(path, cookies=cookies[role])
    assert response.status_code in (302, 403), (path, response.status_code)
    if response.status_code == 302:
        assert role == "anonymous" and response.headers["location"].startswith("/-/login?next=")
    for canary in CANARIES + ["community"]:
        assert canary not in response.text


# The permission debuggers, threads, tasks and actions need Datasette's root actor, so
# they answer 403 even to our admins; these are the ones admins use.
@pytest.mark.parametrize("path", ["/-/versions.json", "/-/plugins.json", "/-/settings.json",
                                  "/-/config.json", "/-/databases.json", "/-/api",
                                  "/-/messages", "/-/allow-debug", "/-/patterns"])
async def test_debug_pages_open_for_admins(ds, cookies, path):
    response = await ds.client.get(path, cookies=cookies["admin"])
    assert response.status_code == 200, (path, response.status_code)


@pytest.mark.parametrize("path", PUBLIC_URLS)
async def test_public_dash_pages_show_anonymous_nothing_private(ds, path):
    response = await ds.client.get(path)
    assert response.status_code in (200, 301, 302, 403), (path, response.status_code)
    for canary in CANARIES + ["/community"]:
        assert canary not in response.text, (path, canary)
    _no_internals(response)


async def test_auth_token_never_logs_anyone_in(ds):
    response = await ds.client.get("/-/auth-token?token=guess")
    assert response.status_code == 403
    assert "ds_actor" not in response.cookies


def test_serve_honours_forwarded_proto_from_a_local_proxy():
    """`shequ serve` runs uvicorn with its defaults: proxy headers on, trusted from
    127.0.0.1 (FORWARDED_ALLOW_IPS widens it), so HTTPS behind nginx on the same host
    reaches us as scope scheme "https" (HSTS and Secure cookies)."""
    import inspect

    import uvicorn

    from ingest import cli
    source = inspect.getsource(cli.serve.callback)
    assert "proxy_headers=False" not in source
    config = uvicorn.Config(app=None)
    assert config.proxy_headers is True
    assert "127.0.0.1" in str(config.forwarded_allow_ips)


# ── the policy in a real browser ─────────────────────────────────────────────

CHROMIUM = "/usr/bin/chromium"
VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${(e.sample || "").slice(0, 60)}`);
});
"""
BROWSER_PAGES = {
    None: ["/", "/public", "/public/programs", "/public/programs/1",
           "/public/-/query?sql=select+name+from+programs", "/public/relief_by_category?year=2012&community=",
           "/public/nope", "/-/login", "/-/shequ/dashboard/public"],
    "staff1": ["/community", "/community/persons?_size=5", "/community/persons/1",
               "/community/relief_by_category?year=2012", "/community/stop_dibao",
               "/-/shequ/form/visit", "/-/shequ/form/election", "/-/shequ/upload",
               "/-/shequ/search?q=陈", "/-/shequ/dashboard/community", "/-/shequ/report",
               "/-/shequ/history/persons/1", "/-/logout"],
    "admin1": ["/-/shequ/accounts", "/community/-/query?sql=select+1", "/-/api",
               "/-/allow-debug", "/community/visits?_size=3"],
}


@pytest.fixture(scope="module")
def csp_server(built_dir, tmp_path_factory):
    from .test_browser import served_copy
    for base, _ in served_copy(built_dir, tmp_path_factory, "csp_browser"):
        yield base


@pytest.fixture(scope="module")
def csp_browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--headless", "--disable-gpu",
                                          "--disable-background-networking", "--no-first-run"])
        yield browser
        browser.close()


def _browse(browser, base, username, paths):
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(VIOLATIONS)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    errors = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    if username:
        from .test_browser import login as browser_login
        browser_login(page, base, username)
    seen = {}
    for path in paths:
        page.goto(base + path)
        page.wait_for_load_state("load")
        page.click("details.nav-menu summary")  # the menu, and a click outside closing it
        page.click("h1")                          # (_close_open_menus.html, inline)
        page.wait_for_timeout(100)
        seen[path] = page.evaluate("window.__csp")
    context.close()
    return seen, console, errors


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian chromium not installed (CI installs it)")
def test_no_page_violates_its_policy_in_chromium(csp_server, csp_browser):
    for username, paths in BROWSER_PAGES.items():
        seen, console, errors = _browse(csp_browser, csp_server, username, paths)
        assert {p: v for p, v in seen.items() if v} == {}, username
        assert console == [] and errors == [], username


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian chromium not installed (CI installs it)")
def test_browser_check_notices_a_blocked_script(csp_server, csp_browser):
    """The control: the same page with the hashes taken out of its policy is reported."""
    context = csp_browser.new_context()
    context.add_init_script(VIOLATIONS)
    page = context.new_page()

    def strip_hashes(route):
        response = route.fetch()
        headers = dict(response.headers)
        headers["content-security-policy"] = re.sub(r"'sha256-[^']+'|'unsafe-hashes'", "",
                                                    headers["content-security-policy"])
        route.fulfill(response=response, headers=headers)

    page.route(f"{csp_server}/public/programs", strip_hashes)
    page.goto(f"{csp_server}/public/programs")
    page.wait_for_load_state("load")
    assert any(v.startswith("script-src") for v in page.evaluate("window.__csp"))
    context.close()


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian chromium not installed (CI installs it)")
def test_dashboard_charts_draw_under_the_policy(csp_server, csp_browser):
    context = csp_browser.new_context()
    context.add_init_script(VIOLATIONS)
    page = context.new_page()
    page.goto(f"{csp_server}/-/shequ/dashboard/public")
    page.locator("canvas").first.wait_for(timeout=10000)
    assert page.evaluate("window.__csp") == []
    context.close()
