"""A reusable leak checker for public artefacts (files, HTTP responses).

    patterns = canary_strings({"name": ["尉迟金翎"], "id_number": ["500199193202299171"], ...})
    hits = scan_bytes(Path("public.db").read_bytes(), patterns)      # [] when clean
    hits = scan_text(response.text, patterns, exclude=["尉迟金翎"])   # ignore an echoed query

`canary_strings` turns each sensitive value into every form in which it could plausibly
reach a file or a web page: UTF-8, GBK, UTF-16 (LE and BE), full-width digits and letters,
URL percent-encoding (upper and lower hex), Datasette tilde-encoding, JSON and HTML
escapes, base64, hex, thousands-grouped and IEEE-754 forms of amounts, unkeyed hashes of
identity numbers and phones. A label is "<kind>:<value>|<encoding>", so a hit says which
value leaked and how it was written.

`assert_no_small_counts` / `small_counts` is the suppression check: in the public database
no count cell of a table that the (real) policy marks `suppress: true` may be between 1 and
threshold - 1, and no rate or amount may stand beside a hidden count.

`structure_violations` checks the file against the allow-list (tables, columns, no views,
triggers, FTS/virtual or sqlite_stat tables, no free pages, not in WAL mode), and
`subtraction_leaks` plays the differencing attacker: hidden cells recomputed from
published totals by adding and subtracting.

Independent of the product code on purpose, except `load_policy` (to read publish.yml).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from datasette.utils import tilde_encode

# Kinds whose values get unkeyed hashes (someone "pseudonymising" by hashing is a leak:
# the space of 身份证号 and phone numbers is small enough to invert a plain hash).
HASHED_KINDS = {"id_number", "phone"}
# Kinds that are amounts of money: grouped ("8,765.43") and binary REAL forms too.
AMOUNT_KINDS = {"amount"}


def fullwidth(s: str) -> str:
    """ASCII printable characters (digits, letters, punctuation) → their full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _lower_percent(s: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), s)


def _json_escapes(s: str, upper: bool = False) -> str:
    escaped = json.dumps(s)[1:-1]  # ensure_ascii: non-ASCII → \\uXXXX
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped) if upper \
        else escaped


def _forms(kind: str, value: str) -> dict[str, str | bytes]:
    forms: dict[str, str | bytes] = {
        "text": value,
        "fullwidth": fullwidth(value),
        "percent": quote(value, safe=""),
        "percent-lower": _lower_percent(quote(value, safe="")),
        "tilde": tilde_encode(value),
        "json": _json_escapes(value),
        "json-upper": _json_escapes(value, upper=True),
        "html-dec": "".join(f"&#{ord(c)};" for c in value),
        "html-hex": "".join(f"&#x{ord(c):x};" for c in value),
        "html-escape": html.escape(value),
        "base64": base64.b64encode(value.encode()).decode(),
        "hex": value.encode().hex(),
        "hex-upper": value.encode().hex().upper(),
        "utf16le": value.encode("utf-16-le"),
        "utf16be": value.encode("utf-16-be"),
    }
    try:
        forms["gbk"] = value.encode("gbk")
    except UnicodeEncodeError:
        forms["gb18030"] = value.encode("gb18030")
    if kind in HASHED_KINDS:
        for algorithm in ("md5", "sha1", "sha256"):
            digest = hashlib.new(algorithm, value.encode()).hexdigest()
            forms[algorithm] = digest
            forms[algorithm + "-upper"] = digest.upper()
    if kind in AMOUNT_KINDS:
        number = float(value)
        forms["grouped"] = f"{number:,.2f}"
        forms["grouped-fullwidth"] = fullwidth(f"{number:,.2f}")
        forms["f64be"] = struct.pack(">d", number)  # how SQLite stores a REAL
        forms["f64le"] = struct.pack("<d", number)
    return forms


def canary_strings(canaries: dict[str, list[str]] | list[tuple[str, str]]) -> dict[str, str | bytes]:
    """{label: needle} for every sensitive value in every encoding.

    `canaries` maps a kind ("name", "id_number", "phone", "address", "note", "household",
    "amount", …) to its values (or is a list of (kind, value) pairs). Needles that are
    byte-identical to another form of the same value (e.g. the percent-encoding of a
    phone number) are listed once. Labels are "<kind>:<value>|<encoding>"."""
    pairs = canaries.items() if isinstance(canaries, dict) else [(k, [v]) for k, v in canaries]
    out: dict[str, str | bytes] = {}
    for kind, values in pairs:
        for value in values:
            seen: set[bytes] = set()
            for encoding, needle in _forms(kind, str(value)).items():
                key = needle if isinstance(needle, bytes) else needle.encode()
                if key in seen or not key:
                    continue
                seen.add(key)
                out[f"{kind}:{value}|{encoding}"] = needle
    return out


def value_of(label: str) -> str:
    """The raw canary value a label stands for."""
    return label.split("|", 1)[0].split(":", 1)[1]


@dataclass(frozen=True)
class Hit:
    label: str
    offset: int
    context: bytes

    def __str__(self):
        return f"{self.label} @ {self.offset}: {self.context!r}"


def _needles(patterns, exclude):
    excluded = {str(e) for e in exclude or ()}
    for label, needle in patterns.items():
        if value_of(label) in excluded:
            continue
        yield label, needle if isinstance(needle, bytes) else needle.encode("utf-8")


def scan_bytes(blob: bytes, patterns: dict[str, str | bytes], exclude=()) -> list[Hit]:
    """Every needle found in `blob` (str needles are searched as UTF-8).

    `exclude` lists canary values to ignore in every encoding: a response may echo the
    query you sent, but nothing else."""
    hits = []
    for label, needle in _needles(patterns, exclude):
        at = blob.find(needle)
        if at >= 0:
            hits.append(Hit(label, at, blob[max(0, at - 40): at + len(needle) + 40]))
    return hits


def scan_text(text: str, patterns: dict[str, str | bytes], exclude=()) -> list[Hit]:
    """Like scan_bytes, for decoded text (str needles compared as text, and the text's
    UTF-8 bytes searched for the byte needles)."""
    return scan_bytes(text.encode("utf-8", "surrogatepass"), patterns, exclude)


def db_files(db_path) -> list[Path]:
    """A database file and every sidecar SQLite may leave beside it."""
    db_path = Path(db_path)
    sidecars = [Path(f"{db_path}{suffix}") for suffix in ("-wal", "-journal", "-shm")]
    return [db_path] + [p for p in sidecars if p.exists()]


def scan_db_files(db_path, patterns) -> dict[str, list[Hit]]:
    """{file name: hits} over the database file and its -wal/-journal/-shm, if any."""
    return {p.name: hits for p in db_files(db_path)
            if (hits := scan_bytes(p.read_bytes(), patterns))}


# ---------------------------------------------------------------- suppression

def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def suppressed_count_columns(policy: dict) -> dict[str, list[str]]:
    """{table: [count columns]} for every table the policy marks `suppress: true`."""
    return {table: [c for c, how in spec["columns"].items() if how == "count"]
            for table, spec in policy["tables"].items() if spec.get("suppress")}


def small_counts(public_db_path, threshold: int, policy: dict | None = None) -> list[str]:
    """Every published count in (0, threshold) in a table the policy suppresses, and every
    rate or amount published in a row whose count is hidden.

    Pass the REAL policy (default: publish.yml), whatever policy built the file: the
    check is what the published file must satisfy, not what the builder believed."""
    if policy is None:
        from ingest.publish import load_policy
        policy = load_policy()
    conn = sqlite3.connect(f"file:{Path(public_db_path).resolve()}?mode=ro&immutable=1", uri=True)
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        violations = []
        for table, columns in suppressed_count_columns(policy).items():
            if table not in present:
                violations.append(f"{table}: missing from the public database")
                continue
            for column in columns:
                for rowid, value in conn.execute(
                        f'SELECT rowid, "{column}" FROM "{table}"'
                        f' WHERE "{column}" > 0 AND "{column}" < ?', [threshold]):
                    violations.append(f"{table}.{column} row {rowid} = {value}")
            # a hidden count must not be recoverable from its own row: no rate or amount
            # published beside it
            derived = [c for c, how in policy["tables"][table]["columns"].items()
                       if how in ("money", "rate")]
            if columns and derived:
                for rowid, *values in conn.execute(
                        f'SELECT rowid, {", ".join(q(c) for c in derived)} FROM "{table}" WHERE '
                        + " OR ".join(f"{q(c)} IS NULL" for c in columns)):
                    shown = [c for c, v in zip(derived, values) if v is not None]
                    if shown:
                        violations.append(f"{table} row {rowid}: {shown} published beside a hidden count")
        return violations
    finally:
        conn.close()


def assert_no_small_counts(public_db_path, threshold: int, policy: dict | None = None) -> None:
    violations = small_counts(public_db_path, threshold, policy)
    assert not violations, (f"{len(violations)} published counts below the threshold {threshold}:\n"
                            + "\n".join(violations[:20]))


# ---------------------------------------------------------------- structure (allow-list)

def allowed_columns(policy: dict, public_queries: dict) -> dict[str, set[str]]:
    """{table: columns a public table may have}, from the policy alone: the columns it does
    not drop (an age_band transform publishes `age_band`), the parameters of the public
    stored query that serves a summary table, and `suppressed` where suppression is on."""
    allowed = {}
    for table, spec in policy["tables"].items():
        columns = set()
        for column, how in spec["columns"].items():
            if how == "drop":
                continue
            columns.add("age_band" if isinstance(how, dict) and "age_band" in how else column)
        if "summary" in spec:
            columns |= set(public_queries.get(spec["summary"], {}).get("params", []))
            if spec.get("suppress"):
                columns.add("suppressed")
        allowed[table] = columns
    allowed["_manifest"] = {"key", "value"}
    return allowed


def structure_violations(public_db_path, policy: dict, public_queries: dict) -> list[str]:
    """What a public database file must not have: views, triggers, virtual (FTS) tables,
    sqlite_stat/sqlite_sequence tables, free pages, WAL mode in the header, any table the
    policy does not name (besides _manifest), any column the policy does not allow."""
    path = Path(public_db_path)
    header = path.read_bytes()[:100]
    problems = []
    if header[18:20] != b"\x01\x01":
        problems.append(f"file header says journal mode {tuple(header[18:20])} (2 = WAL): "
                        "an immutable reader would ignore a WAL")
    conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro&immutable=1", uri=True)
    try:
        allowed = allowed_columns(policy, public_queries)
        for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master"):
            if kind in ("view", "trigger"):
                problems.append(f"{kind} {name}")
            elif kind == "table":
                if name.startswith("sqlite_"):
                    problems.append(f"internal table {name}")
                elif sql and "VIRTUAL" in sql.upper().split("(")[0]:
                    problems.append(f"virtual table {name}")
                elif name not in allowed:
                    problems.append(f"table {name} is not in the policy")
                else:
                    columns = [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{name}")')]
                    extra = [c for c in columns if c not in allowed[name]]
                    if extra:
                        problems.append(f"table {name}: columns {extra} are not allowed by the policy")
        missing = set(allowed) - {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        problems += [f"table {t} is missing" for t in sorted(missing)]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free:
            problems.append(f"{free} free pages (deleted content may linger)")
    finally:
        conn.close()
    return problems


# ---------------------------------------------------------------- differencing attack

def _published_cells(conn, policy, table):
    spec = policy["tables"][table]
    measures = [c for c, how in spec["columns"].items() if how in ("count", "money")]
    columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    labels = [c for c in columns if c not in measures and spec["columns"].get(c) != "rate"
              and c not in ("suppressed", "year", "community")]
    cursor = conn.execute(f'SELECT * FROM "{table}"')
    names = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(names, values))
        key = (row.get("year", ""), row.get("community", ""), *(row[c] for c in labels))
        yield key, row, measures


def subtraction_leaks(public_db_path, policy: dict, public_queries: dict | None = None) -> list[str]:
    """Suppressed cells an attacker can recompute from published ones by adding and
    subtracting (one unknown at a time, repeated until nothing more is learnt).

    Relations used (absent rows are zero, as a GROUP BY leaves them out):
    communities add up to the all-communities row; years add up to the all-years row;
    programmes add up to their category; months add up to the category of their year
    (and of all years); categories add up to the community's total; communities' totals
    add up to the all-communities category totals. Additive measures only: payments and
    total_yuan of the relief tables, registered/visited/assisted of coverage."""
    conn = sqlite3.connect(f"file:{Path(public_db_path).resolve()}?mode=ro&immutable=1", uri=True)
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    cells, hidden = {}, set()  # (summary, measure, *key) -> value or None
    for table, spec in policy["tables"].items():
        if not spec.get("suppress") or table not in present:
            continue
        summary = spec["summary"]
        for key, row, measures in _published_cells(conn, policy, table):
            for m in measures:
                if summary in ("relief_by_category", "relief_by_program", "relief_by_month",
                               "relief_by_community") and m not in ("payments", "total_yuan"):
                    continue
                if summary == "coverage" and m not in ("registered", "visited", "assisted"):
                    continue
                cells[(summary, m, *key)] = row[m]
                if row[m] is None:
                    hidden.add((summary, m, *key))
    conn.close()

    def cell(summary, m, *key):
        return (summary, m, *key)

    equations = []  # (total, parts): value(total) = sum(values(parts)), absent cells = 0
    by = {}
    for c in cells:
        by.setdefault(c[0], []).append(c)
    for summary, group in by.items():
        # communities → all communities (label key = everything but community)
        totals = {}
        for c in group:
            totals.setdefault((c[1], c[2], *c[4:]), []).append(c)
        for (m, year, *labels), members in totals.items():
            total = cell(summary, m, year, "", *labels)
            parts = [c for c in members if c[3] != ""]
            if total in cells:
                equations.append((total, parts))
        if summary in ("relief_by_category", "relief_by_program", "relief_by_community"):
            years = {}
            for c in group:
                years.setdefault((c[1], c[3], *c[4:]), []).append(c)
            for (m, community, *labels), members in years.items():
                total = cell(summary, m, "", community, *labels)
                if total in cells:
                    equations.append((total, [c for c in members if c[2] != ""]))
    for m in ("payments", "total_yuan"):
        for c in by.get("relief_by_category", []):
            if c[1] != m:
                continue
            _, _, year, community, category = c
            equations.append((c, [p for p in by.get("relief_by_program", []) if p[1] == m
                                  and p[2] == year and p[3] == community and p[5] == category]))
            equations.append((c, [p for p in by.get("relief_by_month", []) if p[1] == m
                                  and (year == "" or p[4][:4] == year) and p[3] == community
                                  and p[5] == category]))
        for c in by.get("relief_by_community", []):
            if c[1] == m:
                _, _, year, community = c
                equations.append((c, [p for p in by.get("relief_by_category", []) if p[1] == m
                                      and p[2] == year and p[3] == community]))
        for year in {c[2] for c in by.get("relief_by_community", [])}:
            whole = [p for p in by.get("relief_by_category", []) if p[1] == m and p[2] == year
                     and p[3] == ""]
            parts = [p for p in by.get("relief_by_community", []) if p[1] == m and p[2] == year]
            if whole:
                equations.append((("sum", m, year), whole))  # a virtual total…
                equations.append((("sum", m, year), parts))  # …reached two ways

    known = {c: v for c, v in cells.items() if v is not None}
    learnt = {}
    changed = True
    while changed:
        changed = False
        for total, parts in equations:
            unknown = [c for c in [total, *parts] if c not in known]
            if len(unknown) != 1:
                continue
            (u,) = unknown
            rest = sum(known[c] for c in parts if c != u)
            value = rest if u == total else known[total] - rest
            known[u] = value
            changed = True
            if u in hidden:
                learnt[u] = value
    return [f"{c[0]}.{c[1]} year={c[2]!r} community={c[3]!r} {list(c[4:])} = {round(v, 2)}"
            for c, v in sorted(learnt.items(), key=str)]
