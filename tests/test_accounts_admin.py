"""The admin account page (/-/shequ/accounts) and failed-login limits, through the real
routes on a private data directory (so the session-wide `ds` keeps its accounts)."""
from __future__ import annotations

import pytest

from ingest import accounts, datadir
from ingest.app import make_datasette

from .conftest import PASSWORD, login

PAGE = "/-/shequ/accounts"
LOCKED = "登录失败次数过多，请 15 分钟后再试"
WRONG = "用户名或密码错误，或账号已停用"


@pytest.fixture
def app(data_dir):
    return make_datasette(data_dir)


@pytest.fixture
def conn(data_dir):
    c = accounts.connect(datadir.accounts_db(data_dir))
    yield c
    c.close()


@pytest.fixture
async def admin(app):
    return await login(app, "admin1")


async def act(app, cookie, **form):
    """POST an action; returns the redirect and the page it leads to (with its message)."""
    response = await app.client.post(PAGE, data=form, cookies=cookie)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == PAGE
    page = await app.client.get(PAGE, cookies={**cookie, **dict(response.cookies)})
    assert page.status_code == 200
    return page.text


async def try_login(app, username, password=PASSWORD):
    return await app.client.post("/-/login", data={"username": username, "password": password})


# ── the page ──────────────────────────────────────────────────────────────────


async def test_admin_sees_every_account(app, admin):
    page = await app.client.get(PAGE, cookies=admin)
    assert page.status_code == 200
    for text in ("账号管理", "用户名", "角色", "状态", "创建时间", "admin1", "staff1", "viewer1",
                 "工作人员（staff）", "只读查看（viewer）", "停用", "重置密码", "修改角色",
                 "新建账号", 'method="post"'):
        assert text in page.text, text
    assert 'method="get"' not in page.text.lower()


async def test_menu_link_only_for_admins(app, admin):
    assert f'href="{PAGE}"' in (await app.client.get("/", cookies=admin)).text
    staff = await login(app, "staff1")
    assert f'href="{PAGE}"' not in (await app.client.get("/", cookies=staff)).text
    assert f'href="{PAGE}"' not in (await app.client.get("/")).text


@pytest.mark.parametrize("role", ["staff", "viewer"])
async def test_non_admins_get_403(app, role):
    cookie = await login(app, f"{role}1")
    assert (await app.client.get(PAGE, cookies=cookie)).status_code == 403
    response = await app.client.post(PAGE, cookies=cookie, data={
        "action": "set_role", "username": f"{role}1", "role": "admin"})
    assert response.status_code == 403
    actor = (await app.client.get("/-/actor.json", cookies=cookie)).json()["actor"]
    assert actor["role"] == role


async def test_anonymous_is_sent_to_login_and_cannot_post(app):
    response = await app.client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["location"] == "/-/login?next=/-/shequ/accounts"
    response = await app.client.post(PAGE, data={"action": "create", "username": "x",
                                                 "role": "admin", "password": PASSWORD})
    assert response.status_code == 403


async def test_staff_token_gets_403_admin_token_gets_the_page(app, conn):
    staff = accounts.create_token(conn, "staff1")
    admin = accounts.create_token(conn, "admin1")
    auth = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
    assert (await app.client.get(PAGE, headers=auth(staff))).status_code == 403
    assert (await app.client.get(PAGE, headers=auth(admin))).status_code == 200


# ── actions ───────────────────────────────────────────────────────────────────


async def test_create_an_account_then_log_in_with_it(app, admin):
    page = await act(app, admin, action="create", username="周新", role="staff",
                     password="new-password-1")
    assert "已创建账号「周新」（工作人员（staff））" in page
    cookie = await login(app, "周新", "new-password-1")
    actor = (await app.client.get("/-/actor.json", cookies=cookie)).json()["actor"]
    assert actor == {"id": "周新", "role": "staff"}


@pytest.mark.parametrize("form,message", [
    ({"username": "staff1", "role": "staff", "password": "long-enough-1"}, "用户「staff1」已存在"),
    ({"username": "新人", "role": "staff", "password": "short"}, "密码至少需要 8 个字符"),
    ({"username": " ", "role": "staff", "password": "long-enough-1"}, "用户名不能为空"),
    ({"username": "新人", "role": "boss", "password": "long-enough-1"},
     "未知的角色「boss」（可选：admin、staff、viewer）"),
])
async def test_create_refusals_are_reported(app, admin, conn, form, message):
    page = await act(app, admin, action="create", **form)
    assert f"操作未完成：{message}" in page
    assert accounts.count_users(conn) == 3


async def test_disable_cuts_off_sessions_and_login_then_enable_restores(app, admin, conn):
    staff = await login(app, "staff1")
    assert (await app.client.get("/community/persons.json", cookies=staff)).status_code == 200
    page = await act(app, admin, action="disable", username="staff1")
    assert "已停用账号「staff1」，其登录会话和 API 令牌已立即失效" in page
    assert "已停用" in page
    assert (await app.client.get("/community/persons.json", cookies=staff)).status_code == 403
    assert conn.execute("SELECT count(*) FROM sessions WHERE username = 'staff1'").fetchone()[0] == 0
    response = await try_login(app, "staff1")
    assert response.status_code == 401 and WRONG in response.text

    page = await act(app, admin, action="enable", username="staff1")
    assert "已启用账号「staff1」" in page
    staff = await login(app, "staff1")
    assert (await app.client.get("/community/persons.json", cookies=staff)).status_code == 200


async def test_disabled_account_session_is_refused_even_without_the_page(app, conn):
    """session_actor checks `disabled` on every request, whoever set it."""
    viewer = await login(app, "viewer1")
    conn.execute("UPDATE accounts SET disabled = 1 WHERE username = 'viewer1'")
    assert (await app.client.get("/community/persons.json", cookies=viewer)).status_code == 403


async def test_reset_password(app, admin):
    staff = await login(app, "staff1")
    page = await act(app, admin, action="reset_password", username="staff1",
                     password="brand-new-pass-7")
    assert "已重置「staff1」的密码，其已登录的会话已失效" in page
    assert (await app.client.get("/community/persons.json", cookies=staff)).status_code == 403
    assert (await try_login(app, "staff1")).status_code == 401
    await login(app, "staff1", "brand-new-pass-7")
    page = await act(app, admin, action="reset_password", username="staff1", password="short")
    assert "操作未完成：密码至少需要 8 个字符" in page


async def test_change_role_takes_effect_on_the_next_request(app, admin):
    viewer = await login(app, "viewer1")
    assert (await app.client.get("/-/actor.json", cookies=viewer)).json()["actor"]["role"] == "viewer"
    page = await act(app, admin, action="set_role", username="viewer1", role="staff")
    assert "已将「viewer1」的角色改为工作人员（staff）" in page
    actor = (await app.client.get("/-/actor.json", cookies=viewer)).json()["actor"]
    assert actor == {"id": "viewer1", "role": "staff"}
    response = await app.client.post("/community/disbursements/1/-/update", cookies=viewer,
                                     json={"update": {"note": "升级后补记"}})
    assert response.status_code == 200, response.text


async def test_admin_cannot_disable_or_demote_themselves(app, admin, conn):
    page = await act(app, admin, action="disable", username="admin1")
    assert "操作未完成：不能停用自己的账号（系统中须始终保留可用的管理员）" in page
    for role in ("staff", "viewer"):
        page = await act(app, admin, action="set_role", username="admin1", role=role)
        assert "操作未完成：不能降低自己的角色（系统中须始终保留可用的管理员）" in page
    assert accounts.get_user(conn, "admin1") == {**accounts.get_user(conn, "admin1"),
                                                  "role": "admin", "disabled": False}
    assert (await app.client.get(PAGE, cookies=admin)).status_code == 200


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(conn):
    with pytest.raises(accounts.AccountError, match="「admin1」是唯一启用的管理员，不能停用"):
        accounts.set_disabled(conn, "admin1", True)
    with pytest.raises(accounts.AccountError, match="「admin1」是唯一启用的管理员，不能降低角色"):
        accounts.set_role(conn, "admin1", "staff")
    accounts.set_role(conn, "staff1", "admin")
    accounts.set_disabled(conn, "admin1", True)
    assert accounts.get_user(conn, "admin1")["disabled"] is True


async def test_unknown_user_and_action_are_reported(app, admin):
    page = await act(app, admin, action="disable", username="无此人")
    assert "操作未完成：没有用户「无此人」" in page
    page = await act(app, admin, action="explode", username="staff1")
    assert "操作未完成：未知的操作「explode」" in page


async def test_revoke_tokens(app, admin, conn):
    token = accounts.create_token(conn, "staff1")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await app.client.get("/community/persons.json", headers=headers)).status_code == 200
    page = await act(app, admin, action="revoke_tokens", username="staff1")
    assert "已撤销「staff1」的 1 个 API 令牌" in page
    assert (await app.client.get("/community/persons.json", headers=headers)).status_code == 401


# ── failed-login limits ───────────────────────────────────────────────────────


async def test_five_failures_lock_the_account_even_for_the_right_password(app, conn):
    assert accounts.MAX_FAILURES_PER_ACCOUNT == 5 and accounts.FAILURE_WINDOW_MINUTES == 15
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        response = await try_login(app, "staff1", "wrong-password")
        assert response.status_code == 401 and WRONG in response.text
    response = await try_login(app, "staff1")
    assert response.status_code == 429
    assert LOCKED in response.text and "工作人员登录" in response.text
    assert "shequ_session" not in response.cookies
    # Other accounts from the same address are unaffected.
    await login(app, "viewer1")
    # Once the failures are gone (window passed, or an admin lifts the lock) it works.
    accounts.clear_failures(conn, username="staff1")
    await login(app, "staff1")


async def test_failures_older_than_the_window_do_not_count(app, conn):
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        conn.execute("INSERT INTO login_failures (username, address, at) VALUES (?, ?, ?)",
                     ["staff1", "127.0.0.1", "2000-01-01T00:00:00+00:00"])
    await login(app, "staff1")


async def test_success_clears_the_accounts_failures(app, conn):
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT - 1):
        assert (await try_login(app, "staff1", "wrong-password")).status_code == 401
    await login(app, "staff1")
    assert conn.execute("SELECT count(*) FROM login_failures WHERE username = 'staff1'"
                        ).fetchone()[0] == 0
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT - 1):
        assert (await try_login(app, "staff1", "wrong-password")).status_code == 401
    await login(app, "staff1")


async def test_admin_can_lift_a_lock(app, admin):
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        await try_login(app, "staff1", "wrong-password")
    assert (await try_login(app, "staff1")).status_code == 429
    page = await act(app, admin, action="unlock", username="staff1")
    assert "已解除「staff1」的登录锁定" in page
    await login(app, "staff1")


async def test_twenty_failures_from_one_address_lock_out_every_username(app, conn):
    assert accounts.MAX_FAILURES_PER_ADDRESS == 20
    for i in range(accounts.MAX_FAILURES_PER_ADDRESS):
        response = await try_login(app, f"猜测{i % 7}", "wrong-password")
        assert response.status_code == 401
    rows = conn.execute("SELECT DISTINCT address FROM login_failures").fetchall()
    assert rows == [("127.0.0.1",)]
    response = await try_login(app, "viewer1")
    assert response.status_code == 429 and LOCKED in response.text
    response = await try_login(app, "从未出现过的名字", "wrong-password")
    assert response.status_code == 429 and LOCKED in response.text


async def test_forwarded_for_is_not_trusted(app, conn):
    for i in range(accounts.MAX_FAILURES_PER_ADDRESS):
        await app.client.post("/-/login", data={"username": f"u{i}", "password": "nope-nope"},
                              headers={"X-Forwarded-For": f"10.0.0.{i}"})
    assert (await try_login(app, "viewer1")).status_code == 429
