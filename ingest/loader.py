"""Load ledger sheets into community.db: validate every cell, resolve references in bulk,
write each sheet in one transaction (all-or-nothing unless skip_bad).

A dry run (`dry_run=True`) does every check and every write exactly as a real import,
in the same order, and then rolls the whole run back: its reports say what the import
WOULD do (a later sheet sees what an earlier sheet of the same run would have written,
as in a real run), and nothing is written - no rows, no `imports` record, no rejects file.

Streaming, constant memory. Rows are read, parsed and written a chunk at a time; nothing
kept grows with the file: the report keeps the first errors and counts the rest
(report.MAX_KEPT_ERRORS), rejected rows go straight to the .rejects.csv (written under a
temporary name, renamed when the sheet is written), and every cache is bounded. Cell
parsers are pure, so each column's parser is memoized (`_Memo`, a bounded cache of
results and refusals): dates, amounts, names and ID numbers repeat a great deal.

Bulk writers (disbursements, visits, the registry) run inside `aggregates.bulk`: the row
triggers for aggregates, audit and search stay silent and the writer does their work set
by set (ingest/writers.py). The per-row path (`bulk=False`, and every form) is the same
code the triggers keep exact; tests compare the two.
"""
from __future__ import annotations

import contextlib
import csv
import datetime
import glob
import os
import re
import secrets
import time
from decimal import Decimal
from itertools import islice, zip_longest
from pathlib import Path

import sqlite_utils

from . import audit
from . import validators as v
from .reader import Sheet, UnreadableFile, read_sheets
from .report import Report
from .templates import LOAD_ORDER, NoTemplate
from .writers import WRITERS

CHUNK = 1000  # rows parsed and handed to the writer at a time (errors come chunk by chunk)
MEMO_SIZE = 60_000  # results kept per column parser (the cache is emptied when full) …
MEMO_MAX_CHARS = 40  # … for cells this short (longer ones are parsed every time)


class _Rollback(Exception):
    pass


def load_files(db: sqlite_utils.Database, paths, *, skip_bad=False, actor="系统",
               via="命令行导入", progress=None, dry_run=False, bulk=True) -> list[Report]:
    """Load every sheet of every file, registry first whatever order the files come in.

    With dry_run, nothing is written: see the module docstring. `progress(sheet)` may
    return a callable, called as `update(position, rows)` after every chunk. bulk=False
    writes row by row through the triggers (the reference the bulk writers are tested
    against)."""
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
                                       progress=progress, dry_run=dry_run, bulk=bulk))
    return reports


def load_sheet(db, sheet: Sheet, *, skip_bad=False, actor="系统", via="命令行导入",
               progress=None, dry_run=False, bulk=True) -> Report:
    with _discarded(db) if dry_run else contextlib.nullcontext():
        return _load_sheet(db, sheet, skip_bad=skip_bad, actor=actor, via=via,
                           progress=progress, dry_run=dry_run, bulk=bulk)


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


def _load_sheet(db, sheet: Sheet, *, skip_bad, actor, via, progress, dry_run, bulk=True) -> Report:
    started = time.perf_counter()
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
    parse = _RowParser(columns, template, report)
    writer = WRITERS[template.kind](db, report)
    # the rejects file is only ever written by a real --skip-bad import
    rejects = _Rejects(sheet) if skip_bad and not dry_run else None
    bar = progress(sheet) if progress else None
    rows_read = 0
    try:
        with _write_transaction(db), audit.acting(db.conn, actor, via), \
                (writer.session() if bulk else contextlib.nullcontext()):
            audit_mark = audit.last_id(db.conn)
            rows = iter(sheet.rows)
            while chunk := list(islice(rows, CHUNK)):
                rows_read += len(chunk)
                report.recent_errors.clear()
                good = parse.chunk(chunk)
                if report.error_count and not skip_bad:
                    writer.check_only = True  # it will be rolled back: checks, no writes
                writer.write(good)
                if rejects is not None and report.recent_errors:
                    rejects.add(chunk, report.recent_errors)
                if bar:
                    bar(sheet.position(), rows_read)
            report.recent_errors.clear()
            if report.error_count and not skip_bad:
                raise _Rollback
            if bulk:
                writer.finish()
            import_id = db.execute(
                "INSERT INTO imports (sha256, kind, file_name, sheet, rows_added, rows_updated,"
                " rows_rejected, loaded_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sheet.digest, template.kind, sheet.path.name, sheet.name, report.added,
                 report.updated, report.bad_lines,
                 datetime.datetime.now().isoformat(sep=" ", timespec="seconds"), actor]).lastrowid
            # which file every entry since audit_mark came from
            audit.record_import(db.conn, import_id, audit_mark)
    except _Rollback:
        _discard(rejects)
        return report
    except UnreadableFile as e:
        _discard(rejects)
        report.refused = str(e)
        return report
    except BaseException:
        _discard(rejects)
        raise
    finally:
        report.seconds = time.perf_counter() - started
        if bar:
            bar(sheet.position(), rows_read, done=True)
        if rejects is not None:
            rejects.close()  # kept below if the sheet was written, else removed
    if dry_run:  # the caller's _discarded() rolls this sheet back with the rest of the run
        report.would_write = True
        return report
    report.written = True
    if report.error_count:
        report.rejects_path = rejects.keep()
    return report


def _discard(rejects):
    if rejects is not None:
        rejects.discard()


_PLAIN_AMOUNT = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,2})?")


def _amount(raw):
    """v.parse_amount, with a short cut for the usual plain "1642.73" (same result)."""
    if raw.__class__ is str and _PLAIN_AMOUNT.fullmatch(raw):
        return Decimal(raw).quantize(v._CENT)
    return v.parse_amount(raw)


_FAST = {v.parse_amount: _amount}


class _Memo:
    """A pure cell parser with a bounded cache of its results (`values`) and refusals
    (`refused`: reason). Keys are the cells themselves for text and None (what CSV gives),
    (type, cell) otherwise: 1, 1.0 and True are equal in Python, not to a parser."""

    def __init__(self, parse, size=None):
        self.parse, self.size = _FAST.get(parse, parse), size or MEMO_SIZE
        self.values, self.refused = {}, {}
        self.copy = False  # results are lists (parse_categories): each row gets its own
        # a column of mostly different values (ID numbers in a registry, amounts) is not
        # worth remembering: once the cache has filled with fewer hits than misses, stop
        self.hits = self.misses = 0
        self.caching = True

    def key(self, raw):
        return raw if raw is None or raw.__class__ is str else (raw.__class__, raw)

    def miss(self, raw):
        """Parse a cell not in `values`: its value, or raises Invalid."""
        try:
            key = self.key(raw)
            hash(key)
        except TypeError:  # an unhashable cell: not cached
            return self.parse(raw)
        if raw.__class__ is str and len(raw) > MEMO_MAX_CHARS:  # long text: not cached
            return self.parse(raw)
        reason = self.refused.get(key)
        if reason is not None:
            raise v.Invalid(reason)
        try:
            value = self.parse(raw)
        except v.Invalid as e:
            if len(self.refused) >= self.size:
                self.refused.clear()
            self.refused[key] = e.reason
            raise
        if not self.caching:
            return list(value) if self.copy else value
        if len(self.values) >= self.size:
            self.values.clear()
            if self.hits < self.misses:
                self.caching = False
            self.hits = self.misses = 0
        self.values[key] = value
        if value.__class__ is list:
            self.copy = True
            return list(value)
        return value

    def __call__(self, raw):
        key = self.key(raw)
        try:
            value = self.values[key]
        except (KeyError, TypeError):
            return self.miss(raw)
        return list(value) if self.copy else value


_MISS = object()


class _RowParser:
    """Parses chunks of rows column by column with memoized parsers; reports errors
    exactly as _parse_row does (row by row, columns in file order)."""

    def __init__(self, columns, template, report):
        self.report = report
        self.plan = [(index, _Memo(column.parse), column.header,
                      column.required and column.parse is not v.parse_yes_no)
                     for index, column in columns]
        present = [column.field for _, column in columns]
        # absent optional columns are None; a field given by two columns: the last one wins
        self.absent = [c.field for c in template.columns if c.field not in present]
        self.fields = present + self.absent
        self.clean = _Memo(v.clean_text)

    def is_blank(self, cells):
        clean = self.clean
        for c in cells:
            if c is not None and c != "" and clean(c) is not None:
                return False
        return True

    def chunk(self, chunk):
        """[(line, values)] of the good rows; errors go to the report."""
        is_blank = self.is_blank
        rows = [(line, cells) for line, cells in chunk if not is_blank(cells)]
        if not rows:
            return []
        errors = []  # (row position, column position, header, reason)
        columns = []
        cells = list(zip_longest(*[c for _, c in rows]))  # column by column, short rows padded
        for position, (index, memo, header, required) in enumerate(self.plan):
            raws = cells[index] if index < len(cells) else (None,) * len(rows)
            get = memo.values.get
            try:
                values = list(map(get, raws, [_MISS] * len(raws)))
            except TypeError:  # an unhashable key somewhere: cell by cell
                values = [_MISS] * len(raws)
            missed = [i for i, value in enumerate(values) if value is _MISS]
            memo.misses += len(missed)
            memo.hits += len(values) - len(missed)
            for i in missed:
                try:
                    values[i] = memo.miss(raws[i]) if raws[i].__class__ is str or raws[i] is None \
                        else memo(raws[i])
                except v.Invalid as e:
                    values[i] = None
                    errors.append((i, position, header, e.reason))
            if memo.copy:
                values = [list(x) if x.__class__ is list else x for x in values]
            if required and None in values:
                failed = {e[0] for e in errors if e[1] == position}
                errors += [(i, position, header, "不能为空") for i, x in enumerate(values)
                           if x is None and i not in failed]
            columns.append(values)
        if self.absent:
            columns += [[None] * len(rows)] * len(self.absent)
        fields = self.fields
        records = [dict(zip(fields, values)) for values in zip(*columns)]
        if not errors:
            return [(line, record) for (line, _), record in zip(rows, records)]
        errors.sort(key=lambda e: (e[0], e[1]))
        add_error = self.report.add_error
        for i, _, header, reason in errors:
            add_error(rows[i][0], header, reason)
        bad = {e[0] for e in errors}
        return [(line, record) for i, ((line, _), record) in enumerate(zip(rows, records))
                if i not in bad]


def _parse_row(line, cells, columns, blank, report):
    values, ok = dict(blank), True
    for index, column in columns:
        raw = cells[index] if index < len(cells) else None
        try:
            value = column.parse(raw)
        except v.Invalid as e:
            report.add_error(line, column.header, e.reason)
            ok = False
            continue
        if column.required and value is None and column.parse is not v.parse_yes_no:
            report.add_error(line, column.header, "不能为空")
            ok = False
        values[column.field] = value
    return values if ok else None


class _Rejects:
    """The .rejects.csv of a --skip-bad import, streamed chunk by chunk (rows in line order)
    under a temporary name; `keep()` gives it its name once the sheet is written."""

    def __init__(self, sheet: Sheet):
        suffix = f".{sheet.name}" if sheet.name else ""
        self.path = sheet.path.with_name(f"{sheet.path.stem}{suffix}.rejects.csv")
        self.tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.partial")
        self.headers = sheet.headers
        self.file = self.out = None

    def add(self, chunk, errors):
        """The rows of `chunk` that have errors, each with its reasons."""
        reasons = {}
        for e in errors:
            reasons.setdefault(e.line, []).append(f"「{e.column}」{e.reason}")
        if self.file is None:
            # partial files of an import that was killed: this one holds the write lock (it
            # is inside its transaction), so no other import is writing one now
            for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.partial"):
                with contextlib.suppress(OSError):
                    stale.unlink()
            self.file = open(self.tmp, "w", encoding="utf-8-sig", newline="")
            self.out = csv.writer(self.file)
            self.out.writerow(["行号", "错误原因", *[h if h is not None else "" for h in self.headers]])
        for line, cells in chunk:
            if line in reasons:
                self.out.writerow([line, "；".join(reasons[line]),
                                   *["" if c is None else c for c in cells]])

    def close(self):
        if self.file is not None:
            self.file.close()

    def keep(self) -> Path:
        if self.file is None:
            self.add((), ())
        self.close()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self):
        self.close()
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
