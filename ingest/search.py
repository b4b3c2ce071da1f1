"""Staff Chinese search: FTS5 indexes over segmented text, kept current by triggers.

Documents. Each searched table has an FTS5 table (tokenizer unicode61) whose rowid is the
base row's id: `persons_fts`, `disbursements_fts`, `visits_fts`. unicode61 keeps a run of
CJK characters as one token, so the text is pre-segmented: every field is written as its
character unigrams followed by its character bigrams, separated by spaces ("陈世海" →
"陈 世 海 陈世 世海"). Identity numbers and phones (the `code` column) are written as two
single tokens: the number, and "r" + the number reversed - so a prefix query on the
reversed token finds a number by its last digits, however many are typed (4 or more).

The segmentation runs inside SQLite, in the triggers that keep the indexes current, using
only built-in functions (substr, json_each over a generated array of positions, hex,
zeroblob, group_concat): any connection - Datasette's fresh ones included - can compile
and run them, no custom function is needed. Per-field limits (characters indexed; the
rest of a longer value is not searchable) are in `LIMITS`.

Bulk imports: the insert triggers of persons, person_categories, disbursements and visits
stay silent while `_audit_context.bulk` is set (BULK_QUIET); the bulk writers index their
rows with `index_rows`, which builds the same text in Python (`grams`, `code`, `cat`: the
SQL's twins, with a bounded memo of document parts) and inserts it with executemany.

Queries are segmented the same way in Python (`match_expression`): a query is cut at
every character that is not a letter or digit into segments; a one-character segment is
that unigram, a longer one is the phrase of its bigrams (consecutive in the document, so
the phrase matches exactly the documents containing the segment as a substring), and a
letters-and-digits segment of 4 or more characters with a digit (an ID number or its last
digits, a phone) also matches the numbers ending with it (prefix query on the reversed
token) and, from 7 characters, the numbers starting with it. Segments are ANDed. Every
term is quoted, so nothing the user types is FTS syntax. A query that is a single
character searches names only (one character anywhere else is noise).

Ranking: persons whose name is exactly the query first (idx_persons_name), then bm25 with
per-column weights (name before numbers before address before the rest), stored as each
FTS table's `rank`. Every lookup is an FTS index query (EXPLAIN QUERY PLAN: "VIRTUAL TABLE
INDEX n:M"), the result rows are then read by primary key; nothing scans a base table.
"""
from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass

# Characters indexed per field (longer values are indexed up to the limit).
LIMITS = {"name": 50, "address": 200, "program": 100, "text": 500}
# Query guards: characters kept, and segments used (the rest is ignored).
MAX_QUERY_CHARS = 64
MAX_SEGMENTS = 12
# A letters-and-digits segment (with a digit) this long also matches ID and phone numbers by
# their last digits (any number of them); this long, also by their first digits.
CODE_MIN = 4
PREFIX_MIN = 7
# Broad queries (a common surname, 低保 over a million residents): counting stops at
# COUNT_CAP (shown as "超过 10000 条"), and more than RANK_MAX matches are listed newest first instead
# of by relevance (bm25 over every match would cost time and tell them apart little).
COUNT_CAP = 10_000
RANK_MAX = 5_000


# ---------------------------------------------------------------- document SQL (triggers)

def grams_sql(expr: str, limit: int) -> str:
    """SQL for the segmented text of `expr`: its unigrams, then its bigrams, space separated.

    Positions come from json_each over an array of length(v) zeros (key = 0-based index),
    scanned in array order; the value is computed once in the innermost subquery."""
    return (
        "(SELECT (SELECT coalesce(group_concat(substr(v, key + 1, 1), ' '), '') FROM json_each(a))"
        " || ' ' || (SELECT coalesce(group_concat(substr(v, key + 1, 2), ' '), '') FROM json_each(a)"
        " WHERE key + 1 < length(v))"
        " FROM (SELECT v, '[' || rtrim(replace(hex(zeroblob(length(v))), '00', '0,'), ',') || ']' AS a"
        f" FROM (SELECT substr(coalesce({expr}, ''), 1, {limit}) AS v)))"
    )


def _code_sql(expr: str) -> str:
    """A number (spaces and dashes removed) as itself and as "r" + the number reversed."""
    return (
        "(SELECT CASE WHEN v = '' THEN '' ELSE v || ' r' || (SELECT group_concat(substr(v, -1 - key, 1), '')"
        " FROM json_each('[' || rtrim(replace(hex(zeroblob(length(v))), '00', '0,'), ',') || ']')) END"
        f" FROM (SELECT replace(replace(replace(coalesce({expr}, ''), ' ', ''), '-', ''), '－', '') AS v))"
    )


def _cat(*exprs: str) -> str:
    return " || ' ' || ".join(f"coalesce({e}, '')" for e in exprs)


@dataclass(frozen=True)
class Index:
    table: str          # base table
    fts: str            # FTS5 table
    columns: tuple      # FTS columns
    weights: tuple      # bm25 weight per column
    name_column: str    # the column a one-character query searches
    select: str         # SELECT of (rowid, *columns) for the base rows matching {where}

    def refresh(self, where: str) -> list[str]:
        """Statements that rebuild the documents of the base rows matching `where`
        (on alias `b`): delete them, insert them again from the current rows."""
        return [
            f"DELETE FROM {self.fts} WHERE rowid IN (SELECT b.id FROM {self.table} b WHERE {where})",
            f"INSERT INTO {self.fts} (rowid, {', '.join(self.columns)}) "
            + self.select.format(where=where),
        ]

    def refresh_one(self, row_id: str) -> list[str]:
        return [f"DELETE FROM {self.fts} WHERE rowid = {row_id}",
                f"INSERT INTO {self.fts} (rowid, {', '.join(self.columns)}) "
                + self.select.format(where=f"b.id = {row_id}")]


PERSONS = Index(
    "persons", "persons_fts", ("name", "code", "address", "other"), (10.0, 5.0, 2.0, 1.0), "name",
    "SELECT b.id, " + grams_sql("b.name", LIMITS["name"]) + ", "
    + _code_sql("b.id_number") + " || ' ' || " + _code_sql("b.phone") + ", "
    + grams_sql("b.address", LIMITS["address"]) + ", "
    + grams_sql(_cat("(SELECT group_concat(c.category, ' ') FROM person_categories c"
                     " WHERE c.person_id = b.id)", "b.disability_grade", "b.note"), LIMITS["text"])
    + " FROM persons b WHERE {where}",
)
DISBURSEMENTS = Index(
    "disbursements", "disbursements_fts", ("program", "person", "other"), (4.0, 2.0, 1.0), "person",
    "SELECT b.id, " + grams_sql(_cat("p.name", "p.category"), LIMITS["program"]) + ", "
    + grams_sql("r.name", LIMITS["name"]) + ", "
    + grams_sql(_cat("b.method", "b.goods", "b.handler", "b.note"), LIMITS["text"])
    + " FROM disbursements b LEFT JOIN programs p ON p.id = b.program_id"
    " LEFT JOIN persons r ON r.id = b.person_id WHERE {where}",
)
VISITS = Index(
    "visits", "visits_fts", ("person", "other"), (2.0, 1.0), "person",
    "SELECT b.id, " + grams_sql("r.name", LIMITS["name"]) + ", "
    + grams_sql(_cat("b.visitors", "b.purpose", "b.note"), LIMITS["text"])
    + " FROM visits b LEFT JOIN persons r ON r.id = b.person_id WHERE {where}",
)
INDEXES = (PERSONS, DISBURSEMENTS, VISITS)
# Triggers silent while _audit_context.bulk is set: the bulk writers index with index_rows.
QUIET = "NOT coalesce((SELECT bulk FROM _audit_context WHERE id = 1), 0)"
BULK_QUIET = ("search_persons_insert", "search_person_categories_insert",
              "search_disbursements_insert", "search_visits_insert")
FTS_TABLES = tuple(i.fts for i in INDEXES)
SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")

_PERSON_FIELDS = ("id", "name", "id_number", "phone", "address", "disability_grade", "note")
_DISBURSEMENT_FIELDS = ("id", "program_id", "person_id", "method", "goods", "handler", "note")
_VISIT_FIELDS = ("id", "person_id", "visitors", "purpose", "note")


def _changed(fields) -> str:
    return " OR ".join(f'OLD."{f}" IS NOT NEW."{f}"' for f in fields)


def _trigger(name, when, table, body: list[str], condition: str = "") -> str:
    cond = f" WHEN {condition}" if condition else ""
    return (f'CREATE TRIGGER "{name}" AFTER {when} ON "{table}"{cond} BEGIN\n  '
            + ";\n  ".join(body) + ";\nEND")


def schema_sql() -> list[str]:
    """The FTS tables, their ranking, and the triggers that keep them current."""
    out = []
    for index in INDEXES:
        out.append(f"CREATE VIRTUAL TABLE {index.fts} USING fts5("
                   f"{', '.join(index.columns)}, tokenize = 'unicode61')")
        weights = ", ".join(str(w) for w in index.weights)
        out.append(f"INSERT INTO {index.fts} ({index.fts}, rank) VALUES ('rank', 'bm25({weights})')")
    P, D, V = PERSONS, DISBURSEMENTS, VISITS
    out += [
        # persons: its own document; a new name also renames it in payments and visits
        # (the insert triggers of bulk-written tables are silent in bulk mode: BULK_QUIET)
        _trigger("search_persons_insert", "INSERT", "persons", P.refresh_one("NEW.id"), QUIET),
        _trigger("search_persons_update", "UPDATE", "persons",
                 ["DELETE FROM persons_fts WHERE rowid = OLD.id", *P.refresh_one("NEW.id")],
                 _changed(_PERSON_FIELDS)),
        _trigger("search_persons_rename", "UPDATE", "persons",
                 [*D.refresh("b.person_id = NEW.id"), *V.refresh("b.person_id = NEW.id")],
                 'OLD."name" IS NOT NEW."name"'),
        _trigger("search_persons_delete", "DELETE", "persons",
                 ["DELETE FROM persons_fts WHERE rowid = OLD.id"]),
        # person_categories belong to the person's document
        _trigger("search_person_categories_insert", "INSERT", "person_categories",
                 P.refresh_one("NEW.person_id"), QUIET),
        _trigger("search_person_categories_update", "UPDATE", "person_categories",
                 [*P.refresh_one("OLD.person_id"), *P.refresh_one("NEW.person_id")]),
        _trigger("search_person_categories_delete", "DELETE", "person_categories",
                 P.refresh_one("OLD.person_id")),
        # programs: name and category are part of every payment's document
        _trigger("search_programs_update", "UPDATE", "programs",
                 D.refresh("b.program_id = NEW.id"),
                 'OLD."name" IS NOT NEW."name" OR OLD."category" IS NOT NEW."category"'),
        _trigger("search_disbursements_insert", "INSERT", "disbursements", D.refresh_one("NEW.id"), QUIET),
        _trigger("search_disbursements_update", "UPDATE", "disbursements",
                 ["DELETE FROM disbursements_fts WHERE rowid = OLD.id", *D.refresh_one("NEW.id")],
                 _changed(_DISBURSEMENT_FIELDS)),
        _trigger("search_disbursements_delete", "DELETE", "disbursements",
                 ["DELETE FROM disbursements_fts WHERE rowid = OLD.id"]),
        _trigger("search_visits_insert", "INSERT", "visits", V.refresh_one("NEW.id"), QUIET),
        _trigger("search_visits_update", "UPDATE", "visits",
                 ["DELETE FROM visits_fts WHERE rowid = OLD.id", *V.refresh_one("NEW.id")],
                 _changed(_VISIT_FIELDS)),
        _trigger("search_visits_delete", "DELETE", "visits",
                 ["DELETE FROM visits_fts WHERE rowid = OLD.id"]),
    ]
    return out


def bulk_quiet_sql() -> list[str]:
    """The insert triggers that are silent in bulk mode (m005 replaces the old ones)."""
    return [sql for sql in schema_sql() if any(f'"{name}"' in sql.split(" AFTER ")[0] for name in BULK_QUIET)]


def backfill_sql() -> list[str]:
    """Index every existing row (the migration runs this once)."""
    return [f"INSERT INTO {i.fts} (rowid, {', '.join(i.columns)}) " + i.select.format(where="1")
            for i in INDEXES]


def rebuild(conn) -> None:
    """Re-index everything from the base tables (repair; not needed in normal operation)."""
    for index in INDEXES:
        conn.execute(f"DELETE FROM {index.fts}")
    for statement in backfill_sql():
        conn.execute(statement)
    for index in INDEXES:
        conn.execute(f"INSERT INTO {index.fts} ({index.fts}) VALUES ('optimize')")


# ---------------------------------------------------------------- bulk indexing (Python)
#
# Bulk writers (ingest/writers.py) write with the insert triggers silent and index their
# rows here: the same document text as the SQL above, segmented in Python with a bounded
# memo (names, programmes and methods repeat heavily), inserted with executemany.
# tests/test_ingest_bulk.py checks the text is the SQL's, character for character.

AUTOMERGE = 4  # FTS5's default
MEMO_SIZE = 60_000  # document parts remembered …
MEMO_MAX_CHARS = 100  # … when their text is this short


def grams(value, limit: int) -> str:
    """Python twin of grams_sql: unigrams, a space, bigrams."""
    v = ("" if value is None else str(value))[:limit]
    return " ".join(v) + " " + " ".join([v[i:i + 2] for i in range(len(v) - 1)])


def code(value) -> str:
    """Python twin of _code_sql."""
    v = ("" if value is None else str(value)).replace(" ", "").replace("-", "").replace("－", "")
    return "" if v == "" else f"{v} r{v[::-1]}"


def cat(*values) -> str:
    """Python twin of _cat."""
    return " ".join("" if x is None else str(x) for x in values)


class Segmenter:
    """Document parts with a bounded memo: part(key, text, limit) is grams(text, limit),
    remembered under `key` (the raw values the text is made of)."""

    def __init__(self, size: int | None = None):
        self.size, self.cache = size or MEMO_SIZE, {}

    def part(self, key, text_of, limit: int) -> str:
        hit = self.cache.get(key)
        if hit is None:
            text = text_of()
            hit = grams(text, limit)
            if text is None or (text.__class__ is str and len(text) <= MEMO_MAX_CHARS):
                if len(self.cache) >= self.size:
                    self.cache.clear()
                self.cache[key] = hit
        return hit

    def __call__(self, value, limit: int) -> str:
        return self.part((limit, value), lambda: value, limit)


_DOC_SQL = {
    "persons": "SELECT b.id, b.name, b.id_number, b.phone, b.address,"
               " (SELECT group_concat(c.category, ' ') FROM person_categories c WHERE c.person_id = b.id),"
               " b.disability_grade, b.note FROM persons b WHERE {where} ORDER BY b.id",
    "disbursements": "SELECT b.id, p.name, p.category, r.name, b.method, b.goods, b.handler, b.note"
                     " FROM disbursements b LEFT JOIN programs p ON p.id = b.program_id"
                     " LEFT JOIN persons r ON r.id = b.person_id WHERE {where} ORDER BY b.id",
    "visits": "SELECT b.id, r.name, b.visitors, b.purpose, b.note FROM visits b"
              " LEFT JOIN persons r ON r.id = b.person_id WHERE {where} ORDER BY b.id",
}


def _person_doc(g, row):
    rowid, name, id_number, phone, address, categories, grade, note = row
    return (rowid, g(name, LIMITS["name"]), code(id_number) + " " + code(phone),
            g(address, LIMITS["address"]),
            g.part(("o", categories, grade, note), lambda: cat(categories, grade, note), LIMITS["text"]))


def _disbursement_doc(g, row):
    rowid, program, category, person, method, goods, handler, note = row
    return (rowid, g.part(("p", program, category), lambda: cat(program, category), LIMITS["program"]),
            g(person, LIMITS["name"]),
            g.part(("o", method, goods, handler, note), lambda: cat(method, goods, handler, note),
                   LIMITS["text"]))


def _visit_doc(g, row):
    rowid, person, visitors, purpose, note = row
    return (rowid, g(person, LIMITS["name"]),
            g.part(("o", visitors, purpose, note), lambda: cat(visitors, purpose, note), LIMITS["text"]))


_DOC = {"persons": _person_doc, "disbursements": _disbursement_doc, "visits": _visit_doc}


def documents(conn, table: str, where: str, params=(), segmenter=None):
    """(rowid, *columns) of the documents of the base rows matching `where` (alias b)."""
    g = segmenter or Segmenter()
    build = _DOC[table]
    return [build(g, row) for row in conn.execute(_DOC_SQL[table].format(where=where), list(params))]


def document(table: str, segmenter, row: tuple) -> tuple:
    """The document of one base row given as the values _DOC_SQL selects (rowid first):
    for bulk writers that have those values at hand (no query)."""
    return _DOC[table](segmenter, row)


def insert_documents(conn, table: str, docs) -> None:
    index = GROUP_BY_TABLE[table].index
    conn.executemany(f"INSERT INTO {index.fts} (rowid, {', '.join(index.columns)})"
                     f" VALUES ({', '.join('?' * (len(index.columns) + 1))})", docs)


@contextlib.contextmanager
def merging_deferred(conn, table: str):
    """FTS5 automerge off for the block (a bulk writer's many small inserts then leave
    segments that only the crisis merge joins: ~20 % less time at 1M rows), restored
    after - inside the writer's transaction, so a rollback restores it too."""
    fts = GROUP_BY_TABLE[table].index.fts
    row = conn.execute(f"SELECT v FROM {fts}_config WHERE k = 'automerge'").fetchone()
    conn.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('automerge', 0)")
    try:
        yield
    finally:
        conn.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('automerge', ?)",
                     [AUTOMERGE if row is None else int(row[0])])


def index_rows(conn, table: str, where: str, params=(), segmenter=None, *, replace=False) -> int:
    """Index the base rows matching `where` (alias b) of `table` (persons, disbursements,
    visits); with replace, their old documents are deleted first. Returns how many."""
    index = GROUP_BY_TABLE[table].index
    if replace:
        conn.execute(f"DELETE FROM {index.fts} WHERE rowid IN (SELECT b.id FROM {table} b WHERE {where})",
                     list(params))
    docs = documents(conn, table, where, params, segmenter)
    insert_documents(conn, table, docs)
    return len(docs)


# ---------------------------------------------------------------- query side (pure)

def _is_token_char(ch: str) -> bool:
    # unicode61's token characters: letters, numbers, private use.
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or cat == "Co"


def normalize(q) -> str:
    """NFKC (full-width digits and letters to ASCII, as the validators store them), trimmed."""
    return unicodedata.normalize("NFKC", str(q or "")).strip()[:MAX_QUERY_CHARS]


def segments(q) -> list[str]:
    """Runs of letters/digits of the query (every other character separates)."""
    out, run = [], []
    for ch in normalize(q):
        if _is_token_char(ch):
            run.append(ch)
        elif run:
            out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))
    return out[:MAX_SEGMENTS]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


_CODE = re.compile(r"^[0-9A-Za-z]+$")


def _segment_expression(segment: str) -> str:
    if len(segment) == 1:
        return _quote(segment)
    phrase = _quote(" ".join(segment[i:i + 2] for i in range(len(segment) - 1)))
    if len(segment) >= CODE_MIN and _CODE.match(segment) and any(c.isdigit() for c in segment):
        options = [_quote("r" + segment[::-1]) + " *",  # the last digits (or the whole number)
                   phrase]                               # a number in an address or note
        if len(segment) >= PREFIX_MIN:
            options.insert(1, _quote(segment) + " *")    # the first digits
        return "(" + " OR ".join(options) + ")"
    return phrase


def match_expression(q) -> str | None:
    """The FTS5 MATCH expression for a user query, or None when nothing is searchable."""
    parts = segments(q)
    if not parts:
        return None
    return " AND ".join(_segment_expression(s) for s in parts)


def names_only(q) -> bool:
    """A one-character query searches names only."""
    parts = segments(q)
    return len(parts) == 1 and len(parts[0]) == 1


def _match_for(index: Index, q) -> str | None:
    expression = match_expression(q)
    if expression is None:
        return None
    if names_only(q):
        return f"{index.name_column} : {expression}"
    return expression


# ---------------------------------------------------------------- searching

@dataclass(frozen=True)
class Group:
    table: str
    title: str
    index: Index
    rows_sql: str  # summary fields of the rows whose ids are in the temp list


GROUPS = (
    Group("persons", "居民", PERSONS,
          "SELECT b.id, b.name, b.gender, b.birth_date, b.id_number, b.phone, b.address,"
          " c.name AS community, h.household_no,"
          " (SELECT group_concat(category, '、') FROM person_categories WHERE person_id = b.id) AS categories"
          " FROM persons b LEFT JOIN communities c ON c.id = b.community_id"
          " LEFT JOIN households h ON h.id = b.household_id WHERE b.id = ?"),
    Group("disbursements", "救助发放", DISBURSEMENTS,
          "SELECT b.id, b.paid_on, p.name AS program, p.category, r.name AS person, b.method,"
          " b.goods, b.amount_yuan, b.note FROM disbursements b"
          " LEFT JOIN programs p ON p.id = b.program_id"
          " LEFT JOIN persons r ON r.id = b.person_id WHERE b.id = ?"),
    Group("visits", "走访记录", VISITS,
          "SELECT b.id, b.visited_on, r.name AS person, b.visitors, b.purpose, b.note FROM visits b"
          " LEFT JOIN persons r ON r.id = b.person_id WHERE b.id = ?"),
)
GROUP_BY_TABLE = {g.table: g for g in GROUPS}


def _money(yuan) -> str:
    return f"{yuan:,.2f} 元" if isinstance(yuan, (int, float)) else ""


def summary(table: str, row: dict) -> tuple[str, str]:
    """(title, one-line Chinese summary) of a result row."""
    if table == "persons":
        bits = [row.get("gender"), row.get("birth_date") and f"{row['birth_date']} 出生",
                row.get("id_number") and f"身份证号 {row['id_number']}",
                row.get("phone") and f"电话 {row['phone']}", row.get("address"),
                row.get("categories") and f"类别：{row['categories']}"]
        return row["name"], " · ".join(b for b in bits if b)
    if table == "disbursements":
        what = _money(row.get("amount_yuan")) or row.get("goods") or ""
        if row.get("goods") and row.get("amount_yuan") is not None:
            what = f"{row['goods']}，{what}"
        bits = [row.get("paid_on"), row.get("category") and f"类别：{row['category']}",
                row.get("person") and f"受助人 {row['person']}", what, row.get("note")]
        return f"{row.get('program') or '发放'} · {row.get('person') or ''}", " · ".join(b for b in bits if b)
    bits = [row.get("visited_on"), row.get("visitors") and f"走访人 {row['visitors']}",
            row.get("purpose") and f"事由：{row['purpose']}", row.get("note")]
    return f"走访 {row.get('person') or ''}", " · ".join(b for b in bits if b)


EXACT_NAME_SQL = "SELECT id FROM persons WHERE name = ? ORDER BY id"


def ids_sql(index: Index, ranked: bool = True) -> str:
    """Rowids of an FTS table for a MATCH expression, best (or newest) first
    (parameters: match, limit)."""
    order = "rank, rowid" if ranked else "rowid DESC"
    return f"SELECT rowid FROM {index.fts} WHERE {index.fts} MATCH ? ORDER BY {order} LIMIT ?"


def count_sql(index: Index) -> str:
    """How many documents match (parameters: match, cap); stops counting after `cap`."""
    return f"SELECT count(*) FROM (SELECT rowid FROM {index.fts} WHERE {index.fts} MATCH ? LIMIT ?)"


def _exact_person_ids(conn, q) -> list[int]:
    name = normalize(q)
    return [r[0] for r in conn.execute(EXACT_NAME_SQL, [name]).fetchall()] if name else []


def count(conn, table: str, q, cap: int | None = None) -> int:
    """Matching rows of `table`, counted up to cap + 1 (more than `cap` → cap + 1);
    `cap` defaults to COUNT_CAP."""
    cap = COUNT_CAP if cap is None else cap
    index = GROUP_BY_TABLE[table].index
    match = _match_for(index, q)
    if match is None:
        return 0
    return conn.execute(count_sql(index), [match, cap + 1]).fetchone()[0]


def ids(conn, table: str, q, limit: int = 20, offset: int = 0, *, ranked: bool | None = None) -> list[int]:
    """Matching row ids of `table`: persons with exactly that name first, then by bm25
    (or, past RANK_MAX matches, newest first)."""
    index = GROUP_BY_TABLE[table].index
    match = _match_for(index, q)
    if match is None:
        return []
    if ranked is None:
        ranked = count(conn, table, q, RANK_MAX) <= RANK_MAX
    exact = _exact_person_ids(conn, q) if table == "persons" else []
    rows = conn.execute(ids_sql(index, ranked), [match, offset + limit + len(exact)]).fetchall()
    ranked_ids = exact + [r[0] for r in rows if r[0] not in exact]
    return ranked_ids[offset:offset + limit]


def _rows(conn, group: Group, row_ids: list[int]) -> list[dict]:
    out = []
    for row_id in row_ids:
        cursor = conn.execute(group.rows_sql, [row_id])
        values = cursor.fetchone()
        if values is None:  # not expected: the triggers delete documents with their rows
            continue
        out.append(dict(zip([d[0] for d in cursor.description], values)))
    return out


def search(conn, q, *, tables=None, limit: int = 20, offset: int = 0,
           database: str = "community") -> dict:
    """Grouped results: {"q", "groups": [{table, title, count, capped, rows: [{id, url, title,
    summary}]}]} - `capped`: more than COUNT_CAP matches, `count` is then COUNT_CAP.

    `tables` restricts the groups (the caller passes only tables the actor may read)."""
    tables = [g.table for g in GROUPS] if tables is None else tables
    groups = []
    for group in GROUPS:
        if group.table not in tables:
            continue
        found = count(conn, group.table, q)
        rows = []
        for row in _rows(conn, group, ids(conn, group.table, q, limit, offset,
                                          ranked=found <= RANK_MAX)):
            title, line = summary(group.table, row)
            rows.append({"id": row["id"], "url": f"/{database}/{group.table}/{row['id']}",
                         "title": title, "summary": line})
        groups.append({"table": group.table, "title": group.title,
                       "count": min(found, COUNT_CAP), "capped": found > COUNT_CAP, "rows": rows})
    return {"q": normalize(q), "groups": groups}


def persons(conn, q, limit: int = 20) -> list[dict]:
    """The person picker's search: persons by name (full or part), 身份证号 (whole or last
    digits), phone or address, best first - the same dicts as forms.person_summary."""
    row_ids = ids(conn, "persons", q, limit)
    out = []
    for row_id in row_ids:
        row = conn.execute(
            "SELECT p.id, p.name, p.id_number, c.name, h.household_no, p.birth_date"
            " FROM persons p JOIN communities c ON c.id = p.community_id"
            " LEFT JOIN households h ON h.id = p.household_id WHERE p.id = ?", [row_id]).fetchone()
        if row:
            out.append(dict(zip(("id", "name", "id_number", "community", "household_no",
                                 "birth_date"), row)))
    return out
