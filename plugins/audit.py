"""Audit trail on the staff database: stamp the actor on every write (write_wrapper),
check what the write left behind with the ingest validators, history and restore pages."""
from __future__ import annotations

import sqlite3

from datasette import hookimpl
from sqlite_utils.db import NotFoundError
from datasette.utils.asgi import Forbidden, NotFound, Response

from ingest import audit, rowcheck, web


GONE = "这条记录已不存在（可能刚被别人删除），没有写入"


class WriteRefused(Exception):
    """Raised inside the write transaction: Datasette rolls back and answers 400."""


def _validate_since(conn, start_id):
    problems = []
    changed = conn.execute(
        "SELECT DISTINCT table_name, row_id FROM audit_log WHERE id > ? AND action != 'delete'",
        [start_id]).fetchall()
    for table, row_id in changed:
        if not rowcheck.columns_for(table):
            continue
        cursor = conn.execute(f'SELECT * FROM "{table}" WHERE rowid = ?', [row_id])
        values = cursor.fetchone()
        if values is None:
            continue
        row = dict(zip([d[0] for d in cursor.description], values))
        problems += [f"{web.table_title(table)} 第 {row_id} 行 {p}" for p in rowcheck.check_row(table, row)]
    return problems


@hookimpl
def write_wrapper(datasette, database, request, transaction):
    if database != web.staff_db(datasette):
        return None
    actor = (request.actor or {}).get("id") if request is not None and request.actor else "系统"
    via = web.via(request)
    table = (request.url_vars or {}).get("table") if request is not None else None

    if not transaction:  # the context row must live and die inside one transaction
        return None

    def wrapper(conn):
        start = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
        with audit.acting(conn, actor, via):
            try:
                yield
            except sqlite3.IntegrityError as e:
                raise WriteRefused(rowcheck.translate(e, table)) from e
            except NotFoundError as e:  # deleted by someone else since Datasette looked it up
                raise WriteRefused(GONE) from e
        if via != "上传台账":  # the upload already ran every row through the ingest checks
            problems = _validate_since(conn, start)
            if problems:
                raise WriteRefused("；".join(problems))
    return wrapper


@hookimpl
def row_actions(datasette, actor, database, table, row):
    if database == web.staff_db(datasette) and web.can_write(actor) and table in audit.AUDITED:
        if "id" in row.keys():
            return [{"href": f"/-/shequ/history/{table}/{row['id']}", "label": "修改记录",
                     "description": "查看这条记录的每一次修改，并可恢复到以前的版本"}]
    return []


async def history(request, datasette):
    if not web.can_write(request.actor):
        raise Forbidden("只有工作人员和管理员可以查看修改记录")
    table, row_id = request.url_vars["table"], int(request.url_vars["row_id"])
    if table not in audit.AUDITED or row_id > 2**63 - 1:
        raise NotFound("没有这张表的修改记录")
    db = datasette.get_database(web.staff_db(datasette))
    entries = await db.execute_fn(lambda conn: audit.history(conn, table, row_id))
    for entry in entries:
        keys = list(dict.fromkeys([*(entry["before"] or {}), *(entry["after"] or {})]))
        entry["changes"] = [(web.column_label(table, k), (entry["before"] or {}).get(k),
                             (entry["after"] or {}).get(k)) for k in keys]
    html = await datasette.render_template("shequ_history.html", {
        "table": table, "table_title": web.table_title(table), "row_id": row_id,
        "entries": list(reversed(entries)), "database": web.staff_db(datasette),
        "can_restore": web.is_admin(request.actor)},
        request=request)
    return Response.html(html)


async def restore(request, datasette):
    if not web.is_admin(request.actor):
        raise Forbidden("只有管理员可以恢复以前的版本")
    form = await request.post_vars()
    table, row_id, audit_id = form.get("table"), form.get("row_id") or "", form.get("audit_id") or ""
    if not (row_id.isdigit() and audit_id.isdigit()) or max(int(row_id), int(audit_id)) > 2**63 - 1:
        raise NotFound("没有这条修改记录")
    row_id, audit_id = int(row_id), int(audit_id)
    db = datasette.get_database(web.staff_db(datasette))
    try:
        await db.execute_write_fn(lambda conn: audit.restore(conn, table, row_id, audit_id),
                                  request=request)
    except (audit.RestoreError, WriteRefused) as e:
        datasette.add_message(request, f"未能恢复：{e}", datasette.ERROR)
    else:
        datasette.add_message(request, f"已恢复为修改记录 {audit_id} 之后的版本")
    return Response.redirect(f"/-/shequ/history/{table}/{row_id}")


@hookimpl
def register_routes():
    return [(r"^/-/shequ/history/(?P<table>[a-z_]+)/(?P<row_id>\d+)$", history),
            (r"^/-/shequ/restore$", restore)]
