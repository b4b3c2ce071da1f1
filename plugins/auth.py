"""Staff login: session cookie or API token → actor, /-/login and /-/logout.

Thin hooks over ingest.accounts; sessions and API tokens live server-side in accounts.db
so that a disabled account, a role change or a logout takes effect on the next request.
A bearer token that does not resolve never reaches this hook: plugins/guard.py answers
401 first. Failed logins are counted per account and per client address, and too many
lock both out for a while (ingest.accounts.FAILURE_WINDOW_MINUTES).
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


def _client_address(request) -> str:
    # The socket peer only: X-Forwarded-For is whatever the client says it is.
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


@hookimpl
def actor_from_request(datasette, request):
    path = datadir.accounts_db(datasette.plugin_config("shequ")["db_dir"])
    bearer = accounts.bearer_token(request.headers.get("authorization"))
    if bearer is not None:
        return accounts.actor_for_bearer(path, bearer)
    return accounts.actor_for_token(path, request.cookies.get(COOKIE))


async def login(request, datasette):
    next_url = _safe_next(request.args.get("next"))
    error, status, username = None, 200, ""
    if request.method == "POST":
        form = await request.post_vars()
        username = (form.get("username") or "").strip()
        next_url = _safe_next(form.get("next") or next_url)
        address = _client_address(request)
        actor = None
        conn = _accounts(datasette)
        try:
            if accounts.login_locked(conn, username, address):
                error, status = accounts.LOCKED_MESSAGE, 429
            else:
                actor = accounts.authenticate(conn, username, form.get("password") or "")
                if actor:
                    accounts.clear_failures(conn, username=actor["id"])
                    token = accounts.start_session(conn, actor["id"])
                else:
                    accounts.record_failure(conn, username, address)
                    error, status = "用户名或密码错误，或账号已停用", 401
        finally:
            conn.close()
        if actor:
            response = Response.redirect(next_url)
            response.set_cookie(COOKIE, token, max_age=accounts.SESSION_HOURS * 3600,
                                httponly=True, samesite="lax",
                                secure=request.scheme == "https")
            return response
    html = await datasette.render_template(
        "shequ_login.html", {"error": error, "username": username, "next": next_url},
        request=request)
    return Response.html(html, status=status)


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
        response.set_cookie(COOKIE, "", max_age=0, httponly=True, samesite="lax",
                            secure=request.scheme == "https")
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
