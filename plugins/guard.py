"""Defence in depth: whatever routes a Datasette alpha adds, anonymous requests never
reach a private database, and Datasette's debug/introspection pages are for admins.

The permission rules in datasette.yaml are the first line; this ASGI wrapper is the
second, keyed on the URL alone, so a new route cannot open a hole by accident.

It also settles API tokens before anything else: a request carrying
`Authorization: Bearer …` that does not resolve to a live shequ token (unknown,
tampered, expired, revoked, or its account disabled or gone) gets 401 on every path.
"""
from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from urllib.parse import quote

from datasette import hookimpl

from ingest import accounts, datadir, web

ADMIN_ONLY = re.compile(
    r"^/-/(config|allow-debug|messages|patterns|debug/|permissions|allowed|rules|check|actions"
    r"|threads|tasks|plugins|versions|settings|create-token|databases|api)")


INVALID_TOKEN = "令牌无效或已过期"


def _bearer(scope) -> str | None:
    values = [v for k, v in scope.get("headers") or [] if k.lower() == b"authorization"]
    return accounts.bearer_token(values[-1].decode("latin-1")) if values else None


def _actor(db_dir, scope):
    raw = b"; ".join(v for k, v in scope.get("headers") or [] if k == b"cookie").decode("latin-1")
    morsel = SimpleCookie(raw).get("shequ_session") if raw else None
    return accounts.actor_for_token(datadir.accounts_db(db_dir), morsel.value if morsel else None)


async def _unauthorized(send):
    body = json.dumps({"ok": False, "status": 401, "error": INVALID_TOKEN},
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"www-authenticate", b'Bearer error="invalid_token"')]})
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope, send, anonymous):
    path, method = scope["path"], scope.get("method", "GET")
    wants_html = method == "GET" and "." not in path.rsplit("/", 1)[-1]
    if anonymous and wants_html:
        query = scope.get("query_string", b"").decode("latin-1")
        target = quote(path + (f"?{query}" if query else ""))
        await send({"type": "http.response.start", "status": 302,
                    "headers": [(b"location", f"/-/login?next={target}".encode())]})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps({"ok": False, "status": 403,
                       "error": "请先登录" if anonymous else "没有权限访问此页面"},
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


@hookimpl
def asgi_wrapper(datasette):
    config = datasette.plugin_config("shequ") or {}
    private = set(config.get("private_databases") or [])

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] == "http":
                path = scope["path"]
                bearer = _bearer(scope)
                token_actor = None
                if bearer is not None:
                    # Every bearer token must be one of ours and alive, on any path.
                    token_actor = accounts.actor_for_bearer(
                        datadir.accounts_db(config["db_dir"]), bearer)
                    if token_actor is None:
                        return await _unauthorized(send)
                is_private = web.database_of(path) in private
                if is_private or ADMIN_ONLY.match(path):
                    actor = token_actor or _actor(config["db_dir"], scope)
                    if actor is None or (not is_private and actor["role"] != "admin"):
                        return await _refuse(scope, send, anonymous=actor is None)
            await app(scope, receive, send)
        return guarded
    return wrap
