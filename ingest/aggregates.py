"""Summaries that cost O(groups): aggregate tables kept exactly current on every write.

The stored queries of summaries.md read these tables instead of scanning the payments.

Relief. `agg_relief` holds one row per (dim, community_id, year, grp): payments, distinct
recipients and the sum in fen, for dim `program` (grp = program id) and `category` (grp =
category) at the four levels year/all years ('') × community/all communities (0),
`community` (grp '') at year and all years, and `month` (year holds 'YYYY-MM', grp the
category; community and all communities; recipients not kept: 0). Distinct recipients are
exact under deletes because `agg_relief_reach` keeps, per cell and person, that person's
payments and fen (a reference count; also the contributions publish's dominance rule
needs). Month cells are reached at the community level only.

Coverage. A person's membership of each group is an interval of years
(`agg_cov_member`: from -9999, or the year they turn 80 for 高龄, to their death year or
9999); `agg_cov_span` counts persons per (community, group, start, end), so `registered`
for a year is a sum over a few spans. `agg_cov_activity` counts each person's visits and
payments per year; `agg_cov_year` counts members visited / assisted per year (within
their interval) and `agg_cov_ever` those, alive now, ever visited / assisted, by start
year (so "as of today" needs no refresh when the year turns).

Every change goes through one set of statements (APPLY) over scratch tables: payment and
visit deltas (`_agg_delta`) and persons to recompute (`_agg_pset`). Triggers queue the
row(s) a write touched in the scratch tables, and triggers on those run APPLY; a bulk writer sets
`_audit_context.bulk = 1` (the triggers then stay silent), writes its rows, queues them
with `queue_*` and runs `apply()` once - the same statements, set-based. `check()`
rebuilds every table from the raw rows into TEMP shadows and reports any difference.
"""
from __future__ import annotations

import contextlib
import sqlite3

FOREVER, NEVER = 9999, -9999
MILITARY = ("军属", "烈属", "现役军人")
CATEGORY_GROUPS = ("低保", "特困", "残疾", "空巢老人", *MILITARY)
GROUPS = ("低保", "特困", "残疾", "高龄", "军烈属", "空巢老人")
_IN_GROUPS = ", ".join(f"'{c}'" for c in CATEGORY_GROUPS)
_IN_MILITARY = ", ".join(f"'{c}'" for c in MILITARY)

AGG_TABLES = {  # name -> (key columns, value columns); "name type"; grp has no type (id or text)
    "agg_relief": (("dim TEXT", "community_id INTEGER", "year TEXT", "grp"),
                   ("payments INTEGER", "recipients INTEGER", "fen INTEGER")),
    "agg_relief_reach": (("dim TEXT", "community_id INTEGER", "year TEXT", "grp", "person_id INTEGER"),
                         ("payments INTEGER", "fen INTEGER")),
    "agg_cov_activity": (("person_id INTEGER", "year INTEGER"), ("visits INTEGER", "payments INTEGER")),
    "agg_cov_member": (("person_id INTEGER", "group_name TEXT"),
                       ("community_id INTEGER", "start_year INTEGER", "end_year INTEGER")),
    "agg_cov_span": (("community_id INTEGER", "group_name TEXT", "start_year INTEGER", "end_year INTEGER"),
                     ("persons INTEGER",)),
    "agg_cov_year": (("community_id INTEGER", "group_name TEXT", "year INTEGER"),
                     ("visited INTEGER", "assisted INTEGER")),
    "agg_cov_ever": (("community_id INTEGER", "group_name TEXT", "start_year INTEGER"),
                     ("visited INTEGER", "assisted INTEGER")),
}


def _names(columns) -> list[str]:
    return [c.split()[0] for c in columns]


SCRATCH = {
    "_agg_delta": "sign INTEGER NOT NULL, kind TEXT NOT NULL, year TEXT, month TEXT, community_id INTEGER,"
                  " program_id INTEGER, category TEXT, person_id INTEGER NOT NULL, fen INTEGER",
    "_agg_m": "month TEXT, community_id INTEGER, program_id INTEGER, category TEXT, person_id INTEGER,"
              " n INTEGER, fen INTEGER",
    "_agg_y": "year TEXT, community_id INTEGER, program_id INTEGER, category TEXT, person_id INTEGER,"
              " n INTEGER, fen INTEGER",
    "_agg_x": "dim TEXT, community_id INTEGER, year TEXT, grp, person_id INTEGER, n INTEGER, fen INTEGER,"
              " PRIMARY KEY (dim, community_id, year, grp, person_id)",
    "_agg_act": "person_id INTEGER, year INTEGER, dv INTEGER, dp INTEGER, PRIMARY KEY (person_id, year)",
    "_agg_pset": "person_id INTEGER PRIMARY KEY",
}
# Tables whose all-zero rows mean nothing (counts that went back to 0 are not deleted).
ZERO_ROWS_IGNORED = ("agg_cov_span", "agg_cov_year", "agg_cov_ever")


def tables_sql(temp: bool = False) -> list[str]:
    create = "CREATE TEMP TABLE" if temp else "CREATE TABLE"
    out = [f"{create} {name} ({', '.join(f'{c} NOT NULL' for c in (*keys, *values))},"
           f" PRIMARY KEY ({', '.join(_names(keys))})) WITHOUT ROWID"
           for name, (keys, values) in AGG_TABLES.items()]
    return out + [scratch_sql(name, temp) for name in SCRATCH]


def scratch_sql(name: str, temp: bool = False) -> str:
    cols = SCRATCH[name]
    keyed = " WITHOUT ROWID" if "PRIMARY KEY (" in cols else ""
    return f"{'CREATE TEMP TABLE' if temp else 'CREATE TABLE'} {name} ({cols}){keyed}"


# A join producing each member row twice: for its community and for all communities (0).
# CROSS JOIN fixes the loop order (SQLite does not reorder it): the queued rows outermost,
# then their members' rows by primary key, lv innermost - a form's one-row write reads a
# few rows, a bulk import no table twice, and only the last GROUP BY sorts.
_LV_JOIN = "CROSS JOIN (VALUES (0), (1)) lv"
# a person's visits and payments over all years, as agg_cov_activity has them (before APPLY
# adds the queued ones): by primary key
_OLD_ACTIVITY = ("coalesce((SELECT sum(o.visits) FROM agg_cov_activity o WHERE o.person_id = {who}), 0) AS v,"
                 " coalesce((SELECT sum(o.payments) FROM agg_cov_activity o WHERE o.person_id = {who}), 0) AS p")
_LV_M = "CASE lv.column1 WHEN 0 THEN 0 ELSE m.community_id END"
_UPSERT_YEAR = " ON CONFLICT DO UPDATE SET visited = visited + excluded.visited, assisted = assisted + excluded.assisted"


def _member_flags(sign: str) -> list[str]:
    """Add (sign '+') or remove ('-') the contributions of the persons in _agg_pset, from
    their agg_cov_member rows and their activity."""
    return [
        f"""INSERT INTO agg_cov_span (community_id, group_name, start_year, end_year, persons)
        SELECT {_LV_M}, m.group_name, m.start_year, m.end_year, {sign}count(*)
        FROM _agg_pset s CROSS JOIN agg_cov_member m ON m.person_id = s.person_id {_LV_JOIN}
        GROUP BY 1, 2, 3, 4 ON CONFLICT DO UPDATE SET persons = persons + excluded.persons""",
        f"""INSERT INTO agg_cov_year (community_id, group_name, year, visited, assisted)
        SELECT {_LV_M}, m.group_name, a.year, {sign}sum(a.visits > 0), {sign}sum(a.payments > 0)
        FROM _agg_pset s CROSS JOIN agg_cov_member m ON m.person_id = s.person_id
        CROSS JOIN agg_cov_activity a ON a.person_id = m.person_id AND a.year BETWEEN m.start_year AND m.end_year
        {_LV_JOIN} GROUP BY 1, 2, 3{_UPSERT_YEAR}""",
        f"""INSERT INTO agg_cov_ever (community_id, group_name, start_year, visited, assisted)
        SELECT {_LV_M}, m.group_name, m.start_year, {sign}sum(t.v > 0), {sign}sum(t.p > 0)
        FROM (SELECT s.person_id, {_OLD_ACTIVITY.format(who="s.person_id")} FROM _agg_pset s) t
        CROSS JOIN agg_cov_member m ON m.person_id = t.person_id AND m.end_year = {FOREVER}
        {_LV_JOIN} GROUP BY 1, 2, 3{_UPSERT_YEAR}""",
    ]


def _expand() -> list[str]:
    """Every cell a (month or year) payment group counts in, with its person: one grouped
    INSERT per level (a dozen sorts of the delta, not one sort of a dozen times as many
    rows), into _agg_x's primary key in key order."""
    into = "INSERT INTO _agg_x (dim, community_id, year, grp, person_id, n, fen) SELECT "
    out = [into + "'month', community_id, month, category, person_id, sum(n), sum(fen) FROM _agg_m"
                  " GROUP BY 2, 3, 4, 5",
           into + "'month', 0, month, category, 0, sum(n), sum(fen) FROM _agg_m GROUP BY 3, 4"]
    for dim, grp in (("program", "program_id"), ("category", "category")):
        for cid in ("community_id", "0"):
            for year in ("year", "''"):
                out.append(into + f"'{dim}', {cid}, {year}, {grp}, person_id, sum(n), sum(fen) FROM _agg_y"
                                  " GROUP BY 2, 3, 4, 5")
    return out + [into + "'community', community_id, year, '', person_id, sum(n), sum(fen) FROM _agg_y"
                         " GROUP BY 2, 3, 5",
                  into + "'community', community_id, '', '', person_id, sum(n), sum(fen) FROM _agg_y"
                         " GROUP BY 2, 5"]


_REMOVALS = "EXISTS (SELECT 1 FROM _agg_delta WHERE sign < 0)"

APPLY = [
    # ---- relief: group the payment deltas by month, then by year, expand to every cell
    """INSERT INTO _agg_m SELECT month, community_id, program_id, category, person_id,
        sum(sign), sum(sign * coalesce(fen, 0)) FROM _agg_delta WHERE kind = 'pay' GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO _agg_y SELECT substr(month, 1, 4), community_id, program_id, category, person_id,
        sum(n), sum(fen) FROM _agg_m GROUP BY 1, 2, 3, 4, 5""",
    *_expand(),
    """INSERT INTO agg_relief (dim, community_id, year, grp, payments, recipients, fen)
        SELECT x.dim, x.community_id, x.year, x.grp, sum(x.n),
               CASE WHEN x.dim = 'month' THEN 0
                    ELSE sum((coalesce(r.payments, 0) + x.n > 0) - (coalesce(r.payments, 0) > 0)) END,
               sum(x.fen)
        FROM _agg_x x LEFT JOIN agg_relief_reach r ON r.dim = x.dim AND r.community_id = x.community_id
             AND r.year = x.year AND r.grp = x.grp AND r.person_id = x.person_id
        GROUP BY x.dim, x.community_id, x.year, x.grp
        ON CONFLICT DO UPDATE SET payments = payments + excluded.payments,
           recipients = recipients + excluded.recipients, fen = fen + excluded.fen""",
    """INSERT INTO agg_relief_reach (dim, community_id, year, grp, person_id, payments, fen)
        SELECT dim, community_id, year, grp, person_id, n, fen FROM _agg_x
        WHERE NOT (dim = 'month' AND community_id = 0)
        ON CONFLICT DO UPDATE SET payments = payments + excluded.payments, fen = fen + excluded.fen""",
    # (counts reach 0 only through a removal: an import queues none and skips these)
    f"""DELETE FROM agg_relief_reach WHERE (dim, community_id, year, grp, person_id) IN
        (SELECT dim, community_id, year, grp, person_id FROM _agg_x WHERE {_REMOVALS}) AND payments = 0""",
    f"""DELETE FROM agg_relief WHERE (dim, community_id, year, grp) IN
        (SELECT dim, community_id, year, grp FROM _agg_x WHERE {_REMOVALS}) AND payments = 0""",
    # ---- coverage: activity per person and year; flags of the current members
    """INSERT INTO _agg_act SELECT person_id, CAST(year AS INTEGER),
        sum(CASE WHEN kind = 'visit' THEN sign ELSE 0 END), sum(CASE WHEN kind = 'pay' THEN sign ELSE 0 END)
        FROM _agg_delta GROUP BY 1, 2""",
    f"""INSERT INTO agg_cov_year (community_id, group_name, year, visited, assisted)
        SELECT {_LV_M}, m.group_name, f.year, sum(f.fv), sum(f.fa) FROM (
          SELECT a.person_id, a.year,
                 (coalesce(o.visits, 0) + a.dv > 0) - (coalesce(o.visits, 0) > 0) AS fv,
                 (coalesce(o.payments, 0) + a.dp > 0) - (coalesce(o.payments, 0) > 0) AS fa
          FROM _agg_act a LEFT JOIN agg_cov_activity o ON o.person_id = a.person_id AND o.year = a.year) f
        CROSS JOIN agg_cov_member m ON m.person_id = f.person_id AND f.year BETWEEN m.start_year AND m.end_year
        {_LV_JOIN} WHERE f.fv != 0 OR f.fa != 0 GROUP BY 1, 2, 3{_UPSERT_YEAR}""",
    f"""INSERT INTO agg_cov_ever (community_id, group_name, start_year, visited, assisted)
        SELECT {_LV_M}, m.group_name, m.start_year, sum(f.fv), sum(f.fa) FROM (
          SELECT d.person_id, (d.v + d.dv > 0) - (d.v > 0) AS fv, (d.p + d.dp > 0) - (d.p > 0) AS fa
          FROM (SELECT person_id, sum(dv) AS dv, sum(dp) AS dp, {_OLD_ACTIVITY.format(who="_agg_act.person_id")}
                FROM _agg_act GROUP BY person_id) d) f
        CROSS JOIN agg_cov_member m ON m.person_id = f.person_id AND m.end_year = {FOREVER}
        {_LV_JOIN} WHERE f.fv != 0 OR f.fa != 0 GROUP BY 1, 2, 3{_UPSERT_YEAR}""",
    """INSERT INTO agg_cov_activity (person_id, year, visits, payments)
        SELECT person_id, year, dv, dp FROM _agg_act WHERE true
        ON CONFLICT DO UPDATE SET visits = visits + excluded.visits, payments = payments + excluded.payments""",
    f"""DELETE FROM agg_cov_activity WHERE (person_id, year) IN
        (SELECT person_id, year FROM _agg_act WHERE {_REMOVALS}) AND visits = 0 AND payments = 0""",
    # ---- coverage: persons whose groups, community, birth date or death changed
    *_member_flags("-"),
    "DELETE FROM agg_cov_member WHERE person_id IN (SELECT person_id FROM _agg_pset)",
    f"""INSERT INTO agg_cov_member (person_id, group_name, community_id, start_year, end_year)
        SELECT p.id, g.group_name, p.community_id, g.start_year,
               coalesce(CAST(substr(x.died_on, 1, 4) AS INTEGER), {FOREVER})
        FROM _agg_pset s JOIN persons p ON p.id = s.person_id
        JOIN (SELECT c.person_id,
                     CASE WHEN c.category IN ({_IN_MILITARY}) THEN '军烈属' ELSE c.category END AS group_name,
                     {NEVER} AS start_year
              FROM person_categories c
              WHERE c.person_id IN (SELECT person_id FROM _agg_pset) AND c.category IN ({_IN_GROUPS})
              UNION
              SELECT b.id, '高龄', CAST(substr(b.birth_date, 1, 4) AS INTEGER) + 80 FROM persons b
              WHERE b.id IN (SELECT person_id FROM _agg_pset) AND coalesce(b.birth_date, '') != '') g
          ON g.person_id = p.id
        LEFT JOIN deaths x ON x.person_id = p.id""",
    *_member_flags(""),
    # ---- empty the scratch tables
    *[f"DELETE FROM {name}" for name in SCRATCH],
]

# ------------------------------------------------------------------ queueing changes

_PAY = ("INSERT INTO _agg_delta (sign, kind, year, month, community_id, program_id, category, person_id, fen)"
        " SELECT {sign}, 'pay', substr(d.paid_on, 1, 4), substr(d.paid_on, 1, 7), d.community_id,"
        " d.program_id, {category}, d.person_id, d.amount_fen FROM {source} d")
_VISIT = ("INSERT INTO _agg_delta (sign, kind, year, person_id)"
          " SELECT {sign}, 'visit', substr(d.visited_on, 1, 4), d.person_id FROM {source} d")
# coalesce: a missing programme must fail as the foreign key it is, not as NOT NULL here
_PROGRAM_CATEGORY = "coalesce((SELECT category FROM programs WHERE id = d.program_id), '')"


def _row(alias: str, table: str) -> str:
    """A one-row source 'd' made of NEW or OLD (trigger bodies)."""
    cols = {"disbursements": ("paid_on", "community_id", "program_id", "person_id", "amount_fen"),
            "visits": ("visited_on", "person_id")}[table]
    return "(SELECT " + ", ".join(f"{alias}.{c} AS {c}" for c in cols) + ")"


QUIET = "NOT coalesce((SELECT bulk FROM _audit_context WHERE id = 1), 0)"


def _trigger(name, event, table, body, condition=QUIET):
    return (f'CREATE TRIGGER "{name}" AFTER {event} ON "{table}" WHEN {condition} BEGIN\n  '
            + ";\n  ".join(body) + ";\nEND")


APPLY_TRIGGERS = ("agg_apply_payments", "agg_apply_persons")


def apply_trigger_sql() -> list[str]:
    return [_trigger(APPLY_TRIGGERS[0], "INSERT", "_agg_delta", APPLY),
            _trigger(APPLY_TRIGGERS[1], "INSERT", "_agg_pset", APPLY)]


def new_apply_sql(*scratch: str) -> list[str]:
    """A migration changing APPLY: these scratch tables made again as SCRATCH has them
    (they are empty between writes), and the triggers that run APPLY."""
    return [*[f"DROP TABLE {name}" for name in scratch], *[scratch_sql(name) for name in scratch],
            *[f'DROP TRIGGER "{name}"' for name in APPLY_TRIGGERS], *apply_trigger_sql()]


def trigger_sql() -> list[str]:
    pay = lambda alias, sign: _PAY.format(sign=sign, category=_PROGRAM_CATEGORY,  # noqa: E731
                                          source=_row(alias, "disbursements"))
    visit = lambda alias, sign: _VISIT.format(sign=sign, source=_row(alias, "visits"))  # noqa: E731
    # not INSERT OR IGNORE: an outer statement's conflict clause would override it (SQLite)
    pset = lambda *who: [f"INSERT INTO _agg_pset SELECT {w} WHERE NOT EXISTS"  # noqa: E731
                         f" (SELECT 1 FROM _agg_pset WHERE person_id = {w})" for w in who]
    changed = lambda cols: " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in cols)  # noqa: E731
    pay_cols = ("paid_on", "community_id", "program_id", "person_id", "amount_fen")
    # Two stages: a small trigger per written row queues it; a trigger on the queue applies.
    # (A row trigger costs in proportion to its whole program, even when its WHEN is false:
    # a bulk writer's rows must only meet the small ones.)
    return [
        *apply_trigger_sql(),
        _trigger("agg_disbursements_insert", "INSERT", "disbursements", [pay("NEW", 1)]),
        _trigger("agg_disbursements_delete", "DELETE", "disbursements", [pay("OLD", -1)]),
        _trigger("agg_disbursements_update", "UPDATE", "disbursements", [pay("OLD", -1), pay("NEW", 1)],
                 f"{QUIET} AND ({changed(pay_cols)})"),
        _trigger("agg_visits_insert", "INSERT", "visits", [visit("NEW", 1)]),
        _trigger("agg_visits_delete", "DELETE", "visits", [visit("OLD", -1)]),
        _trigger("agg_visits_update", "UPDATE", "visits", [visit("OLD", -1), visit("NEW", 1)],
                 f"{QUIET} AND ({changed(('visited_on', 'person_id'))})"),
        _trigger("agg_programs_category", "UPDATE", "programs", [
            _PAY.format(sign=-1, category="OLD.category", source="disbursements") + " WHERE d.program_id = OLD.id",
            _PAY.format(sign=1, category="NEW.category", source="disbursements") + " WHERE d.program_id = NEW.id",
        ], f"{QUIET} AND ({changed(('category', 'id'))})"),
        _trigger("agg_persons_insert", "INSERT", "persons", pset("NEW.id")),
        _trigger("agg_persons_delete", "DELETE", "persons", pset("OLD.id")),
        _trigger("agg_persons_update", "UPDATE", "persons", pset("OLD.id", "NEW.id"),
                 f"{QUIET} AND ({changed(('id', 'community_id', 'birth_date'))})"),
        _trigger("agg_person_categories_insert", "INSERT", "person_categories", pset("NEW.person_id")),
        _trigger("agg_person_categories_delete", "DELETE", "person_categories", pset("OLD.person_id")),
        _trigger("agg_person_categories_update", "UPDATE", "person_categories",
                 pset("OLD.person_id", "NEW.person_id")),
        _trigger("agg_deaths_insert", "INSERT", "deaths", pset("NEW.person_id")),
        _trigger("agg_deaths_delete", "DELETE", "deaths", pset("OLD.person_id")),
        _trigger("agg_deaths_update", "UPDATE", "deaths", pset("OLD.person_id", "NEW.person_id")),
    ]


# ------------------------------------------------------------------ bulk writers

@contextlib.contextmanager
def bulk(conn: sqlite3.Connection):
    """Silence the aggregate triggers for the block (inside `audit.acting`, which owns the
    `_audit_context` row): the writer queues what it wrote and calls `apply()` itself."""
    conn.execute("UPDATE _audit_context SET bulk = 1 WHERE id = 1")
    try:
        yield
    finally:
        conn.execute("UPDATE _audit_context SET bulk = 0 WHERE id = 1")


_PAY_ROWS = _PAY.format(sign="{sign}", category="p.category", source="disbursements").replace(
    " FROM disbursements d", " FROM disbursements d JOIN programs p ON p.id = d.program_id")


def queue_payments(conn, where: str = "1", params=(), sign: int = 1) -> None:
    """Queue the disbursements matching `where` (alias d) as added (sign 1) or removed (-1)."""
    conn.execute(_PAY_ROWS.format(sign=int(sign)) + f" WHERE {where}", params)


def queue_visits(conn, where: str = "1", params=(), sign: int = 1) -> None:
    conn.execute(_VISIT.format(sign=int(sign), source="visits") + f" WHERE {where}", params)


def queue_persons(conn, where: str = "1", params=()) -> None:
    """Queue the persons matching `where` (on persons, alias p) for recomputing."""
    conn.execute(f"INSERT OR IGNORE INTO _agg_pset SELECT p.id FROM persons p WHERE ({where})", params)


def apply(conn) -> None:
    """Apply everything queued, then empty the queue (same statements as the triggers)."""
    for statement in APPLY:
        conn.execute(statement)


def rebuild_sql() -> list[str]:
    """Statements that fill empty aggregate tables from the raw rows."""
    return [
        _PAY_ROWS.format(sign=1),
        _VISIT.format(sign=1, source="visits"),
        "INSERT INTO _agg_pset SELECT id FROM persons",
        *APPLY,
    ]


def rebuild(conn) -> None:
    """Empty every aggregate table and fill it again from the raw rows, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name in AGG_TABLES:
            conn.execute(f"DELETE FROM {name}")
        for statement in _quietly(rebuild_sql()):  # one apply for all rows, not one per row
            conn.execute(statement)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _quietly(statements: list[str]) -> list[str]:
    """Run statements with the bulk flag set on a context row of their own (the queue's
    apply triggers stay silent), removing it afterwards; outside `audit.acting` only."""
    return ["INSERT INTO _audit_context (id, actor, via, bulk) VALUES (1, '系统', '汇总重建', 1)",
            *statements, "DELETE FROM _audit_context"]


def schema_sql() -> list[str]:
    """Migration: the tables, the bulk flag, the triggers, and a first fill."""
    return [*tables_sql(), "ALTER TABLE _audit_context ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0",
            *trigger_sql(), *_quietly(rebuild_sql())]


# ------------------------------------------------------------------ check

def check(conn: sqlite3.Connection) -> list[str]:
    """Recompute every aggregate table from the raw rows (in TEMP shadow tables, inside
    one read transaction; nothing is written to the database) and describe every
    difference, in Chinese. An empty list: no drift."""
    conn.execute("BEGIN")
    try:
        for name in (*AGG_TABLES, *SCRATCH):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        for statement in tables_sql(temp=True):
            conn.execute(statement)
        for statement in rebuild_sql():  # unqualified names resolve to the TEMP shadows
            conn.execute(statement)
        problems = []
        for name, (keys, values) in AGG_TABLES.items():
            keys, values = _names(keys), _names(values)
            cols = ", ".join((*keys, *values))
            nonzero = (" WHERE " + " OR ".join(f"{v} != 0" for v in values)) if name in ZERO_ROWS_IGNORED else ""
            extra = conn.execute(f"SELECT {cols} FROM main.{name}{nonzero} EXCEPT"
                                 f" SELECT {cols} FROM temp.{name}{nonzero} LIMIT 20").fetchall()
            missing = conn.execute(f"SELECT {cols} FROM temp.{name}{nonzero} EXCEPT"
                                   f" SELECT {cols} FROM main.{name}{nonzero} LIMIT 20").fetchall()
            problems += [f"{name}：现有 {dict(zip((*keys, *values), r))}，重算中没有这一行" for r in extra]
            problems += [f"{name}：重算得 {dict(zip((*keys, *values), r))}，现有汇总中没有这一行" for r in missing]
        return problems
    finally:
        conn.execute("ROLLBACK")
        for name in (*AGG_TABLES, *SCRATCH):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
