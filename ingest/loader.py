"""Load ledger sheets into community.db: validate every cell, resolve references in bulk,
write each sheet in one transaction (all-or-nothing unless skip_bad).

A dry run (`dry_run=True`) does every check and every write exactly as a real import,
in the same order, and then rolls the whole run back: its reports say what the import
WOULD do (a later sheet sees what an earlier sheet of the same run would have written,
as in a real run), and nothing is written - no rows, no `imports` record, no rejects file.
"""
from __future__ import annotations

import contextlib
import csv
import datetime
import secrets
from itertools import islice
from pathlib import Path

import sqlite_utils

from . import audit
from . import validators as v
from .reader import Sheet, UnreadableFile, read_sheets
from .report import Report, RowError
from .templates import LOAD_ORDER, NoTemplate
from .writers import WRITERS

CHUNK = 1000


class _Rollback(Exception):
    pass


def load_files(db: sqlite_utils.Database, paths, *, skip_bad=False, actor="系统",
               via="命令行导入", progress=None, dry_run=False) -> list[Report]:
    """Load every sheet of every file, registry first whatever order the files come in.

    With dry_run, nothing is written: see the module docstring."""
    reports, sheets = [], []
    for path in map(Path, paths):
        try:
            sheets.extend(read_sheets(path))
        except (UnreadableFile, NoTemplate) as e:
            reports.append(Report(path, refused=str(e), dry_run=dry_run))
    sheets.sort(key=lambda s: LOAD_ORDER[s.template.kind])
    with _discarded(db) if dry_run else contextlib.nullcontext():
        for sheet in sheets:
            reports.append(_load_sheet(db, sheet, skip_bad=skip_bad, actor=actor, via=via,
                                       progress=progress, dry_run=dry_run))
    return reports


def load_sheet(db, sheet: Sheet, *, skip_bad=False, actor="系统", via="命令行导入",
               progress=None, dry_run=False) -> Report:
    with _discarded(db) if dry_run else contextlib.nullcontext():
        return _load_sheet(db, sheet, skip_bad=skip_bad, actor=actor, via=via,
                           progress=progress, dry_run=dry_run)


@contextlib.contextmanager
def _write_transaction(db):
    """Like db.atomic(), but a new transaction takes the write lock at once (BEGIN
    IMMEDIATE), waiting up to the busy timeout for another writer to finish. A deferred
    transaction that has read first (audit.acting does) cannot wait: SQLite refuses its
    first write at once with "database is locked" while, say, a form save is committing.
    Inside a transaction already (a dry run, Datasette's write thread): a savepoint."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _discarded(db):
    """Run the block in a transaction (or, inside one, a savepoint) that is always rolled
    back, whatever happens in it."""
    conn = db.conn
    if conn.in_transaction:
        name = f"shequ_dry_run_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        finally:
            if conn.in_transaction:  # an error may already have ended the transaction
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
    else:
        conn.execute("BEGIN IMMEDIATE")  # it writes, see _write_transaction
        try:
            yield
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")


def _load_sheet(db, sheet: Sheet, *, skip_bad, actor, via, progress, dry_run) -> Report:
    template = sheet.template
    report = Report(sheet.path, sheet.name, template.title, dry_run=dry_run)
    seen = db.execute("SELECT loaded_at FROM imports WHERE sha256 = ?", [sheet.digest]).fetchone()
    if seen:
        report.already_loaded_at = seen[0]
        return report
    columns = []
    for index, header in enumerate(sheet.headers):
        column = template.column(v.normalize_header(header)) if header is not None else None
        if column:
            columns.append((index, column))
        elif v.clean_text(header):
            report.ignored_headers.append(v.clean_text(header))
    blank = dict.fromkeys(c.field for c in template.columns)  # absent optional columns
    writer = WRITERS[template.kind](db, report)
    rejected = []  # (line, cells) of bad rows
    bar = progress(sheet) if progress else None
    try:
        with _write_transaction(db), audit.acting(db.conn, actor, via):
            rows = iter(sheet.rows)
            while chunk := list(islice(rows, CHUNK)):
                good = []
                for line, cells in chunk:
                    if not any(v.clean_text(c) for c in cells):
                        continue
                    values = _parse_row(line, cells, columns, blank, report)
                    if values is not None:
                        good.append((line, values))
                    else:
                        rejected.append((line, cells))
                first_new_error = len(report.errors)
                writer.write(good)
                bad = {e.line for e in report.errors[first_new_error:]}
                rejected.extend((line, cells) for line, cells in chunk if line in bad)
                if bar:
                    bar(sheet.position())
            if report.errors and not skip_bad:
                raise _Rollback
            db.execute(
                "INSERT INTO imports (sha256, kind, file_name, sheet, rows_added, rows_updated,"
                " rows_rejected, loaded_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sheet.digest, template.kind, sheet.path.name, sheet.name, report.added,
                 report.updated, report.bad_lines,
                 datetime.datetime.now().isoformat(sep=" ", timespec="seconds"), actor])
    except _Rollback:
        return report
    except UnreadableFile as e:
        report.refused = str(e)
        return report
    if dry_run:  # the caller's _discarded() rolls this sheet back with the rest of the run
        report.would_write = True
        return report
    report.written = True
    if report.errors:
        report.rejects_path = _write_rejects(sheet, rejected, report.errors)
    return report


def _parse_row(line, cells, columns, blank, report):
    values, ok = dict(blank), True
    for index, column in columns:
        raw = cells[index] if index < len(cells) else None
        try:
            value = column.parse(raw)
        except v.Invalid as e:
            report.errors.append(RowError(line, column.header, e.reason))
            ok = False
            continue
        if column.required and value is None and column.parse is not v.parse_yes_no:
            report.errors.append(RowError(line, column.header, "不能为空"))
            ok = False
        values[column.field] = value
    return values if ok else None


def _write_rejects(sheet: Sheet, rejected, errors) -> Path:
    reasons = {}
    for e in errors:
        reasons.setdefault(e.line, []).append(f"「{e.column}」{e.reason}")
    suffix = f".{sheet.name}" if sheet.name else ""
    path = sheet.path.with_name(f"{sheet.path.stem}{suffix}.rejects.csv")
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(["行号", "错误原因", *[h if h is not None else "" for h in sheet.headers]])
        for line, cells in sorted(rejected, key=lambda r: r[0]):
            out.writerow([line, "；".join(reasons.get(line, [])),
                          *["" if c is None else c for c in cells]])
    return path

