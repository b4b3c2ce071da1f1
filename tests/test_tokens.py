"""API tokens: `shequ token create`, bearer requests through the real app, and every way
a token stops working (tampered, expired, account disabled or demoted)."""
from __future__ import annotations

import datetime
import sqlite3
import time

import pytest
from click.testing import CliRunner

from ingest import accounts, datadir
from ingest.app import make_datasette
from ingest.cli import main

from .conftest import login

INVALID = {"ok": False, "status": 401, "error": "令牌无效或已过期"}


def create(data_dir, *args):
    result = CliRunner().invoke(main, ["token", "create", *args, "--db-dir", str(data_dir)])
    return result


def make_token(data_dir, *args) -> str:
    result = create(data_dir, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app(data_dir):
    return make_datasette(data_dir)


def _row(data_dir, row_id=1):
    conn = sqlite3.connect(datadir.community_db(data_dir))
    try:
        return conn.execute("SELECT note, amount_yuan FROM disbursements WHERE id = ?",
                            [row_id]).fetchone()
    finally:
        conn.close()


def test_create_prints_only_the_token_and_stores_only_its_hash(data_dir):
    result = create(data_dir, "staff1")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert token.startswith("shequ_") and len(token) > 40
    conn = accounts.connect(datadir.accounts_db(data_dir))
    rows = conn.execute("SELECT token_hash, username, role, expires_at FROM tokens").fetchall()
    assert len(rows) == 1
    token_hash, username, role, expires_at = rows[0]
    assert (username, role, expires_at) == ("staff1", "staff", None)
    assert token not in token_hash and token[6:] not in token_hash


def test_role_defaults_to_the_account_and_ttl_sets_an_expiry(data_dir):
    make_token(data_dir, "admin1", "--role", "viewer", "--ttl", "3600", "--label", "月报脚本")
    conn = accounts.connect(datadir.accounts_db(data_dir))
    role, name, created, expires = conn.execute(
        "SELECT role, name, created_at, expires_at FROM tokens").fetchone()
    assert (role, name) == ("viewer", "月报脚本")
    delta = datetime.datetime.fromisoformat(expires) - datetime.datetime.fromisoformat(created)
    assert delta == datetime.timedelta(hours=1)


@pytest.mark.parametrize("args,message", [
    (["staff1", "--role", "admin"],
     "令牌的角色「admin」高于账号「staff1」的角色「staff」；令牌只能使用相同或更低的角色"),
    (["viewer1", "--role", "staff"],
     "令牌的角色「staff」高于账号「viewer1」的角色「viewer」；令牌只能使用相同或更低的角色"),
    (["无此人"], "没有用户「无此人」"),
    (["staff1", "--ttl", "0"], "--ttl 必须是正整数（秒），不能是「0」"),
    (["staff1", "--ttl", "一天"], "--ttl 必须是正整数（秒），不能是「一天」"),
])
def test_create_refuses_in_chinese(data_dir, args, message):
    result = create(data_dir, *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr
    conn = accounts.connect(datadir.accounts_db(data_dir))
    assert conn.execute("SELECT count(*) FROM tokens").fetchone()[0] == 0


def test_create_refuses_a_disabled_account(data_dir):
    conn = accounts.connect(datadir.accounts_db(data_dir))
    accounts.set_disabled(conn, "viewer1", True)
    result = create(data_dir, "viewer1")
    assert result.exit_code == 1 and "账号「viewer1」已停用，不能创建令牌" in result.stderr


async def test_token_reads_the_staff_database(data_dir, app):
    token = make_token(data_dir, "viewer1")
    response = await app.client.get("/community/persons.json", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["rows"]
    actor = (await app.client.get("/-/actor.json", headers=bearer(token))).json()["actor"]
    assert actor == {"id": "viewer1", "role": "viewer", "token": "shequ"}


async def test_staff_token_updates_and_the_audit_log_names_the_account(data_dir, app):
    token = make_token(data_dir, "staff1")
    response = await app.client.post("/community/disbursements/1/-/update", headers=bearer(token),
                                     json={"update": {"note": "令牌测试：补记备注"}})
    assert response.status_code == 200, response.text
    assert _row(data_dir)[0] == "令牌测试：补记备注"
    admin = await login(app, "admin1")
    log = (await app.client.get("/community/audit_log.json?_sort_desc=id&_shape=array",
                                cookies=admin)).json()
    entry = log[0]
    assert (entry["table_name"], entry["row_id"], entry["action"]) == ("disbursements", 1, "update")
    assert entry["actor"] == "staff1"
    assert "令牌测试：补记备注" in entry["after"]


async def test_staff_token_write_is_validated(data_dir, app):
    token = make_token(data_dir, "staff1")
    before = _row(data_dir)
    response = await app.client.post("/community/disbursements/1/-/update", headers=bearer(token),
                                     json={"update": {"amount_yuan": -5}})
    assert response.status_code == 400
    assert response.json()["errors"][0] == "「金额(元)」（amount_yuan）：金额不能为负数"
    assert _row(data_dir) == before


async def test_viewer_token_cannot_write(data_dir, app):
    for args in (["viewer1"], ["admin1", "--role", "viewer"]):
        token = make_token(data_dir, *args)
        response = await app.client.post("/community/disbursements/1/-/update",
                                         headers=bearer(token), json={"update": {"note": "x"}})
        assert response.status_code == 403
    assert _row(data_dir)[0] != "x"


async def test_token_of_lower_role_cannot_reach_admin_pages(data_dir, app):
    token = make_token(data_dir, "admin1", "--role", "staff")
    assert (await app.client.get("/-/config.json", headers=bearer(token))).status_code == 403
    sql = "/community/-/query.json?sql=select+1"
    assert (await app.client.get(sql, headers=bearer(token))).status_code == 403
    admin_token = make_token(data_dir, "admin1")
    assert (await app.client.get("/-/config.json", headers=bearer(admin_token))).status_code == 200
    assert (await app.client.get(sql, headers=bearer(admin_token))).status_code == 200


@pytest.mark.parametrize("path", ["/community/persons.json", "/", "/-/actor.json", "/-/login",
                                  "/community/persons", "/-/versions.json", "/nowhere"])
async def test_tampered_token_is_401_everywhere(data_dir, app, path):
    token = make_token(data_dir, "staff1")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = await app.client.get(path, headers=bearer(tampered))
    assert response.status_code == 401
    assert response.json() == INVALID


@pytest.mark.parametrize("value", ["shequ_unknown", "dstok_whatever", "garbage", ""])
async def test_any_unrecognised_bearer_is_401(app, value):
    response = await app.client.get("/community/persons.json", headers=bearer(value))
    assert response.status_code == 401 and response.json() == INVALID


async def test_tampered_token_cannot_write(data_dir, app):
    token = make_token(data_dir, "staff1")
    response = await app.client.post("/community/disbursements/1/-/update",
                                     headers=bearer(token + "x"), json={"update": {"note": "x"}})
    assert response.status_code == 401 and response.json() == INVALID
    assert _row(data_dir)[0] != "x"


async def test_expired_token_is_401(data_dir, app):
    token = make_token(data_dir, "staff1", "--ttl", "1")
    assert (await app.client.get("/community/persons.json", headers=bearer(token))).status_code \
        in (200, 401)  # may already be past a whole-second boundary
    time.sleep(1.1)
    response = await app.client.get("/community/persons.json", headers=bearer(token))
    assert response.status_code == 401 and response.json() == INVALID


async def test_token_expired_in_the_database_is_401(data_dir, app):
    token = make_token(data_dir, "staff1", "--ttl", "86400")
    assert (await app.client.get("/community/persons.json", headers=bearer(token))).status_code == 200
    conn = accounts.connect(datadir.accounts_db(data_dir))
    conn.execute("UPDATE tokens SET expires_at = '2000-01-01T00:00:00+00:00'")
    response = await app.client.get("/community/persons.json", headers=bearer(token))
    assert response.status_code == 401 and response.json() == INVALID


async def test_token_of_a_disabled_or_deleted_account_is_401(data_dir, app):
    conn = accounts.connect(datadir.accounts_db(data_dir))
    token = make_token(data_dir, "staff1")
    assert (await app.client.get("/community/persons.json", headers=bearer(token))).status_code == 200
    accounts.set_disabled(conn, "staff1", True)
    response = await app.client.get("/community/persons.json", headers=bearer(token))
    assert response.status_code == 401 and response.json() == INVALID
    # Re-enabling does not revive it: disabling revoked the account's tokens.
    accounts.set_disabled(conn, "staff1", False)
    assert (await app.client.get("/community/persons.json", headers=bearer(token))).status_code == 401

    token = make_token(data_dir, "viewer1")
    conn.execute("DELETE FROM accounts WHERE username = 'viewer1'")
    assert (await app.client.get("/community/persons.json", headers=bearer(token))).status_code == 401


async def test_disabled_flag_alone_stops_a_token(data_dir, app):
    """Even if a token row survived (e.g. set by hand), a disabled account's token is refused."""
    conn = accounts.connect(datadir.accounts_db(data_dir))
    token = make_token(data_dir, "staff1")
    conn.execute("UPDATE accounts SET disabled = 1 WHERE username = 'staff1'")
    response = await app.client.get("/community/persons.json", headers=bearer(token))
    assert response.status_code == 401 and response.json() == INVALID


async def test_effective_role_is_the_lower_of_token_and_account(data_dir, app):
    conn = accounts.connect(datadir.accounts_db(data_dir))
    token = make_token(data_dir, "staff1")
    accounts.set_role(conn, "staff1", "viewer")
    actor = (await app.client.get("/-/actor.json", headers=bearer(token))).json()["actor"]
    assert actor["role"] == "viewer"
    response = await app.client.post("/community/disbursements/1/-/update", headers=bearer(token),
                                     json={"update": {"note": "x"}})
    assert response.status_code == 403
    # Promoting the account back does not lift the token above what it was made with.
    accounts.set_role(conn, "staff1", "admin")
    actor = (await app.client.get("/-/actor.json", headers=bearer(token))).json()["actor"]
    assert actor["role"] == "staff"


async def test_bearer_write_needs_no_browser_csrf_headers(data_dir, app):
    token = make_token(data_dir, "staff1")
    response = await app.client.post(
        "/community/disbursements/1/-/update", json={"update": {"note": "接口写入"}},
        headers={**bearer(token), "content-type": "application/json"})
    assert response.status_code == 200
    assert _row(data_dir)[0] == "接口写入"


def test_token_actor_unit(data_dir):
    conn = accounts.connect(datadir.accounts_db(data_dir))
    token = accounts.create_token(conn, "admin1", role="staff")
    assert accounts.token_actor(conn, token) == {"id": "admin1", "role": "staff", "token": "shequ"}
    assert accounts.token_actor(conn, token[:-1]) is None
    assert accounts.token_actor(conn, "not-a-token") is None
    assert accounts.bearer_token("Bearer abc") == "abc"
    assert accounts.bearer_token("bearer  abc ") == "abc"
    assert accounts.bearer_token("Basic abc") is None
    assert accounts.bearer_token(None) is None
