"""Schema of community.db as ordered migrations (sqlite-utils Database).

Every schema change is a new function appended to MIGRATIONS; applied names are
recorded in `_migrations`, so `migrate()` is idempotent and safe on every start.
"""
from __future__ import annotations

import datetime

import sqlite_utils

from . import audit
from .validators import PROGRAMS

INITIAL = """
CREATE TABLE communities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    district TEXT,
    note TEXT
);
CREATE TABLE households (
    id INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    household_no TEXT NOT NULL,
    address TEXT,
    UNIQUE (community_id, household_no)
);
CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    id_legacy INTEGER NOT NULL DEFAULT 0 CHECK (id_legacy IN (0, 1)),
    name TEXT NOT NULL,
    gender TEXT CHECK (gender IN ('男', '女')),
    birth_date TEXT,
    phone TEXT,
    address TEXT,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    household_id INTEGER REFERENCES households(id),
    disability_grade TEXT,
    note TEXT
);
CREATE TABLE person_categories (
    person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    PRIMARY KEY (person_id, category)
);
CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL
);
CREATE TABLE disbursements (
    id INTEGER PRIMARY KEY,
    paid_on TEXT NOT NULL,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    household_no TEXT,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    program_id INTEGER NOT NULL REFERENCES programs(id),
    method TEXT,
    goods TEXT,
    amount_yuan REAL CHECK (amount_yuan IS NULL OR amount_yuan >= 0),
    amount_fen INTEGER GENERATED ALWAYS AS (CAST(round(amount_yuan * 100) AS INTEGER)) STORED,
    handler TEXT,
    note TEXT
);
CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    visited_on TEXT NOT NULL,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    household_no TEXT,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    visitors TEXT,
    purpose TEXT,
    note TEXT
);
CREATE TABLE dibao_enrolments (
    id INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    household_id INTEGER NOT NULL REFERENCES households(id),
    head_person_id INTEGER NOT NULL REFERENCES persons(id),
    persons_covered INTEGER NOT NULL CHECK (persons_covered >= 1),
    monthly_yuan REAL NOT NULL CHECK (monthly_yuan >= 0),
    monthly_fen INTEGER GENERATED ALWAYS AS (CAST(round(monthly_yuan * 100) AS INTEGER)) STORED,
    start_month TEXT NOT NULL,
    end_month TEXT,
    status TEXT NOT NULL DEFAULT '在保' CHECK (status IN ('在保', '渐退', '停保')),
    note TEXT,
    UNIQUE (household_id, start_month)
);
CREATE TABLE elections (
    id INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    term INTEGER NOT NULL,
    held_on TEXT NOT NULL,
    method TEXT NOT NULL,
    households INTEGER,
    registered_voters INTEGER NOT NULL,
    ballots_cast INTEGER NOT NULL,
    valid_ballots INTEGER,
    seats INTEGER NOT NULL,
    note TEXT,
    UNIQUE (community_id, term)
);
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    election_id INTEGER NOT NULL REFERENCES elections(id),
    round INTEGER NOT NULL DEFAULT 1,
    name TEXT NOT NULL,
    gender TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    education TEXT NOT NULL,
    party TEXT NOT NULL,
    votes INTEGER NOT NULL,
    elected INTEGER NOT NULL CHECK (elected IN (0, 1)),
    role TEXT,
    UNIQUE (election_id, round, name)
);
CREATE TABLE deaths (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL UNIQUE REFERENCES persons(id),
    community_id INTEGER NOT NULL REFERENCES communities(id),
    died_on TEXT NOT NULL,
    cremated INTEGER NOT NULL CHECK (cremated IN (0, 1)),
    note TEXT
);
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sheet TEXT,
    rows_added INTEGER NOT NULL,
    rows_updated INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    loaded_at TEXT NOT NULL,
    actor TEXT
);
CREATE INDEX idx_persons_community ON persons(community_id);
CREATE INDEX idx_persons_household ON persons(household_id);
CREATE INDEX idx_persons_name ON persons(name);
CREATE INDEX idx_person_categories_category ON person_categories(category, person_id);
CREATE INDEX idx_disbursements_paid_on ON disbursements(paid_on);
CREATE INDEX idx_disbursements_community_paid_on ON disbursements(community_id, paid_on);
CREATE INDEX idx_disbursements_person ON disbursements(person_id, paid_on);
CREATE INDEX idx_disbursements_program ON disbursements(program_id, paid_on);
CREATE INDEX idx_visits_visited_on ON visits(visited_on);
CREATE INDEX idx_visits_person ON visits(person_id, visited_on);
CREATE INDEX idx_dibao_head ON dibao_enrolments(head_person_id);
CREATE INDEX idx_elections_term ON elections(term);
CREATE INDEX idx_candidates_election ON candidates(election_id);
CREATE INDEX idx_deaths_died_on ON deaths(died_on);
"""


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # executescript() would COMMIT mid-migration; run statement by statement instead.
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def m001_initial(db: sqlite_utils.Database) -> None:
    _run_script(db, INITIAL)
    db["programs"].insert_all(
        ({"name": name, "category": category} for name, category in PROGRAMS.items())
    )


def m002_audit_log(db: sqlite_utils.Database) -> None:
    _run_script(db, audit.AUDIT_LOG)
    for table in audit.AUDITED:
        for statement in audit.trigger_sql(db.conn, table):
            db.execute(statement)


def m003_search(db: sqlite_utils.Database) -> None:
    """Staff search: FTS5 indexes over segmented text, their triggers, and a backfill
    (see ingest/search.py)."""
    from . import search

    for statement in search.schema_sql() + search.backfill_sql():
        db.execute(statement)


def m004_aggregates(db: sqlite_utils.Database) -> None:
    """Summary aggregates kept current by triggers, filled from the existing rows
    (see ingest/aggregates.py)."""
    from . import aggregates

    for statement in aggregates.schema_sql():
        db.execute(statement)


def m005_bulk_ingest(db: sqlite_utils.Database) -> None:
    """Bulk ingest: the audit and search insert triggers of persons, their categories,
    payments and visits stay silent while `_audit_context.bulk` is set; the bulk writers
    (ingest/writers.py) record and index their rows set by set."""
    from . import search

    for table in audit.BULK_INSERTS:
        db.execute(f'DROP TRIGGER IF EXISTS "audit_{table}_insert"')
        db.execute(audit.trigger_sql(db.conn, table)[0])
    for name in search.BULK_QUIET:
        db.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    for statement in search.bulk_quiet_sql():
        db.execute(statement)


def m006_faster_apply(db: sqlite_utils.Database) -> None:
    """Aggregates: the delta is expanded to its cells level by level into a keyed scratch
    table (the same figures, ~20 % less time; see aggregates._expand)."""
    from . import aggregates

    for statement in aggregates.new_apply_sql("_agg_x"):
        db.execute(statement)


def m007_coverage_in_key_order(db: sqlite_utils.Database) -> None:
    """Aggregates: the activity delta keyed by (person, year) and the coverage statements
    joined in a fixed order (aggregates._LV_JOIN). Every one-row write scanned all of
    agg_cov_member eight times (the four membership statements, lv outermost; with 20,000
    more persons: 977k virtual-machine steps for one payment instead of 17k), and a
    5M-row import ran several sorts at once."""
    from . import aggregates

    for statement in aggregates.new_apply_sql("_agg_act"):
        db.execute(statement)


MIGRATIONS = [m001_initial, m002_audit_log, m003_search, m004_aggregates, m005_bulk_ingest,
              m006_faster_apply, m007_coverage_in_key_order]


def connect(path) -> sqlite_utils.Database:
    """Open community.db the way every writer must: WAL, foreign keys, busy timeout.
    Writes to audited tables also need `audit.acting(db.conn, actor, via)` in their
    transaction."""
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    return db


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations, each in its own transaction; return their names."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                [migration.__name__, datetime.datetime.now().isoformat(timespec="seconds")],
            )
        applied.append(migration.__name__)
    return applied
