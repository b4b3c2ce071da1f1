"""Staff login: session cookie → actor, /-/login and /-/logout.

Thin hooks over ingest.accounts; sessions live server-side in accounts.db so that a
disabled account or a logout takes effect on the next request.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from datasette import hookimpl
from datasette.utils.asgi import Response

from ingest import accounts, datadir

COOKIE = "shequ_session"


def _accounts(datasette):
    return accounts.connect(datadir.accounts_db(datasette.plugin_config("shequ")["db_dir"]))


def _safe_next(value: str | None) -> str:
    # Only same-site paths: "/x" but never "//evil" or "http://evil".
    if value and value.startswith("/") and not value.startswith("//") and not urlsplit(value).netloc:
        return value
    return "/"


@hookimpl
def actor_from_request(datasette, request):
    return accounts.actor_for_token(
        datadir.accounts_db(datasette.plugin_config("shequ")["db_dir"]), request.cookies.get(COOKIE))


async def login(request, datasette):
    next_url = _safe_next(request.args.get("next"))
    error, username = None, ""
    if request.method == "POST":
        form = await request.post_vars()
        username = (form.get("username") or "").strip()
        next_url = _safe_next(form.get("next") or next_url)
        conn = _accounts(datasette)
        try:
            actor = accounts.authenticate(conn, username, form.get("password") or "")
            if actor:
                token = accounts.start_session(conn, actor["id"])
        finally:
            conn.close()
        if actor:
            response = Response.redirect(next_url)
            response.set_cookie(COOKIE, token, max_age=accounts.SESSION_HOURS * 3600,
                                httponly=True, samesite="lax",
                                secure=request.scheme == "https")
            return response
        error = "用户名或密码错误，或账号已停用"
    html = await datasette.render_template(
        "shequ_login.html", {"error": error, "username": username, "next": next_url},
        request=request)
    return Response.html(html, status=401 if error else 200)


async def logout(request, datasette):
    if request.method == "POST":
        token = request.cookies.get(COOKIE)
        if token:
            conn = _accounts(datasette)
            try:
                accounts.end_session(conn, token)
            finally:
                conn.close()
        response = Response.redirect("/")
        response.set_cookie(COOKIE, "", max_age=0, httponly=True, samesite="lax")
        return response
    html = await datasette.render_template("shequ_logout.html", {}, request=request)
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/-/login$", login), (r"^/-/logout$", logout)]


@hookimpl
def menu_links(datasette, actor):
    if actor:
        return [{"href": "/-/logout", "label": f"退出登录（{actor['id']}）"}]
    return [{"href": "/-/login", "label": "工作人员登录"}]
