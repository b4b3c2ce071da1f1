"""Staff login and logout through the real routes."""
from __future__ import annotations

from ingest import accounts, datadir

from .conftest import PASSWORD, login


async def test_login_form_is_chinese(ds):
    response = await ds.client.get("/-/login")
    assert response.status_code == 200
    for text in ("工作人员登录", 'name="username"', 'name="password"', "用户名", "密码"):
        assert text in response.text


async def test_wrong_password_is_refused_in_chinese(ds):
    response = await ds.client.post("/-/login", data={"username": "staff1", "password": "nope"})
    assert response.status_code == 401
    assert "用户名或密码错误，或账号已停用" in response.text
    assert "shequ_session" not in response.cookies


async def test_login_sets_httponly_cookie_and_redirects_to_next(ds):
    response = await ds.client.post("/-/login", data={
        "username": "viewer1", "password": PASSWORD, "next": "/community/persons"})
    assert response.status_code == 302
    assert response.headers["location"] == "/community/persons"
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie


async def test_next_cannot_point_off_site(ds):
    for evil in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        response = await ds.client.post("/-/login", data={
            "username": "viewer1", "password": PASSWORD, "next": evil})
        assert response.headers["location"] == "/"


async def test_actor_carries_role(ds, cookies):
    response = await ds.client.get("/-/actor.json", cookies=cookies["staff"])
    assert response.json()["actor"] == {"id": "staff1", "role": "staff"}


async def test_logout_ends_the_session(ds):
    cookie = await login(ds, "staff1")
    assert (await ds.client.get("/community/persons.json", cookies=cookie)).status_code == 200
    page = await ds.client.get("/-/logout", cookies=cookie)
    assert "退出登录" in page.text
    response = await ds.client.post("/-/logout", cookies=cookie)
    assert response.status_code == 302
    # The old cookie value is dead server-side, not just deleted in the browser.
    assert (await ds.client.get("/community/persons.json", cookies=cookie)).status_code == 403


async def test_password_change_ends_sessions(ds, built_dir):
    conn = accounts.connect(datadir.accounts_db(built_dir))
    accounts.add_user(conn, "temp1", "viewer", PASSWORD)
    cookie = await login(ds, "temp1")
    accounts.set_password(conn, "temp1", "another-password-9")
    assert (await ds.client.get("/community.json", cookies=cookie)).status_code == 403
    await login(ds, "temp1", "another-password-9")


def test_passwords_are_hashed_with_scrypt(built_dir):
    conn = accounts.connect(datadir.accounts_db(built_dir))
    stored = conn.execute("SELECT password_hash FROM accounts WHERE username = 'admin1'").fetchone()[0]
    assert stored.startswith("scrypt$16384$8$1$") and PASSWORD not in stored
    assert accounts.verify_password(PASSWORD, stored)
    assert not accounts.verify_password(PASSWORD + "x", stored)
