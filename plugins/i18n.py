"""Every page in Chinese without forking Datasette's templates (dictionary: ingest/zh.py).

* A Jinja extension rewrites Datasette's own template sources before they are compiled
  (`zh.rewrite_template`) and a few template functions turn the English that Python
  hands to templates — action labels, error titles, filter descriptions, column
  names — into Chinese. Data values are never touched.
* An ASGI wrapper rewrites Datasette's JavaScript (/-/static/*.js, `zh.rewrite_js`)
  and gives the jump menu (/-/jump) Chinese names that can be searched in Chinese.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import datasette as datasette_package
from datasette import hookimpl
from jinja2.ext import Extension
from markupsafe import Markup

from ingest import zh

log = logging.getLogger(__name__)

DATASETTE_ROOT = Path(datasette_package.__file__).resolve().parent
DATASETTE_TEMPLATES = DATASETTE_ROOT / "templates"
DATASETTE_STATIC = DATASETTE_ROOT / "static"


class ZhTemplates(Extension):
    """Rewrites Datasette's own templates (never the project's) as they are loaded."""

    def preprocess(self, source, name, filename=None):
        if not filename:
            return source
        path = Path(filename).resolve()
        if path.parent != DATASETTE_TEMPLATES:
            return source
        source, missing = zh.rewrite_template(path.name, source)
        if missing:
            log.warning("shequ i18n: %d rule(s) no longer match %s", len(missing), path.name)
        return source


# ── template functions ───────────────────────────────────────────────────────

def _description(filters, request, database, table, english=None) -> str:
    """The table summary in Chinese, from the same filters, search and sort that
    Datasette describes in `english` (human_description_en)."""
    if filters is None:
        return ""
    args = request.args if request is not None else {}
    search = None
    if english and "search matches" in english:
        search = args.get("_search")
    elif english and "search column" in english:
        search = "、".join(args.get(k) for k in args.keys() if k.startswith("_search_"))
    return zh.describe(list(filters.selections()),
                       lambda column: zh.column_label(database, table, column),
                       search=search, sort=args.get("_sort"),
                       sort_desc=args.get("_sort_desc"))


def _pk_cell(value):
    """The first cell of a table row: the row link plus (for writers) edit/delete buttons
    whose labels Datasette builds in Python."""
    text = str(value)
    if "row-inline-action" not in text:
        return value
    for old, new in zh.PK_CELL_RULES:
        text = text.replace(old, new)
    return Markup(text)


@hookimpl
def prepare_jinja2_environment(env, datasette):
    env.add_extension(ZhTemplates)
    env.filters["zh"] = zh.t
    env.globals.update({
        "zh_db": zh.database_title,
        "zh_table": zh.table_title,
        "zh_col": zh.column_label,
        "zh_qcol": zh.query_column_label,
        "zh_crumb": zh.crumb,
        "zh_lookup": zh.lookup,
        "zh_facet_type": zh.facet_type,
        "zh_error_title": zh.error_title,
        "zh_error": zh.error_message,
        "zh_column_labels": zh.column_labels,
        "zh_description": _description,
        "zh_pk_cell": _pk_cell,
        "zh_yuan": zh.yuan,
        "zh_date": zh.date_prose,
    })


# ── JavaScript and the jump menu ─────────────────────────────────────────────

_js_cache: dict[str, tuple[float, bytes, str]] = {}


def translated_js(name: str) -> tuple[bytes, str]:
    """The translated file and its ETag (cached until the file changes)."""
    path = DATASETTE_STATIC / name
    mtime = path.stat().st_mtime
    cached = _js_cache.get(name)
    if cached is None or cached[0] != mtime:
        source, missing = zh.rewrite_js(name, path.read_text(encoding="utf-8"))
        if missing:
            log.warning("shequ i18n: %d rule(s) no longer match %s", len(missing), name)
        body = source.encode("utf-8")
        etag = '"zh-' + hashlib.sha256(body).hexdigest()[:20] + '"'
        cached = _js_cache[name] = (mtime, body, etag)
    return cached[1], cached[2]


async def _no_body():
    return {"type": "http.request", "body": b"", "more_body": False}


async def _collect(app, scope):
    """Run the app on a bodiless GET/HEAD and return (status, headers, body)."""
    result = {"status": 500, "headers": [], "body": b""}

    async def capture(message):
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            result["body"] += message.get("body", b"")

    await app(scope, _no_body, capture)
    return result["status"], result["headers"], result["body"]


async def _send(send, status, headers, body, head=False):
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _header(scope, name: bytes):
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _static_js(app, scope, send, name):
    # Ask for the whole original (no conditional request), then answer with our ETag.
    inner = dict(scope, headers=[(k, v) for k, v in scope.get("headers") or []
                                 if k.lower() not in (b"if-none-match", b"if-modified-since")])
    status, headers, original = await _collect(app, inner)
    if status != 200:  # refused, or not there: pass the answer on unchanged
        return await _send(send, status, headers, original)
    body, etag = translated_js(name)
    headers = [(k, v) for k, v in headers
               if k.lower() not in (b"etag", b"cache-control", b"content-type")]
    headers += [(b"content-type", b"text/javascript; charset=utf-8"), (b"etag", etag.encode()),
                (b"cache-control", b"no-cache")]
    if _header(scope, b"if-none-match") == etag:
        return await _send(send, 304, headers, b"")
    await _send(send, 200, headers, body, head=scope.get("method") == "HEAD")


def _query_title(datasette, database, name) -> str:
    queries = (((datasette.config or {}).get("databases") or {}).get(database) or {}).get("queries") or {}
    return (queries.get(name) or {}).get("title") or name


def jump_name(datasette, match) -> str:
    """A Chinese name for one jump-menu item."""
    kind, label = match.get("type"), match.get("name") or ""
    if kind == "database":
        return zh.database_title(label)
    if kind in ("table", "view", "query") and ": " in label:
        database, child = label.split(": ", 1)
        title = (_query_title(datasette, database, child) if kind == "query"
                 else zh.table_title(database, child))
        return f"{title}（{zh.database_title(database, short=True)}）"
    return zh.t(label)


JUMP_ORDER = {"database": 0, "table": 1, "view": 2, "query": 3}


async def _jump(app, datasette, scope, send):
    """Fetch every item the actor may jump to (q=''), name it in Chinese, and filter by
    the user's words against the Chinese name, the English name and the URL."""
    args = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    q = (args.get("q") or [""])[0].strip()
    inner = dict(scope, query_string=urlencode({"q": ""}).encode())
    status, headers, body = await _collect(app, inner)
    try:
        data = json.loads(body)
        matches = data["matches"]
        if data.get("truncated") and q:  # more than 100 items: add Datasette's own matches
            seen = {m.get("url") for m in matches}
            own = json.loads((await _collect(app, scope))[2])["matches"]
            matches += [m for m in own if m.get("url") not in seen]
    except (ValueError, KeyError, TypeError):
        return await _send(send, status, headers, body)
    items = []
    for match in matches:
        english = match.get("name") or ""
        name = jump_name(datasette, match)
        match = dict(match, name=name, display_name=name,
                     description=zh.t(match.get("description")))
        haystack = f"{name} {english} {match.get('url') or ''}".lower()
        if all(term.lower() in haystack for term in q.split()):
            items.append(match)
    if q:
        items.sort(key=lambda m: (0 if m["name"].startswith(q) else 1,
                                  JUMP_ORDER.get(m.get("type"), 9), len(m["name"])))
    data["matches"] = items
    out = json.dumps(data, ensure_ascii=False).encode("utf-8")
    await _send(send, status, headers, out, head=scope.get("method") == "HEAD")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def i18n(scope, receive, send):
            if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
                path = scope["path"]
                if path.startswith("/-/static/") and path[len("/-/static/"):] in zh.JS_RULES:
                    return await _static_js(app, scope, send, path[len("/-/static/"):])
                if path == "/-/jump":
                    return await _jump(app, datasette, scope, send)
            await app(scope, receive, send)
        return i18n
    return wrap
