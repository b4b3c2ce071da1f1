"""Excel-ready downloads of every table, view and read-only stored query.

    /<db>/<table>.xlsx         /<db>/<stored query>.xlsx        .xlsx, Chinese headers
    /<db>/<table>.excel_csv    /<db>/<stored query>.excel_csv   CSV for Excel (UTF-8 BOM)

The page's own filters, sort, search and `_col`s (tables) or parameters (stored queries)
apply; `_size` and `_next` do not: the download is the full result. Datasette's own `.csv`
(plain UTF-8, column names) stays as it is, for programs.

They are output renderers, so Datasette resolves the URL and checks `view-table` /
`view-query` (and guard.py keeps anonymous visitors away from /community) before any of
this runs. The renderer then re-runs the full query on a dedicated read-only connection
in its own thread - one SELECT, one consistent snapshot - and streams the file: batches
of rows go through ingest.exports' writers into a bounded queue that the response drains,
so memory stays constant and a slow or vanished client stops the query.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
import sys
import threading
import time
from urllib.parse import parse_qsl, quote, urlencode

from datasette import hookimpl
from datasette.plugins import pm
from datasette.utils import named_parameters
from datasette.utils.asgi import BadRequest, Response
from markupsafe import Markup, escape

from ingest import exports

BATCH_ROWS = 2000  # rows fetched and written per step
CHUNK_BYTES = 256 * 1024  # bytes per response body message
QUEUED_CHUNKS = 8  # chunks the producer may run ahead of the client
MAX_EXPORTS = 4  # exports running at once; more get 503

FORMATS = {
    "xlsx": {"content_type": exports.XLSX_TYPE, "extension": "xlsx"},
    "excel_csv": {"content_type": exports.CSV_TYPE, "extension": "csv"},
}
# Query-string arguments that shape a page, not the rows: not carried into the export.
PAGE_ARGS = {"_next", "_size", "_extra", "_format", "_dl", "_labels", "_label", "_stream",
             "_trace", "_shape", "_json", "_json_infinity", "_nl", "_header", "_ttl",
             "_nocount", "_nofacet", "_nosuggest", "_timelimit"}
_running = threading.BoundedSemaphore(MAX_EXPORTS)


def _row_args(request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True)
            if k not in PAGE_ARGS and not k.startswith("_facet")]


# ------------------------------------------------------------------ what to run

_LIMIT = re.compile(r"(?is)(.*\S)\s+limit\s+\d+")


async def _table_query(datasette, request, database, table) -> tuple[str, dict]:
    """The SQL and parameters Datasette itself builds for this table page (filters, sort,
    search, columns), from its documented `_extra=query`, without the page's limit.

    Asked through datasette.client with the caller's own credentials, so the answer is
    exactly what this actor may see; only the trailing `limit N` is dropped."""
    args = _row_args(request) + [("_extra", "query"), ("_size", "1"), ("_nocount", "1"),
                                 ("_nofacet", "1"), ("_nosuggest", "1")]
    path = datasette.urls.table(database, table, format="json") + "?" + urlencode(args)
    headers = {k: request.headers[k] for k in ("cookie", "authorization") if k in request.headers}
    response = await datasette.client.get(path, headers=headers)
    if response.status_code != 200:
        raise _Refused(response.status_code, response.content)
    query = response.json()["query"]
    match = _LIMIT.fullmatch(query["sql"])
    if not match:
        raise RuntimeError(f"unexpected table SQL from Datasette: {query['sql']!r}")
    return match[1], query["params"] or {}


async def _stored_query(datasette, request, database, query_name):
    query = await datasette.get_query(database, query_name)
    if query is None or query.is_write:
        raise BadRequest("写入类的存储查询不能导出")
    # As Datasette's query view: every argument, named parameters default to "".
    values = {k: request.args.get(k) for k in request.args}
    for name in query.parameters or named_parameters(query.sql):
        if not name.startswith("_"):
            values.setdefault(name, "")
    params = {}
    if any(name.startswith("_") for name in named_parameters(query.sql)):
        from datasette.views.database import MagicParameters  # only when the SQL uses them

        magic = MagicParameters(query.sql, values, request, datasette)
        await magic.execute_params()
        values = magic
    for name in named_parameters(query.sql):
        try:
            params[name] = values[name]
        except KeyError:
            raise BadRequest(f"缺少参数 {name}") from None
    return query, params


class _Refused(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


# ------------------------------------------------------------------ the renderer

async def _render(fmt, datasette, request, database, table, query_name, view_name, error):
    if view_name != "table":
        raise BadRequest("只能导出整张表或存储查询的结果")
    if error:
        raise BadRequest(error)
    now = dt.datetime.now().astimezone()
    if table is not None:
        try:
            sql, params = await _table_query(datasette, request, database, table)
        except _Refused as refused:
            return Response(refused.body, status=refused.status,
                            content_type="application/json; charset=utf-8")
        title, name, extras = exports.table_title(database, table), table, []
        source = {"table": table}
    elif query_name is not None:
        query, params = await _stored_query(datasette, request, database, query_name)
        sql, title, name = query.sql, query.title or query_name, query_name
        extras = [request.args.get(p) for p in query.parameters]
        source = {"query": query_name}
    else:
        raise BadRequest("只能导出表和存储查询；任意 SQL 的结果请用 .csv 或 .json")
    page = datasette.urls.table(database, name) if table is not None \
        else datasette.urls.query(database, name)
    row_args = urlencode(_row_args(request))
    source_url = datasette.absolute_url(request, page + (f"?{row_args}" if row_args else ""))
    notes = [("标题", title), ("来源", source_url),
             ("导出时间", now.strftime("%Y-%m-%d %H:%M:%S %z")),
             ("导出人", (request.actor or {}).get("id") or "匿名访问者")]
    disposition = exports.content_disposition(exports.file_stem(title, extras, now.date()),
                                              f"{name}_{now:%Y%m%d}", FORMATS[fmt]["extension"])
    headers = {"content-disposition": disposition, "x-content-type-options": "nosniff"}
    db = datasette.get_database(database)

    def write(out, columns, batches):
        header = exports.column_labels(database, columns, **source)
        if fmt == "xlsx":
            return exports.write_xlsx(out, columns, header, batches, title=title, notes=notes)
        return exports.write_csv(out, columns, header, batches, excel=True)

    limit = (datasette.setting("sql_time_limit_ms") or 0) / 1000
    return _StreamingExport(
        lambda lenient: _connect(datasette, db, lenient), sql, params, write, limit_s=limit,
        content_type=FORMATS[fmt]["content_type"], headers=headers,
        receive=request.receive, head=request.method == "HEAD")


def _connect(datasette, db, lenient: bool) -> sqlite3.Connection:
    """A private read-only connection, prepared like Datasette's own (plugin SQL functions).

    Text is decoded by sqlite3 itself (fast); `lenient` replaces invalid UTF-8 instead, as
    Datasette does, at the cost of a Python call per value - used only when the strict
    decoder refuses the data."""
    if db.is_memory or not db.path:
        conn = db.connect()
    else:
        mode = "mode=ro" if db.is_mutable else "immutable=1"
        conn = sqlite3.connect(f"file:{quote(str(db.path))}?{mode}", uri=True,
                               check_same_thread=False)
    pm.hook.prepare_connection(conn=conn, database=db.name, datasette=datasette)
    conn.text_factory = (lambda b: str(b, "utf-8", "replace")) if lenient else str
    conn.row_factory = None
    return conn


class _Stopped(Exception):
    """The client went away or the response gave up: stop producing."""


class _Queue:
    """Producer (thread) → response (event loop): at most QUEUED_CHUNKS chunks in flight."""

    def __init__(self, loop):
        self.loop, self.items = loop, asyncio.Queue()
        self.slots = threading.Semaphore(QUEUED_CHUNKS)
        self.stop = threading.Event()
        self.started = False

    def put(self, kind, value=None):  # thread side
        if kind == "data":
            while not self.slots.acquire(timeout=0.5):
                if self.stop.is_set():
                    raise _Stopped
        if self.stop.is_set():
            raise _Stopped
        self.started = self.started or kind == "start"
        try:
            self.loop.call_soon_threadsafe(self.items.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone
            self.stop.set()
            raise _Stopped from None

    async def get(self):  # loop side
        kind, value = await self.items.get()
        if kind == "data":
            self.slots.release()
        return kind, value


class _Chunks:
    """The binary `out` the writers write to: gathers bytes into CHUNK_BYTES messages."""

    def __init__(self, queue):
        self.queue, self.buffer = queue, bytearray()

    def write(self, data):
        self.buffer += data
        if len(self.buffer) >= CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self):
        if self.buffer:
            self.queue.put("data", bytes(self.buffer))
            self.buffer = bytearray()


class _Watchdog:
    """Interrupts the SQL when it stalls - more than `limit_s` (Datasette's
    sql_time_limit_ms) without producing the next batch, as Datasette's own limit would
    for a page - or as soon as the response stops."""

    def __init__(self, conn, stop, limit_s):
        self.stop, self.limit_s = stop, limit_s
        self.mark = time.monotonic()
        conn.set_progress_handler(self._progress, 1000)

    def _progress(self):
        if self.stop.is_set():
            return 1
        return 1 if self.limit_s and time.monotonic() - self.mark > self.limit_s else 0


class _StreamingExport(Response):
    """A Response whose body is produced while it is sent. (An output renderer must return
    a Response; this one overrides asgi_send to stream.)"""

    def __init__(self, connect, sql, params, write, *, limit_s, content_type, headers,
                 receive, head):
        super().__init__(b"", status=200, headers=headers, content_type=content_type)
        self._connect, self._sql, self._params, self._write = connect, sql, params, write
        self._limit_s, self._receive, self._head = limit_s, receive, head

    def _produce(self, queue):  # in its own thread
        try:
            try:
                self._run(queue, lenient=False)
            except sqlite3.OperationalError as e:
                if "decode" not in str(e) or queue.started:
                    raise
                self._run(queue, lenient=True)  # nothing sent yet: start again, leniently
        except _Stopped:
            pass
        except BaseException as e:  # noqa: BLE001 - reported to the response, which decides
            try:
                queue.put("error", e)
            except _Stopped:
                pass
        finally:
            _running.release()

    def _run(self, queue, lenient):
        conn = self._connect(lenient)
        try:
            watchdog = _Watchdog(conn, queue.stop, self._limit_s)
            cursor = conn.execute(self._sql, self._params)  # one SELECT: one snapshot
            first = cursor.fetchmany(BATCH_ROWS)
            queue.put("start")

            def batches():
                rows = first
                while rows:
                    yield rows
                    watchdog.mark = time.monotonic()
                    rows = cursor.fetchmany(BATCH_ROWS)

            out = _Chunks(queue)
            self._write(out, [d[0] for d in cursor.description], batches())
            out.flush()
            queue.put("end")
        finally:
            conn.close()

    async def _start(self, send, status=None, body=None, content_type=None):
        headers = {k: v for k, v in self.headers.items() if k.lower() != "link"}  # no "next page"
        headers["content-type"] = content_type or self.content_type
        if status is not None:  # an error before the first byte: not an attachment
            headers.pop("content-disposition", None)
        raw = [[k.encode("latin-1"), v.encode("latin-1")] for k, v in headers.items()]
        raw += [[b"set-cookie", c.encode("latin-1")] for c in self._set_cookie_headers]
        await send({"type": "http.response.start", "status": status or self.status,
                    "headers": raw})
        if body is not None:
            await send({"type": "http.response.body", "body": body})

    async def _error(self, send, status, message):
        body = json.dumps({"ok": False, "status": status, "error": message},
                          ensure_ascii=False).encode()
        await self._start(send, status, body, "application/json; charset=utf-8")

    async def _watch_disconnect(self, queue):
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                queue.stop.set()
                queue.items.put_nowait(("gone", None))
                return

    async def asgi_send(self, send):
        if self._head:
            return await self._start(send, body=b"")
        if not _running.acquire(blocking=False):
            return await self._error(send, 503, "同时进行的导出太多，请稍后再试")
        queue = _Queue(asyncio.get_running_loop())
        watcher = asyncio.create_task(self._watch_disconnect(queue))
        try:
            threading.Thread(target=self._produce, args=(queue,), daemon=True,
                             name="shequ-export").start()
        except BaseException:
            _running.release()
            watcher.cancel()
            raise
        try:
            kind, value = await queue.get()
            if kind == "error":
                if isinstance(value, sqlite3.OperationalError) and "interrupt" in str(value):
                    return await self._error(send, 400, "查询超时：请加筛选条件缩小范围后再导出")
                if isinstance(value, sqlite3.Error):
                    return await self._error(send, 400, f"查询出错：{value}")
                raise value
            if kind != "start":
                return
            await self._start(send)
            while True:
                kind, value = await queue.get()
                if kind == "data":
                    await send({"type": "http.response.body", "body": value, "more_body": True})
                elif kind == "end":
                    await send({"type": "http.response.body", "body": b""})
                    return
                elif kind == "gone":
                    return
                else:
                    # Headers are out: abort the connection, so the download shows as
                    # failed instead of ending as a silently truncated file.
                    print(f"shequ export failed: {value!r}", file=sys.stderr)
                    raise value
        finally:
            queue.stop.set()
            watcher.cancel()


async def render_xlsx(datasette, request, database, table, query_name, view_name, error):
    return await _render("xlsx", datasette, request, database, table, query_name, view_name, error)


async def render_excel_csv(datasette, request, database, table, query_name, view_name, error):
    return await _render("excel_csv", datasette, request, database, table, query_name,
                         view_name, error)


async def can_render(datasette, database, table, query_name, view_name):
    if view_name == "row":
        return False
    if table is not None:
        return True
    if query_name is not None:
        query = await datasette.get_query(database, query_name)
        return query is not None and not query.is_write
    return False


@hookimpl
def register_output_renderer(datasette):
    return [{"extension": "xlsx", "render": render_xlsx, "can_render": can_render},
            {"extension": "excel_csv", "render": render_excel_csv, "can_render": can_render}]


# ------------------------------------------------------------------ links on the pages

def _links(datasette, request, page, machine_args) -> Markup:
    args = _row_args(request)

    def url(fmt, extra=()):
        qs = urlencode(args + list(extra))
        return f"{page}.{fmt}" + (f"?{qs}" if qs else "")

    links = [(url("xlsx"), "下载 Excel（.xlsx）", "中文表头，数字和日期可直接计算"),
             (url("excel_csv"), "下载 CSV（Excel 用）", "UTF-8 带 BOM，Excel 直接打开不乱码"),
             (url("csv", machine_args), "CSV（UTF-8，程序用）", "列名为字段名，不带 BOM")]
    items = " · ".join(f'<a href="{escape(href)}" title="{escape(tip)}">{escape(label)}</a>'
                       for href, label, tip in links)
    return Markup(f'<p class="shequ-exports">{items}</p>')


@hookimpl
def top_table(datasette, request, database, table):
    return _links(datasette, request, datasette.urls.table(database, table),
                  [("_stream", "on"), ("_dl", "1")])


@hookimpl
def top_stored_query(datasette, request, database, query_name):
    async def inner():
        query = await datasette.get_query(database, query_name)
        if query is None or query.is_write:
            return None
        return _links(datasette, request, datasette.urls.query(database, query_name), [("_dl", "1")])
    return inner
