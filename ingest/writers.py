"""Per-template writers: cross-row and cross-table checks, then the SQL writes.

Each writer gets a chunk of parsed rows [(line, values)], reports problems through
`self.error(...)` (the row is then not written) and counts added/updated/unchanged.

Two ways to write. Row by row (forms, and the loader with bulk=False): plain INSERTs and
UPDATEs, the triggers keep the audit trail, the search index and the aggregates. In bulk
(the loader: inside `session()`, then `finish()` before the commit) the disbursements,
visits and registry writers run under `aggregates.bulk`, which silences the aggregate
triggers and the audit and search insert triggers of their tables, and do that work set
by set: payments and visits are staged in a TEMP table and moved into their table every
FLUSH_ROWS rows with one INSERT … SELECT (no row trigger runs per statement), then
recorded (audit.record_inserts), indexed (search.index_rows) and queued for the
aggregates, which `finish()` applies once. A big import drops the table's indexes and
builds them again in `finish()` (REBUILD_MIN_ROWS, REBUILD_SHARE). Nothing kept grows with
the file: lookups go through bounded caches, the registry's "seen" set is a TEMP table.
"""
from __future__ import annotations

import contextlib
import itertools

from . import aggregates, audit, search
from . import validators as v

FLUSH_ROWS = 20_000  # staged rows moved into their table at a time
CACHE_KIB = 32 * 1024  # SQLite page cache while a bulk writer runs (bounded; back after)
PERSON_CACHE = 60_000  # registry persons remembered by ID number (bounded: ~30 MB with their names)
HOUSEHOLD_CACHE = 30_000
# A big import (more rows than REBUILD_MIN_ROWS and than 1/REBUILD_SHARE of the table) drops
# the table's indexes and builds them again at the end, inside its transaction: one sort
# per index instead of a random b-tree insert per row and index (at 1M rows: 4 s, not 20 s).
REBUILD_MIN_ROWS = 100_000
REBUILD_SHARE = 4


def _q(name):
    return f'"{name}"'


@contextlib.contextmanager
def _bulk_mode(conn):
    """aggregates.bulk, with a bigger page cache for the time being (the indexes written
    at random places stay in memory instead of going back and forth through the WAL)."""
    (previous,) = conn.execute("PRAGMA cache_size").fetchone()
    conn.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
    try:
        with aggregates.bulk(conn):
            yield
    finally:
        conn.execute(f"PRAGMA cache_size = {int(previous)}")


def drop_indexes(conn, table) -> list[str]:
    """Drop the table's own indexes (not the automatic ones of UNIQUE/PRIMARY KEY);
    returns the statements that create them again."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                        " AND sql IS NOT NULL ORDER BY name", [table]).fetchall()
    for name, _ in rows:
        conn.execute(f"DROP INDEX {_q(name)}")
    return [sql for _, sql in rows]


class Writer:
    check_only = False  # the loader sets it when the sheet will be rolled back anyway
    bulk = False

    def __init__(self, db, report):
        self.db, self.report = db, report
        self.communities = dict(db.execute("SELECT name, id FROM communities").fetchall())

    def session(self):
        """The bulk session (the loader's, inside its transaction and audit.acting)."""
        return contextlib.nullcontext()

    def finish(self):
        """Complete the bulk writes (before the commit)."""

    def error(self, line, column, reason):
        self.report.add_error(line, column, reason)

    def tally(self, outcome):
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)

    def community(self, line, name, create=False):
        if name not in self.communities:
            if not create:
                self.error(line, "社区", f"未知的社区「{name}」（居民名册中没有这个社区）")
                return None
            self.communities[name] = self.db.execute(
                "INSERT INTO communities (name) VALUES (?)", [name]).lastrowid
        return self.communities[name]

    def _in(self, sql, values, *params, size=500):
        """Rows of `sql` (with one `{in}` placeholder) for every value, in batches."""
        out = []
        values = list(values)
        for start in range(0, len(values), size):
            part = values[start:start + size]
            out += self.db.execute(sql.format(**{"in": ", ".join("?" * len(part))}),
                                   [*params, *part]).fetchall()
        return out

    person_details = True  # lookup_persons also reads birth date and household number

    def lookup_persons(self, id_numbers):
        """{id_number: (id_number, id, name, community_id[, birth_date, household_no])}"""
        source = (", p.birth_date, h.household_no FROM persons p LEFT JOIN households h ON h.id = p.household_id"
                  if self.person_details else " FROM persons p")
        return {r[0]: r for r in self._in(
            "SELECT p.id_number, p.id, p.name, p.community_id" + source + " WHERE p.id_number IN ({in})",
            sorted({i for i in id_numbers if i}))}

    def person(self, line, values, persons, community_id, id_column="身份证号", name_column="姓名"):
        """The registry person a row refers to, checked against its name and community."""
        id_number = values["id_number"][0]
        row = persons.get(id_number)
        if row is None:
            self.error(line, id_column, f"身份证号 {id_number} 不在居民名册中：请先导入该居民")
            return None
        ok = True
        if values["name"] != row[2]:
            self.error(line, name_column, f"姓名「{values['name']}」与居民名册不符（名册中为「{row[2]}」）")
            ok = False
        if community_id is not None and row[3] != community_id:
            registered = next(n for n, i in self.communities.items() if i == row[3])
            self.error(line, "社区", f"该居民在居民名册中属于「{registered}」，不是「{values['community']}」")
            ok = False
        return row if ok else None

    def upsert(self, table, key: dict, values: dict):
        """Insert or update one row by its natural key; returns (rowid, outcome)."""
        cols = list(values)
        where = " AND ".join(f"{_q(k)} = ?" for k in key)
        existing = self.db.execute(
            f"SELECT id, {', '.join(map(_q, cols))} FROM {_q(table)} WHERE {where}",
            list(key.values())).fetchone()
        if existing is None:
            row = {**key, **values}
            rowid = self.db.execute(
                f"INSERT INTO {_q(table)} ({', '.join(map(_q, row))})"
                f" VALUES ({', '.join('?' * len(row))})", list(row.values())).lastrowid
            return rowid, "added"
        if list(existing[1:]) == [values[c] for c in cols]:
            return existing[0], "unchanged"
        self.db.execute(
            f"UPDATE {_q(table)} SET {', '.join(f'{_q(c)} = ?' for c in cols)} WHERE id = ?",
            [*values.values(), existing[0]])
        return existing[0], "updated"


def _yuan(amount):
    return None if amount is None else float(amount)


class ProgramsWriter(Writer):
    def write(self, rows):
        for line, r in rows:
            _, outcome = self.upsert("programs", {"name": r["program"]}, {"category": r["category"]})
            self.tally(outcome)


class RegistryWriter(Writer):
    def __init__(self, db, report):
        super().__init__(db, report)
        self.seen = {}  # id number -> first line in this file
        self.households = {}

    def household(self, community_id, household_no, address):
        key = (community_id, household_no)
        if key not in self.households:
            row = self.db.execute(
                "SELECT id, address FROM households WHERE community_id = ? AND household_no = ?",
                key).fetchone()
            if row is None:
                row = (self.db.execute(
                    "INSERT INTO households (community_id, household_no, address) VALUES (?, ?, ?)",
                    [*key, address]).lastrowid, address)
            elif address and row[1] != address:
                self.db.execute("UPDATE households SET address = ? WHERE id = ?", [address, row[0]])
            self.households[key] = row[0]
        return self.households[key]

    # ------------------------------------------------------------ bulk (the loader)

    PERSON_COLUMNS = ("id_legacy", "name", "gender", "birth_date", "phone", "address",
                      "community_id", "household_id", "disability_grade", "note")
    TEMP = {"_shequ_reg_seen": "id_number TEXT PRIMARY KEY, line INTEGER NOT NULL",
            "_shequ_reg_households": "id INTEGER PRIMARY KEY",
            "_shequ_reg_docs": "id INTEGER PRIMARY KEY",
            "_shequ_reg_agg": "id INTEGER PRIMARY KEY",
            "_shequ_reg_categories": "person_id INTEGER NOT NULL, category TEXT NOT NULL"}

    @contextlib.contextmanager
    def _session(self):
        conn = self.db.conn
        with _bulk_mode(conn):
            for name, cols in self.TEMP.items():
                conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
                conn.execute(f"CREATE TEMP TABLE {name} ({cols})")
            self.bulk, self.segmenter = True, search.Segmenter()
            try:
                yield
            finally:
                self.bulk = False
                with contextlib.suppress(Exception):
                    for name in self.TEMP:
                        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")

    def session(self):
        return self._session()

    def finish(self):
        aggregates.apply(self.db.conn)

    def _households_bulk(self, wanted):
        """Household ids for [(community_id, household_no, address)], as household() gives
        them row by row: a new household is created by its first row in the file; an
        existing one takes the address of its first row in the file, if that row gives a
        different one. (Seen households: the bounded cache, then a TEMP table.)"""
        conn, cache = self.db.conn, self.households
        unknown = {}
        for cid, no, _ in wanted:
            if (cid, no) not in cache:
                unknown.setdefault(cid, set()).add(no)
        found = {}
        for cid, numbers in unknown.items():
            for hid, no, address in self._in(
                    "SELECT id, household_no, address FROM households WHERE community_id = ?"
                    " AND household_no IN ({in})", sorted(numbers), cid):
                found[(cid, no)] = (hid, address)
        seen = {hid for (hid,) in self._in("SELECT id FROM temp._shequ_reg_households WHERE id IN ({in})",
                                           [hid for hid, _ in found.values()])}
        resolved, marked, out = {}, [], []
        for cid, no, address in wanted:
            key = (cid, no)
            hid = resolved.get(key) or cache.get(key)
            if hid is None:
                row = found.get(key)
                if row is None:
                    hid = conn.execute(
                        "INSERT INTO households (community_id, household_no, address) VALUES (?, ?, ?)",
                        [cid, no, address]).lastrowid
                    marked.append((hid,))
                else:
                    hid = row[0]
                    if hid not in seen:
                        if address and row[1] != address:
                            conn.execute("UPDATE households SET address = ? WHERE id = ?", [address, hid])
                        marked.append((hid,))
                resolved[key] = hid
            out.append(hid)
        conn.executemany("INSERT OR IGNORE INTO temp._shequ_reg_households (id) VALUES (?)", marked)
        if len(cache) + len(resolved) > HOUSEHOLD_CACHE:
            cache.clear()
        cache.update(resolved)
        return out

    def _write_bulk(self, rows):
        conn = self.db.conn
        first = dict(self._in("SELECT id_number, line FROM temp._shequ_reg_seen WHERE id_number IN ({in})",
                              {r["id_number"][0] for _, r in rows}))
        valid, seen = [], []
        for line, r in rows:
            id_number, legacy = r["id_number"]
            if id_number in first:
                self.error(line, "身份证号", f"与第 {first[id_number]} 行重复")
                continue
            first[id_number] = line
            seen.append((id_number, line))
            birth, gender = v.id_birth_date(id_number), v.id_gender(id_number)
            if self.agrees_with_id(line, r, birth, gender):
                community_id = self.community(line, r["community"], create=True)
                valid.append((r, id_number, legacy, birth, gender, community_id))
        conn.executemany("INSERT INTO temp._shequ_reg_seen (id_number, line) VALUES (?, ?)", seen)
        if not valid:
            return
        household_ids = self._households_bulk([(c, r["household_no"], r["address"])
                                               for r, _, _, _, _, c in valid])
        cols = self.PERSON_COLUMNS
        existing = {row[1]: row for row in self._in(
            f"SELECT id, id_number, {', '.join(cols)} FROM persons WHERE id_number IN ({{in}})",
            [x[1] for x in valid])}
        have = {}
        for person_id, category in self._in(
                "SELECT person_id, category FROM person_categories WHERE person_id IN ({in})",
                [row[0] for row in existing.values()]):
            have.setdefault(person_id, set()).add(category)
        new, new_categories, categories, touched, docs = [], [], [], [], []
        for (r, id_number, legacy, birth, gender, community_id), household_id in zip(valid, household_ids):
            values = (int(legacy), r["name"], gender, birth, r["phone"], r["address"], community_id,
                      household_id, r["disability_grade"], r["note"])
            wanted = set(r["categories"] or [])
            row = existing.get(id_number)
            if row is None:
                new.append((id_number, *values))
                new_categories.append(sorted(wanted))
                self.tally("added")
                continue
            person_id, outcome = row[0], "unchanged"
            if tuple(row[2:]) != values:
                conn.execute(f"UPDATE persons SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                             [*values, person_id])
                outcome = "updated"
                touched.append((person_id,))
            if wanted != have.get(person_id, set()):
                if person_id in have:
                    conn.execute("DELETE FROM person_categories WHERE person_id = ?", [person_id])
                categories += [(person_id, c) for c in sorted(wanted)]
                touched.append((person_id,))
                docs.append((person_id,))
                outcome = "updated"
            self.tally(outcome)
        if new:
            before = conn.execute("SELECT coalesce(max(id), 0) FROM persons").fetchone()[0]
            conn.executemany(f"INSERT INTO persons (id_number, {', '.join(cols)})"
                             f" VALUES (?, {', '.join('?' * len(cols))})", new)
            ids = dict(conn.execute("SELECT id_number, id FROM persons WHERE id > ?", [before]))
            audit.record_inserts(conn, "persons", "t.rowid > ?", [before])
            for row, wanted in zip(new, new_categories):
                person_id = ids[row[0]]
                categories += [(person_id, c) for c in wanted]
                touched.append((person_id,))
                docs.append((person_id,))
        if categories:
            conn.executemany("INSERT INTO person_categories (person_id, category) VALUES (?, ?)", categories)
            conn.executemany("INSERT INTO temp._shequ_reg_categories (person_id, category) VALUES (?, ?)",
                             categories)
            audit.record_inserts(conn, "person_categories", "(t.person_id, t.category) IN"
                                 " (SELECT person_id, category FROM temp._shequ_reg_categories)")
            conn.execute("DELETE FROM temp._shequ_reg_categories")
        if docs:
            conn.executemany("INSERT OR IGNORE INTO temp._shequ_reg_docs (id) VALUES (?)", docs)
            search.index_rows(conn, "persons", "b.id IN (SELECT id FROM temp._shequ_reg_docs)",
                              segmenter=self.segmenter, replace=True)
            conn.execute("DELETE FROM temp._shequ_reg_docs")
        if touched:
            conn.executemany("INSERT OR IGNORE INTO temp._shequ_reg_agg (id) VALUES (?)", touched)
            aggregates.queue_persons(conn, "p.id IN (SELECT id FROM temp._shequ_reg_agg)")
            conn.execute("DELETE FROM temp._shequ_reg_agg")

    # ------------------------------------------------------------ row by row

    def agrees_with_id(self, line, r, birth, gender) -> bool:
        """The row's 出生日期 and 性别, where given, agree with its 身份证号 (errors reported)."""
        ok = True
        if r["birth_date"] and r["birth_date"] != birth:
            self.error(line, "出生日期", f"与身份证号不符（身份证号中为 {birth}）")
            ok = False
        if r["gender"] and r["gender"] != gender:
            self.error(line, "性别", f"与身份证号不符（身份证号中为{gender}）")
            ok = False
        return ok

    def write(self, rows):
        if self.bulk:
            return self._write_bulk(rows)
        for line, r in rows:
            id_number, legacy = r["id_number"]
            if id_number in self.seen:
                self.error(line, "身份证号", f"与第 {self.seen[id_number]} 行重复")
                continue
            self.seen[id_number] = line
            birth, gender = v.id_birth_date(id_number), v.id_gender(id_number)
            if not self.agrees_with_id(line, r, birth, gender):
                continue
            community_id = self.community(line, r["community"], create=True)
            household_id = self.household(community_id, r["household_no"], r["address"])
            person_id, outcome = self.upsert("persons", {"id_number": id_number}, {
                "id_legacy": int(legacy), "name": r["name"], "gender": gender,
                "birth_date": birth, "phone": r["phone"], "address": r["address"],
                "community_id": community_id, "household_id": household_id,
                "disability_grade": r["disability_grade"], "note": r["note"]})
            wanted = set(r["categories"] or [])
            have = {c for (c,) in self.db.execute(
                "SELECT category FROM person_categories WHERE person_id = ?", [person_id])}
            if wanted != have:
                self.db.execute("DELETE FROM person_categories WHERE person_id = ?", [person_id])
                self.db.conn.executemany(
                    "INSERT INTO person_categories (person_id, category) VALUES (?, ?)",
                    [(person_id, c) for c in sorted(wanted)])
                outcome = "updated" if outcome == "unchanged" else outcome
            self.tally(outcome)


class _PersonEventWriter(Writer):
    """Rows about one registry person (disbursements, visits, deaths, 低保)."""
    id_column, name_column = "身份证号", "姓名"

    def persons_for(self, id_numbers) -> dict:
        """The registry rows of these ID numbers (None: not registered), through a bounded
        cache: a ledger names the same residents again and again."""
        cache = self.__dict__.setdefault("_persons", {})
        names = self.__dict__.setdefault("names", {})  # person id -> registry name
        wanted = {i for i in id_numbers if i}
        missing = [i for i in wanted if i not in cache]
        if missing:
            excess = len(cache) + len(missing) - PERSON_CACHE
            if excess > 0:  # the oldest out (not this chunk's), down to 3/4 of the bound
                for key in list(itertools.islice((k for k in cache if k not in wanted),
                                                 excess + PERSON_CACHE // 4)):
                    row = cache.pop(key)
                    if row is not None:
                        names.pop(row[1], None)
            found = self.lookup_persons(missing)
            for i in missing:
                row = cache[i] = found.get(i)
                if row is not None:
                    names[row[1]] = row[2]
        return cache

    def write(self, rows):
        persons = self.persons_for(r["id_number"][0] for _, r in rows)
        out = []
        for line, r in rows:
            community_id = self.community(line, r["community"])
            person = self.person(line, r, persons, community_id, self.id_column, self.name_column)
            if community_id is None or person is None:
                continue
            record = self.record(line, r, person, community_id)
            if record is not None:
                out.append(record)
        self.flush(out)


class _BulkEvents(_PersonEventWriter):
    """Payments and visits: staged and moved set by set in bulk (see the module docstring)."""
    table: str
    columns: tuple
    person_details = False  # name and community are all a payment or a visit is checked against

    def _queue(self, where, params):
        raise NotImplementedError

    def doc_values(self, rowid, record) -> tuple:
        """The values search._DOC_SQL selects for one of this writer's records."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _session(self):
        conn = self.db.conn
        self.stage = f"_shequ_stage_{self.table}"
        with _bulk_mode(conn), search.merging_deferred(conn, self.table):
            conn.execute(f"DROP TABLE IF EXISTS temp.{self.stage}")
            conn.execute(f"CREATE TEMP TABLE {self.stage} ({', '.join(self.columns)})")
            self.done_id = conn.execute(f"SELECT coalesce(max(id), 0) FROM {self.table}").fetchone()[0]
            self.first_id, self.staged, self.bulk = self.done_id, 0, True
            self.dropped_indexes, self.docs = [], []
            self.segmenter = search.Segmenter()
            try:
                yield
            finally:
                self.bulk = False
                with contextlib.suppress(Exception):
                    conn.execute(f"DROP TABLE IF EXISTS temp.{self.stage}")

    def session(self):
        return self._session()

    def flush(self, out):
        if not self.bulk:
            self.db.conn.executemany(self.insert_sql(self.table), out)
        elif not self.check_only:
            self.db.conn.executemany(
                f"INSERT INTO temp.{self.stage} VALUES ({', '.join('?' * len(self.columns))})", out)
            # their search documents now, from the values at hand: the rows will take the
            # next ids in order (this is the only writer); _move checks that they did
            first = self.done_id + self.staged + 1
            self.docs += [search.document(self.table, self.segmenter, self.doc_values(rowid, record))
                          for rowid, record in enumerate(out, first)]
            self.staged += len(out)
            if self.staged >= FLUSH_ROWS:
                self._move()
        self.report.added += len(out)

    def insert_sql(self, table):
        return (f"INSERT INTO {table} ({', '.join(self.columns)})"
                f" VALUES ({', '.join('?' * len(self.columns))})")

    def _move(self):
        """Staged rows into the table; then what the silent triggers would have done."""
        if not self.staged:
            return
        conn, cols = self.db.conn, ", ".join(self.columns)
        if not self.dropped_indexes and self.done_id - self.first_id + self.staged > max(
                REBUILD_MIN_ROWS, self.first_id // REBUILD_SHARE):
            self.dropped_indexes = drop_indexes(conn, self.table)
        conn.execute(f"INSERT INTO {self.table} ({cols}) SELECT {cols} FROM temp.{self.stage} ORDER BY rowid")
        conn.execute(f"DELETE FROM temp.{self.stage}")
        self.staged = 0
        low = self.done_id
        high = conn.execute(f"SELECT max(id) FROM {self.table}").fetchone()[0]
        audit.record_inserts(conn, self.table, "t.rowid > ? AND t.rowid <= ?", [low, high])
        if self.docs and self.docs[0][0] == low + 1 and self.docs[-1][0] == high == low + len(self.docs):
            search.insert_documents(conn, self.table, self.docs)
        else:  # (not the ids foreseen: from the rows themselves)
            search.index_rows(conn, self.table, "b.id > ? AND b.id <= ?", [low, high], self.segmenter)
        self.docs = []
        self._queue("d.id > ? AND d.id <= ?", [low, high])
        self.done_id = high

    def finish(self):
        self._move()
        for sql in self.dropped_indexes:
            self.db.conn.execute(sql)
        if self.done_id > self.first_id:
            aggregates.apply(self.db.conn)


class DisbursementsWriter(_BulkEvents):
    table = "disbursements"
    columns = ("paid_on", "community_id", "household_no", "person_id", "program_id", "method",
               "goods", "amount_yuan", "handler", "note")

    def _queue(self, where, params):
        aggregates.queue_payments(self.db.conn, where, params)

    def __init__(self, db, report):
        super().__init__(db, report)
        self.program_names = {i: (n, c) for i, n, c in db.execute("SELECT id, name, category FROM programs")}
        self.programs = {n: i for i, (n, _) in self.program_names.items()}

    def doc_values(self, rowid, r):
        """What search._DOC_SQL selects for the row `r` (a record of this writer)."""
        return (rowid, *self.program_names[r[4]], self.names[r[3]], r[5], r[6], r[8], r[9])

    def record(self, line, r, person, community_id):
        program_id = self.programs.get(r["program"])
        if program_id is None:
            self.error(line, "项目", f"未知的项目「{r['program']}」（项目表中没有，请先在项目表中添加）")
            return None
        return (r["paid_on"], community_id, r["household_no"], person[1], program_id,
                r["method"], r["goods"], _yuan(r["amount_yuan"]), r["handler"], r["note"])



class VisitsWriter(_BulkEvents):
    table = "visits"
    columns = ("visited_on", "community_id", "household_no", "person_id", "visitors", "purpose",
               "note")

    def _queue(self, where, params):
        aggregates.queue_visits(self.db.conn, where, params)

    def record(self, line, r, person, community_id):
        return (r["visited_on"], community_id, r["household_no"], person[1],
                r["visitors"], r["purpose"], r["note"])

    def doc_values(self, rowid, r):
        return rowid, self.names[r[3]], r[4], r[5], r[6]


class DeathsWriter(_PersonEventWriter):
    def record(self, line, r, person, community_id):
        if person[4] and r["died_on"] < person[4]:
            self.error(line, "死亡日期", f"早于出生日期 {person[4]}")
            return None
        return person[1], community_id, r["died_on"], int(r["cremated"]), r["note"]

    def flush(self, out):
        for person_id, community_id, died_on, cremated, note in out:
            _, outcome = self.upsert("deaths", {"person_id": person_id}, {
                "community_id": community_id, "died_on": died_on, "cremated": cremated,
                "note": note})
            self.tally(outcome)


class DibaoWriter(_PersonEventWriter):
    id_column, name_column = "户主身份证号", "户主姓名"

    def record(self, line, r, person, community_id):
        if person[5] != r["household_no"]:
            self.error(line, "户号", f"户主在居民名册中的户号为「{person[5]}」")
            return None
        if r["end_month"] and r["end_month"] < r["start_month"]:
            self.error(line, "终止月份", f"早于起始月份 {r['start_month']}")
            return None
        status = r["status"] or ("停保" if r["end_month"] else "在保")
        household_id = self.db.execute(
            "SELECT household_id FROM persons WHERE id = ?", [person[1]]).fetchone()[0]
        return household_id, r["start_month"], {
            "community_id": community_id, "head_person_id": person[1],
            "persons_covered": r["persons_covered"], "monthly_yuan": _yuan(r["monthly_yuan"]),
            "end_month": r["end_month"], "status": status, "note": r["note"]}

    def flush(self, out):
        for household_id, start_month, values in out:
            _, outcome = self.upsert(
                "dibao_enrolments", {"household_id": household_id, "start_month": start_month},
                values)
            self.tally(outcome)


class ElectionsWriter(Writer):
    def write(self, rows):
        for line, r in rows:
            if r["ballots_cast"] > r["registered_voters"]:
                self.error(line, "参加投票人数", "大于登记选民数")
                continue
            if r["valid_ballots"] is not None and r["valid_ballots"] > r["ballots_cast"]:
                self.error(line, "有效票数", "大于参加投票人数")
                continue
            community_id = self.community(line, r["community"], create=True)
            _, outcome = self.upsert("elections", {"community_id": community_id, "term": r["term"]}, {
                "held_on": r["held_on"], "method": r["method"], "households": r["households"],
                "registered_voters": r["registered_voters"], "ballots_cast": r["ballots_cast"],
                "valid_ballots": r["valid_ballots"], "seats": r["seats"], "note": r["note"]})
            self.tally(outcome)


class CandidatesWriter(Writer):
    def write(self, rows):
        for line, r in rows:
            election = self.db.execute(
                "SELECT e.id, e.ballots_cast, e.held_on FROM elections e"
                " JOIN communities c ON c.id = e.community_id WHERE c.name = ? AND e.term = ?",
                [r["community"], r["term"]]).fetchone()
            if election is None:
                self.error(line, "届次", f"找不到「{r['community']}」第{r['term']}届的选举记录：请先导入选举表")
                continue
            if r["votes"] > election[1]:
                self.error(line, "得票数", f"大于参加投票人数 {election[1]}")
                continue
            if r["birth_date"] >= election[2]:
                self.error(line, "出生日期", f"不早于选举日期 {election[2]}")
                continue
            if r["role"] and not r["elected"]:
                self.error(line, "职务", "未当选的候选人不能填写职务")
                continue
            _, outcome = self.upsert(
                "candidates", {"election_id": election[0], "round": r["round"] or 1, "name": r["name"]},
                {"gender": r["gender"], "birth_date": r["birth_date"], "education": r["education"],
                 "party": r["party"], "votes": r["votes"], "elected": int(r["elected"]),
                 "role": r["role"]})
            self.tally(outcome)


WRITERS = {
    "programs": ProgramsWriter, "registry": RegistryWriter, "disbursements": DisbursementsWriter,
    "visits": VisitsWriter, "deaths": DeathsWriter, "dibao": DibaoWriter,
    "elections": ElectionsWriter, "candidates": CandidatesWriter,
}
