"""Hardened serving: security headers on every response, a Content-Security-Policy without
'unsafe-inline' script, cookie flags, no-store for personal data, and error pages that
show nothing of the server's internals.

Headers (every HTTP response, added by the outermost ASGI wrapper):

* `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: same-origin`
  (search words and filters in our URLs never leave the site in a Referer).
* `Content-Security-Policy`: `default-src 'self'; frame-ancestors 'none'; base-uri 'self';
  form-action 'self'; object-src 'none'; img-src 'self' data:; style-src 'self'
  'unsafe-inline'; script-src 'self' [hashes]`. Script is never 'unsafe-inline':
  - our own pages (login, logout, forms, upload, search, dashboard, report, accounts,
    history) load their code from /shequ-static/*.js and carry no inline script of their
    own; they inherit two inline blocks from Datasette's base.html (the version variable
    and _close_open_menus.html), which are fixed template text and get their SHA-256;
  - Datasette's pages (table, row, database, query, stored query, debug, error) carry more
    inline blocks, some with data embedded as JSON (`{{ table_page_data|tojson }}`). Each
    inline block in the HTML being sent is hashed only if it *is* one of the templates'
    blocks (`InlineScripts`): fixed text verbatim, or a template block whose `{{ …|tojson }}`
    holes contain nothing but one JSON value (and no "<"), whose `{% if %}` branches are
    template text, and whose few other holes are known harmless values (version, true/false,
    URL paths). An injected <script> therefore never gets a hash. One inline event handler
    exists, `onclick="openColumnChooser()"` on table pages; its hash is allowed with
    'unsafe-hashes' on exactly the pages that carry it.
* `Strict-Transport-Security: max-age=31536000` when the request came over HTTPS (ASGI
  scope scheme "https"; behind a reverse proxy uvicorn sets it from X-Forwarded-Proto
  for proxies in FORWARDED_ALLOW_IPS, 127.0.0.1 by default).
* `Cache-Control: no-store` on every response to a request that carries a credential
  (session cookie, ds_actor cookie, Authorization header), on everything under a private
  database, and on any response that sets a cookie — except static files.
* Every Set-Cookie gets HttpOnly and SameSite=Lax if missing, and Secure over HTTPS.

Errors: an exception that Datasette would show as a 500 with its message becomes a Chinese
page "服务器出错了，请稍后再试或联系管理员。错误编号：<id>" (JSON for .json URLs), and the
traceback goes to the server log only, under the same id. An exception that escapes every
handler (in another ASGI wrapper) gets the same answer from the outermost wrapper.

Debug pages: plugins/guard.py keeps Datasette's debug and introspection pages (including
/-/databases, which shows file paths, and the /-/api explorer) for admins (ADMIN_ONLY).
"""
from __future__ import annotations

import base64
import hashlib
import html as html_lib
import json
import logging
import re
import secrets
import sqlite3

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError

from ingest import web


log = logging.getLogger("shequ.security")

SERVER_ERROR = "服务器出错了，请稍后再试或联系管理员。错误编号：{}"
SERVER_ERROR_TITLE = "服务器出错"

CSP_BASE = ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'self'",
            "form-action 'self'", "object-src 'none'", "img-src 'self' data:",
            "style-src 'self' 'unsafe-inline'")
HSTS = b"max-age=31536000"
STATIC_PREFIXES = ("/-/static/", "/-/static-plugins/", "/shequ-static/", "/favicon.ico")
CREDENTIAL_COOKIES = ("shequ_session", "ds_actor")

# The JSON write API answers JSON whatever its URL ends with.
API_WRITE = re.compile(r"/-/(insert|upsert|update|delete|create|alter|drop|execute-write)$")

# Introspection pages guard.py does not list, closed to non-admins here (see docstring).

# Replaced (not merely added) on every response.
FIXED_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


# ── which inline scripts may run ─────────────────────────────────────────────

# An inline <script> (no src) in a template or in a page: attributes, then the body.
TEMPLATE_SCRIPT = re.compile(
    r"<script\b((?:\{%.*?%\}|\{\{.*?\}\}|[^>])*)>(.*?)</script>", re.S | re.I)
PAGE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
HANDLER = re.compile(r"""\son[a-z]+\s*=\s*"([^"]*)\"""", re.I)
JINJA = re.compile(r"(\{\{-?.*?-?\}\}|\{%-?.*?-?%\}|\{#.*?#\})", re.S)
NOT_JS_TYPES = ("application/json", "application/ld+json", "text/template", "text/html",
                "importmap")

# Holes other than `|tojson` that an inline block may have, and what may fill them.
SIMPLE_HOLES = {
    "datasette_version": r"[0-9A-Za-z.+\-]*",
    "datasette_allow_facet": r"(?:true|false)",
    "'true' if has_debug_permission else 'false'": r"(?:true|false)",
}
URL_HOLE = re.compile(r"^urls\.(path|instance|database|table|query)\(.*\)$", re.S)
URL_VALUE = r"[A-Za-z0-9_./~%\-]*"


class _Unsupported(Exception):
    pass


def _template_pattern(body: str) -> tuple[re.Pattern, int]:
    """A regex matching every rendering of an inline block that has Jinja in it, and the
    number of JSON holes (the first groups). Raises _Unsupported for anything else."""
    parts = JINJA.split(body)
    out, json_holes, stack = [], 0, []
    strip_next = False
    for i, part in enumerate(parts):
        if i % 2 == 0:  # literal text
            text = part
            if strip_next:
                text = text.lstrip()
            if i + 1 < len(parts) and parts[i + 1][2:3] == "-":
                text = text.rstrip()
            out.append(re.escape(text))
            continue
        strip_next = part[-3:-2] == "-"
        inner = part[2:-2].strip("-").strip()
        if part.startswith("{#"):
            continue
        if part.startswith("{{"):
            if re.search(r"\|\s*tojson\b", inner):
                json_holes += 1
                out.append(f"(?P<j{json_holes}>.+?)")
            elif inner in SIMPLE_HOLES:
                out.append(SIMPLE_HOLES[inner])
            elif URL_HOLE.match(inner):
                out.append(URL_VALUE)
            else:
                raise _Unsupported(inner)
            continue
        keyword = inner.split(None, 1)[0] if inner else ""
        if keyword == "if":
            out.append("(?:")
            stack.append(False)
        elif keyword in ("elif", "else") and stack:
            out.append("|")
            stack[-1] = stack[-1] or keyword == "else"
        elif keyword == "endif" and stack:
            out.append(")" if stack.pop() else "|)")
        else:
            raise _Unsupported(inner)
    if stack:
        raise _Unsupported("unbalanced if")
    return re.compile("".join(out), re.S), json_holes


def _is_js(attrs: str) -> bool:
    match = re.search(r"""\btype\s*=\s*["']?([^"'\s>]+)""", attrs, re.I)
    return not match or match.group(1).lower() not in NOT_JS_TYPES


class InlineScripts:
    """The inline scripts and event handlers the templates can produce."""

    def __init__(self, env):
        self.fixed: set[str] = set()
        self.patterns: list[tuple[re.Pattern, int]] = []
        self.handlers: set[str] = set()
        self.unsupported: list[tuple[str, str]] = []
        loader = env.loader
        for name in sorted(set(loader.list_templates())):
            if not name.endswith(".html"):
                continue
            try:
                source, filename, _ = loader.get_source(env, name)
                source = env.preprocess(source, name, filename)
            except Exception:  # noqa: BLE001 - a template we cannot read has no scripts for us
                continue
            for attrs, body in TEMPLATE_SCRIPT.findall(source):
                if re.search(r"\bsrc\s*=", attrs) or not _is_js(attrs):
                    continue
                if not JINJA.search(body):
                    self.fixed.add(body)
                    continue
                try:
                    self.patterns.append(_template_pattern(body))
                except _Unsupported as e:
                    self.unsupported.append((name, str(e)))
            for code in HANDLER.findall(source):
                if not JINJA.search(code):
                    self.handlers.add(html_lib.unescape(code))

    def allows(self, body: str) -> bool:
        if body in self.fixed:
            return True
        for pattern, holes in self.patterns:
            match = pattern.fullmatch(body)
            if match and all(_json_value(match.group(f"j{n}")) for n in range(1, holes + 1)):
                return True
        return False

    def policy_sources(self, page: str) -> tuple[list[str], list[str]]:
        """(hash sources to allow, inline blocks refused) for one HTML page."""
        sources, refused = [], []
        for attrs, body in PAGE_SCRIPT.findall(page):
            if re.search(r"\bsrc\s*=", attrs) or not _is_js(attrs) or not body.strip():
                continue
            body = body.replace("\r\n", "\n").replace("\r", "\n")
            if self.allows(body):
                source = sha256_source(body)
                if source not in sources:
                    sources.append(source)
            else:
                refused.append(body)
        handlers = [code for code in (html_lib.unescape(c) for c in HANDLER.findall(page))
                    if code in self.handlers]
        if handlers:
            sources.append("'unsafe-hashes'")
            sources.extend(dict.fromkeys(sha256_source(code) for code in handlers))
        return sources, refused


def _json_value(text: str | None) -> bool:
    """One JSON value, as `|tojson` writes it (no raw "<", so no </script> or <!--)."""
    if text is None or "<" in text:
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_inline_cache: dict[int, InlineScripts] = {}


def inline_scripts(datasette) -> InlineScripts:
    env = datasette.get_jinja_environment()
    found = _inline_cache.get(id(env))
    if found is None:
        found = _inline_cache[id(env)] = InlineScripts(env)
        for name, hole in found.unsupported:
            # base.html's {{ body_script.script }} (extra_body_script hook, unused by shequ)
            # is expected here: such scripts are blocked, as they should be.
            (log.debug if hole == "body_script.script" else log.warning)("shequ security: inline script in %s has a hole we cannot check (%s);"
                        " it will be blocked by the CSP", name, hole)
    return found


def content_security_policy(script_sources=()) -> str:
    return "; ".join([*CSP_BASE, " ".join(["script-src 'self'", *script_sources])])


# ── the ASGI wrapper ─────────────────────────────────────────────────────────

def _header(headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _credentialed(scope) -> bool:
    """Does the request carry a credential? (Textual on purpose: a Cookie header that
    a strict parser gives up on still counts.)"""
    headers = scope.get("headers") or []
    if _header(headers, b"authorization"):
        return True
    raw = b"; ".join(v for k, v in headers if k.lower() == b"cookie")
    return any(name.encode() + b"=" in raw for name in CREDENTIAL_COOKIES)


def _harden_cookie(value: bytes, https: bool) -> bytes:
    text = value.decode("latin-1")
    attrs = {part.strip().split("=", 1)[0].lower() for part in text.split(";")[1:]}
    if "httponly" not in attrs:
        text += "; HttpOnly"
    if "samesite" not in attrs:
        text += "; SameSite=Lax"
    if https and "secure" not in attrs:
        text += "; Secure"
    return text.encode("latin-1")


def secure_headers(scope, headers, csp: str, no_store: bool) -> list:
    https = scope.get("scheme") == "https"
    drop = set(FIXED_HEADERS) | {b"content-security-policy", b"strict-transport-security"}
    sets_cookie = any(k.lower() == b"set-cookie" for k, _ in headers)
    if no_store or sets_cookie:
        drop |= {b"cache-control", b"expires", b"pragma"}
    out = []
    for key, value in headers:
        key_l = key.lower()
        if key_l in drop:
            continue
        if key_l == b"set-cookie":
            value = _harden_cookie(value, https)
        out.append((key, value))
    out += list(FIXED_HEADERS.items())
    out.append((b"content-security-policy", csp.encode()))
    if https:
        out.append((b"strict-transport-security", HSTS))
    if no_store or sets_cookie:
        out.append((b"cache-control", b"no-store"))
    return out


def _new_error_id() -> str:
    return secrets.token_hex(4)


def _error_body(path: str, error_id: str) -> tuple[str, bytes]:
    message = SERVER_ERROR.format(error_id)
    if path.endswith(".json") or API_WRITE.search(path):
        return "application/json; charset=utf-8", json.dumps(
            {"ok": False, "status": 500, "error": message, "error_id": error_id},
            ensure_ascii=False).encode()
    if path.endswith(".csv"):
        return "text/plain; charset=utf-8", message.encode()
    page = (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{SERVER_ERROR_TITLE}</title></head><body><h1>{SERVER_ERROR_TITLE}</h1>"
            f"<p>{html_lib.escape(message)}</p><p><a href=\"/\">返回首页</a></p></body></html>")
    return "text/html; charset=utf-8", page.encode()


@hookimpl(trylast=True)  # the last wrapper applied is the outermost: it sees every response
def asgi_wrapper(datasette):
    config = datasette.plugin_config("shequ") or {}
    private = set(config.get("private_databases") or [])

    def wrap(app):
        async def secured(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            path = scope.get("path") or "/"
            static = path.startswith(STATIC_PREFIXES)
            no_store = not static and (_credentialed(scope) or web.database_of(path) in private)
            sender = _Sender(scope, send, no_store, datasette)
            try:
                await app(scope, receive, sender.send)
            except Exception as exception:  # noqa: BLE001 - the last line: log it, say little
                if sender.started:  # too late for another answer
                    raise
                sender.start, sender.chunks = None, []
                error_id = _new_error_id()
                log.error("shequ error %s: %s %s", error_id, scope.get("method"), path,
                          exc_info=exception)
                content_type, body = _error_body(path, error_id)
                await sender.send({"type": "http.response.start", "status": 500,
                                   "headers": [(b"content-type", content_type.encode())]})
                await sender.send({"type": "http.response.body",
                                   "body": b"" if scope.get("method") == "HEAD" else body})
        return secured
    return wrap


class _Sender:
    """Adds the headers to the response start; holds HTML back until the whole body is
    known, to hash its inline scripts."""

    def __init__(self, scope, send, no_store, datasette=None):
        self.scope, self._send, self.no_store, self.datasette = scope, send, no_store, datasette
        self.start = None                # an HTML response start, held back
        self.chunks: list[bytes] = []
        self.started = False             # has a response start gone out?

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            headers = list(message.get("headers") or [])
            content_type = (_header(headers, b"content-type") or b"").lower()
            if (content_type.startswith(b"text/html") and self.datasette is not None
                    and self.scope.get("method") != "HEAD"):
                self.start = dict(message, headers=headers)  # held until the body is known
                return
            self.started = True
            await self._send(dict(message, headers=secure_headers(
                self.scope, headers, content_security_policy(), self.no_store)))
            return
        if kind == "http.response.body" and self.start is not None:
            self.chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(self.chunks)
            sources = []
            try:
                page = body.decode("utf-8", errors="replace")
                sources, refused = inline_scripts(self.datasette).policy_sources(page)
                for block in refused:
                    log.warning("shequ security: inline script on %s is not one of the templates'"
                                " and is blocked: %.80r", self.scope.get("path"), block)
            except Exception:  # noqa: BLE001 - never fail a page over its policy: stay strict
                log.exception("shequ security: could not compute the inline-script hashes")
            start, self.start = self.start, None
            self.started = True
            await self._send(dict(start, headers=secure_headers(
                self.scope, start["headers"], content_security_policy(sources), self.no_store)))
            await self._send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self._send(message)


# ── SQLite limits ────────────────────────────────────────────────────────────

# The largest string, blob or row any Datasette connection will build. SQLite's default
# (1 GB) lets one `select zeroblob(1000000000)` - public.db takes SQL from anyone - hold a
# worker for a minute and a gigabyte; sql_time_limit_ms cannot stop it, being one step.
# Our largest real values (notes, audit JSON) are a few kB.
MAX_VALUE_BYTES = 256 * 1024


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)


# ── errors ───────────────────────────────────────────────────────────────────

INT_PARAMS = ("_timelimit", "_size", "_facet_size", "_page", "_ttl")
# sqlite3.OperationalError words that mean the server is in trouble, not the request.
SERVER_TROUBLE = ("locked", "disk i/o", "unable to open", "readonly", "malformed database",
                  "disk image", "out of memory", "no such table: main.", "busy")


def client_error(request, exception) -> str | None:
    """The Chinese message for an exception Datasette 1.0a41 lets escape as a 500 although
    the request itself is at fault (found by tests/test_fuzz.py), so it is answered 400;
    else None. Narrow on purpose: the exception type, and where it is ambiguous the
    parameter that causes it, must agree. The exception is still logged."""
    if request is None:
        return None
    args = request.args
    text = str(exception)
    if (isinstance(exception, DatasetteError) and "_through" in args
            and str(exception.message).startswith("Invalid _through")):  # raised with status 500
        return "参数 _through 无效：找不到对应的外键"
    if isinstance(exception, QueryInterrupted):  # as Datasette answers for the main query
        return "查询用时过长，已中止：请缩小范围、减少分面或稍后再试"
    if isinstance(exception, UnicodeDecodeError) and request.method in ("POST", "PUT", "PATCH"):
        return "请求内容不是有效的 UTF-8 文本"
    if isinstance(exception, sqlite3.ProgrammingError) and "null character" in text:
        return "参数中不能含有空字符（%00）"
    if "_through" in args and isinstance(exception, (ValueError, TypeError, KeyError,
                                                      AttributeError)):
        return '参数 _through 必须是 JSON 对象：{"table": …, "column": …, "value": …}'
    if (isinstance(exception, ValueError) and text.startswith("invalid literal for int()")
            and any(name in args for name in INT_PARAMS)):
        return "参数必须是整数：" + "、".join(n for n in INT_PARAMS if n in args)
    if (isinstance(exception, sqlite3.OperationalError) and text == "incomplete input"
            and ("_col" in args or "_nocol" in args)
            and ("_sort" in args or "_sort_desc" in args)):
        # Datasette builds the next-page link from the sort column's value, which is
        # missing when _col / _nocol leave the sort column out.
        return "按未显示的列排序时无法翻页：请在 _col 中包含排序列（或不要用 _nocol 去掉它）"
    if any(key.startswith("_facet") for key in args):
        if isinstance(exception, (KeyError, TypeError, AttributeError, ValueError)) or (
                isinstance(exception, sqlite3.OperationalError)
                and not any(words in text.lower() for words in SERVER_TROUBLE)):
            return "分面参数无效（_facet、_facet_array、_facet_date 须是这张表的列）"
    return None


@hookimpl(tryfirst=True)
def handle_exception(datasette, request, exception):
    """A Chinese 500 page with an error id instead of the exception's own words; the
    traceback is logged server-side. Client errors (400/403/404 with Datasette's or our
    own message) are left to Datasette's handler; the few client errors that Datasette
    lets escape as exceptions (client_error) become 400 with a Chinese message."""
    if isinstance(exception, (Base400, DatasetteError)) and exception.status < 500 \
            and request is not None and API_WRITE.search(request.path):
        return _api_error(exception)
    if isinstance(exception, Base400):
        return None
    message = client_error(request, exception)
    if message is None and isinstance(exception, DatasetteError) and exception.status < 500:
        return None
    if message is not None:
        log.info("shequ: bad request %s %s: %r", request.method, request.path, exception)
        return _bad_request(datasette, request, message)
    error_id = _new_error_id()
    log.error("shequ error %s: %s %s", error_id, request.method if request else "?",
              request.path if request else "?", exc_info=exception)

    async def inner():
        path = request.path if request is not None else "/"
        message = SERVER_ERROR.format(error_id)
        if _wants_json(request):
            return Response.json({"ok": False, "status": 500, "error": message,
                                  "error_id": error_id}, status=500)
        if path.endswith(".csv"):
            return Response.text(message, status=500)
        try:
            page = await datasette.render_template(
                "error.html", {"ok": False, "error": message, "status": 500,
                               "title": SERVER_ERROR_TITLE}, request=request)
        except Exception:  # noqa: BLE001 - the page around the message failed too
            log.exception("shequ error %s: the error page itself failed", error_id)
            page = _error_body("/", error_id)[1].decode()
        return Response.html(page, status=500)
    return inner


def _api_error(exception):
    """Datasette answers some write-API refusals (e.g. a wrong number of primary key values)
    with an HTML page; the API answers JSON."""
    message = exception.message if isinstance(exception, DatasetteError) else exception.args[0]
    message = str(message) if message else "请求有误"

    async def inner():
        return Response.json({"ok": False, "error": message, "errors": [message],
                              "status": exception.status}, status=exception.status)
    return inner


def _wants_json(request) -> bool:
    """.json URLs, and the JSON write API (which answers JSON whatever the URL)."""
    path = request.path if request is not None else "/"
    return path.endswith(".json") or bool(API_WRITE.search(path))


def _bad_request(datasette, request, message):
    async def inner():
        if _wants_json(request):
            return Response.json({"ok": False, "status": 400, "error": message,
                                  "errors": [message]}, status=400)
        if request.path.endswith(".csv"):
            return Response.text(message, status=400)
        try:
            page = await datasette.render_template(
                "error.html", {"ok": False, "error": message, "status": 400,
                               "title": "请求有误"}, request=request)
        except Exception:  # noqa: BLE001
            log.exception("shequ: the bad-request page failed")
            page = f'<!DOCTYPE html>\n<html lang="zh-CN"><body><p>{html_lib.escape(message)}</p></body></html>'
        return Response.html(page, status=400)
    return inner
