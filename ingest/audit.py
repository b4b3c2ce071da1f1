"""The audit trail: triggers that record every insert, update and delete of the staff
tables in `audit_log`, the per-connection actor they stamp, and restore.

Triggers see every write path (forms, JSON API, upload, `shequ ingest`, restore). The
actor reaches them through the one-row table `_audit_context`, which each writer fills
inside its own transaction and empties before committing (Datasette's write_wrapper hook,
the loader) - so any connection can compile the triggers, a committed database never
holds a context row, and a write nobody stamped is refused.

Bulk imports. The insert triggers of the tables a bulk writer fills (BULK_INSERTS) stay
silent while `_audit_context.bulk` is set (aggregates.bulk); the writer then records the
same entries set by set with `record_inserts` - one INSERT … SELECT json_object(…) per
batch, the very entries the trigger would have written, so history, version_after and
restore need nothing special. `record_import` adds one entry per imported sheet (table
`imports`, the row of that table) naming the file, and the range of audit entries the
sheet wrote: `history` shows it with every entry it covers ("import").
"""
from __future__ import annotations

import contextlib
import json
import sqlite3

from sqlite_utils.db import quote_identifier as q

from .aggregates import QUIET

AUDITED = ("communities", "households", "persons", "person_categories", "programs",
           "disbursements", "visits", "dibao_enrolments", "elections", "candidates", "deaths")
# Tables whose insert trigger is silent in bulk mode (the bulk writers call record_inserts).
BULK_INSERTS = ("persons", "person_categories", "disbursements", "visits")

AUDIT_LOG = """
CREATE TABLE _audit_context (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    actor TEXT NOT NULL,
    via TEXT NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor TEXT NOT NULL,
    via TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    before TEXT,
    after TEXT
);
CREATE INDEX idx_audit_log_row ON audit_log(table_name, row_id, id);
CREATE TRIGGER audit_log_immutable_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, '审计记录不可修改'); END;
CREATE TRIGGER audit_log_immutable_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, '审计记录不可删除'); END
"""

@contextlib.contextmanager
def acting(conn: sqlite3.Connection, actor: str, via: str):
    """Attribute the writes made on `conn` inside the block to `actor`, through `via`.

    Use it inside a transaction: the context row is removed again before the commit."""
    previous = conn.execute("SELECT actor, via FROM _audit_context WHERE id = 1").fetchone()
    conn.execute("INSERT OR REPLACE INTO _audit_context (id, actor, via) VALUES (1, ?, ?)",
                 [actor, via])
    try:
        yield
    finally:
        if previous:
            conn.execute("UPDATE _audit_context SET actor = ?, via = ? WHERE id = 1", previous)
        else:
            conn.execute("DELETE FROM _audit_context")


def _columns(conn, table):
    # table_xinfo: hidden = 2/3 marks generated columns, which are derived, not audited.
    return [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{table}")') if r[6] == 0]


def trigger_sql(conn, table: str) -> list[str]:
    cols = _columns(conn, table)
    obj = lambda alias: ", ".join(f"'{c}', {alias}.\"{c}\"" for c in cols)  # noqa: E731
    pairs = " UNION ALL ".join(f"SELECT '{c}' AS k, OLD.\"{c}\" AS o, NEW.\"{c}\" AS n" for c in cols)
    changed = " OR ".join(f'OLD."{c}" IS NOT NEW."{c}"' for c in cols)
    stamp = ("coalesce((SELECT actor FROM _audit_context WHERE id = 1), RAISE(ABORT, '未登记操作人，拒绝写入')),"
             " coalesce((SELECT via FROM _audit_context WHERE id = 1), '未知')")
    head = "INSERT INTO audit_log (actor, via, table_name, row_id, action, before, after) VALUES"
    quiet = f" WHEN {QUIET}" if table in BULK_INSERTS else ""
    return [
        f"""CREATE TRIGGER "audit_{table}_insert" AFTER INSERT ON "{table}"{quiet} BEGIN
            {head} ({stamp}, '{table}', NEW.rowid, 'insert', NULL, json_object({obj('NEW')})); END""",
        f"""CREATE TRIGGER "audit_{table}_update" AFTER UPDATE ON "{table}" WHEN {changed} BEGIN
            {head} ({stamp}, '{table}', NEW.rowid, 'update',
              (SELECT json_group_object(k, o) FROM ({pairs}) WHERE o IS NOT n),
              (SELECT json_group_object(k, n) FROM ({pairs}) WHERE o IS NOT n)); END""",
        f"""CREATE TRIGGER "audit_{table}_delete" AFTER DELETE ON "{table}" BEGIN
            {head} ({stamp}, '{table}', OLD.rowid, 'delete', json_object({obj('OLD')}), NULL); END""",
    ]


def record_inserts(conn, table: str, where: str = "1", params=()) -> int:
    """Record the rows of `table` matching `where` (alias t) as inserted, exactly as the
    insert trigger would have, in rowid order; returns how many. For bulk writers, whose
    insert triggers are silent (BULK_INSERTS)."""
    if conn.execute("SELECT 1 FROM _audit_context WHERE id = 1").fetchone() is None:
        raise sqlite3.IntegrityError("未登记操作人，拒绝写入")
    obj = ", ".join(f"'{c}', t.\"{c}\"" for c in _columns(conn, table))
    return conn.execute(
        "INSERT INTO audit_log (actor, via, table_name, row_id, action, before, after)"
        f" SELECT x.actor, x.via, '{table}', t.rowid, 'insert', NULL, json_object({obj})"
        f" FROM {q(table)} t JOIN _audit_context x ON x.id = 1 WHERE {where} ORDER BY t.rowid",
        list(params)).rowcount


def last_id(conn) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]


def record_import(conn, import_id: int, after_audit_id: int) -> None:
    """One entry for an imported sheet: its `imports` row, with the range of audit entries
    written since `after_audit_id` (those of the sheet's rows)."""
    first, last = after_audit_id + 1, last_id(conn)
    cols = _columns(conn, "imports")
    obj = ", ".join(f"'{c}', t.\"{c}\"" for c in cols)
    conn.execute(
        "INSERT INTO audit_log (actor, via, table_name, row_id, action, before, after)"
        " SELECT x.actor, x.via, 'imports', t.id, 'insert', NULL,"
        f" json_set(json_object({obj}), '$.audit_ids', json_array(?, ?))"
        " FROM imports t JOIN _audit_context x ON x.id = 1 WHERE t.id = ?",
        [first, last, import_id])


def _imports_covering(conn, ids) -> dict:
    """{audit id: the import entry's `after` (file_name, sheet, loaded_at …)} for the
    entries written by an import."""
    out = {}
    for audit_id in ids:
        row = conn.execute(
            "SELECT after FROM audit_log WHERE table_name = 'imports' AND id > ?"
            " ORDER BY id LIMIT 1", [audit_id]).fetchone()
        if row and row[0]:
            info = json.loads(row[0])
            first, last = (info.get("audit_ids") or [0, -1])[:2]
            if first <= audit_id <= last:
                out[audit_id] = info
    return out


def history(conn, table: str, row_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT id, at, actor, via, action, before, after FROM audit_log"
        " WHERE table_name = ? AND row_id = ? ORDER BY id", [table, row_id]).fetchall()
    keys = ("id", "at", "actor", "via", "action", "before", "after")
    out = []
    for row in rows:
        entry = dict(zip(keys, row))
        entry["before"] = json.loads(entry["before"]) if entry["before"] else None
        entry["after"] = json.loads(entry["after"]) if entry["after"] else None
        out.append(entry)
    imports = _imports_covering(conn, [e["id"] for e in out if e["action"] != "delete"]) \
        if table != "imports" else {}
    for entry in out:
        info = imports.get(entry["id"])
        if info:  # written by importing this file
            entry["import"] = {k: info.get(k) for k in ("id", "file_name", "sheet", "kind", "loaded_at")}
    return out


class RestoreError(ValueError):
    pass


def version_after(conn, table: str, row_id: int, audit_id: int) -> dict | None:
    """The full row as it was right after audit entry `audit_id` (None if deleted then).

    Built from the current row by undoing, newest first, every later change."""
    entries = history(conn, table, row_id)
    if audit_id not in {e["id"] for e in entries}:
        raise RestoreError(f"修改记录 {audit_id} 不属于 {table} 第 {row_id} 行")
    cols = _columns(conn, table)
    current = conn.execute(
        f"SELECT {', '.join(map(q, cols))} FROM {q(table)} WHERE rowid = ?",
        [row_id]).fetchone()
    state = dict(zip(cols, current)) if current else None
    for entry in reversed(entries):
        if entry["id"] <= audit_id:
            break
        if entry["action"] == "insert":
            state = None
        elif entry["action"] == "delete":
            state = dict(entry["before"])
        else:
            state = {**state, **entry["before"]}
    return state


def restore(conn, table: str, row_id: int, audit_id: int) -> dict:
    """Write the version after `audit_id` back (the write is audited like any other)."""
    if table not in AUDITED:
        raise RestoreError(f"表 {table} 没有修改记录")
    target = version_after(conn, table, row_id, audit_id)
    if target is None:
        raise RestoreError("该版本是删除后的状态，无法恢复")
    exists = conn.execute(f"SELECT 1 FROM {q(table)} WHERE rowid = ?", [row_id]).fetchone()
    cols = list(target)
    if exists:
        conn.execute(
            f"UPDATE {q(table)} SET {', '.join(f'{q(c)} = ?' for c in cols)} WHERE rowid = ?",
            [*target.values(), row_id])
    else:
        conn.execute(
            f"INSERT INTO {q(table)} (rowid, {', '.join(map(q, cols))})"
            f" VALUES (?, {', '.join('?' * len(cols))})", [row_id, *target.values()])
    return target
