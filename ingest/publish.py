"""Build public.db from community.db by an allow-list policy (publish.yml).

Everything is computed from one read snapshot of the staff database, written to a new
file with secure_delete on, vacuumed (no free pages) and renamed into place. Nothing is
copied: tables are created from the policy, so no view, trigger, FTS or stat table and
no column the policy does not name can reach the public file.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import sqlite3
from collections import defaultdict
from functools import cache
from pathlib import Path

import yaml
from sqlite_utils.db import quote_identifier as q

from . import ROOT
from .suppress import protect

POLICY = ROOT / "publish.yml"
TRANSFORMS = {"keep", "drop", "month", "count", "money", "rate"}
KEY_COLUMNS = {  # what each public summary table is keyed by, besides its own columns
    "relief_by_category": ["year", "community"], "relief_by_program": ["year", "community"],
    "relief_by_month": ["year", "community"], "relief_by_community": ["year"],
    "coverage": ["year", "community"], "election_turnout": [],
    "committee_composition": ["term", "community"],
}
SOURCES = {  # a policy `source` is one of these, or a staff table read whole
    "communities": "SELECT * FROM communities ORDER BY name",
    "programs": "SELECT * FROM programs ORDER BY category, name",
    "committee_members": """
        SELECT c.name AS community, e.term, e.held_on AS election_date, k.name, k.gender,
               k.birth_date, k.education, k.party, k.role, k.votes
        FROM candidates k JOIN elections e ON e.id = k.election_id
        JOIN communities c ON c.id = e.community_id
        WHERE k.elected = 1 ORDER BY c.name, e.term, k.id""",
}


class PolicyError(ValueError):
    pass


def load_policy(path=POLICY) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    policy = yaml.safe_load(text)
    policy["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    for table, spec in policy["tables"].items():
        for column, how in spec["columns"].items():
            name = next(iter(how)) if isinstance(how, dict) else how
            if name not in TRANSFORMS | {"age_band"}:
                raise PolicyError(f"publish.yml：{table}.{column} 的处理方式「{name}」不认识")
    return policy


def age_band(birth: str | None, on: str | None) -> str | None:
    if not birth or not on:
        return None
    b, d = datetime.date.fromisoformat(birth), datetime.date.fromisoformat(on)
    age = d.year - b.year - ((d.month, d.day) < (b.month, b.day))
    return "80岁及以上" if age >= 80 else f"{age // 10 * 10}-{age // 10 * 10 + 9}岁"


def _rows(conn, sql, params=()):
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return names, [dict(zip(names, r)) for r in cursor.fetchall()]


def _check_columns(table, wanted, available):
    missing = [c for c in wanted if c not in available]
    if missing:
        raise PolicyError(f"publish.yml：表 {table} 的列 {'、'.join(missing)} 在源数据中不存在")


# ---------------------------------------------------------------- summaries

@cache
def _stored_queries() -> dict:
    """The staff stored queries (read here rather than through ingest.app, which would
    import Datasette into `shequ publish`)."""
    config = yaml.safe_load((ROOT / "datasette.yaml").read_text(encoding="utf-8"))
    return config["databases"]["community"]["queries"]


def _summary_rows(src, name, params_list):
    sql = _stored_queries()[name]["sql"]
    names, out = None, []
    for params in params_list:
        names, rows = _rows(src, sql, {"year": "", "community": "", "term": "", **params})
        out += [{**params, **r} for r in rows]
    return names, out


RELIEF_COLUMNS = {
    "relief_by_category": ["category", "payments", "recipients", "total_yuan"],
    "relief_by_program": ["program", "category", "payments", "recipients", "total_yuan"],
    "relief_by_month": ["month", "category", "payments", "total_yuan"],
    "relief_by_community": ["community", "payments", "recipients", "total_yuan"],
}


def _relief(src, threshold, dominance):
    """The four relief summaries for every year and community (and all of them), read from
    the aggregate tables (ingest/aggregates.py), and the money cells that fail the
    contributor rules: fewer than `threshold` persons with fen > 0, or one person above
    `dominance` of the total. Same definitions as the stored queries and as a scan of the
    payments (tests hold them equal)."""
    names = dict(src.execute("SELECT id, name FROM communities"))
    names[0] = ""
    programs = {pid: (name, category) for pid, name, category in src.execute(
        "SELECT id, name, category FROM programs")}

    def key_of(dim, cid, year, grp):
        if dim == "program":
            return ("relief_by_program", year, names[cid], programs[grp][0])
        if dim == "category":
            return ("relief_by_category", year, names[cid], grp)
        if dim == "month":
            return ("relief_by_month", year[:4], names[cid], year, grp)
        return ("relief_by_community", year, names[cid])

    rows, cells = [], []
    for dim, cid, year, grp, payments, recipients, fen in src.execute(
            "SELECT dim, community_id, year, grp, payments, recipients, fen FROM agg_relief"):
        row = {"year": year, "community": names[cid], "payments": payments,
               "recipients": recipients, "total_yuan": round(fen / 100, 2)}
        if dim == "category":
            row["category"] = grp
        elif dim == "program":
            row["program"], row["category"] = programs[grp]
        elif dim == "month":
            row["year"], row["month"], row["category"] = year[:4], year, grp
            del row["recipients"]  # not kept for months (nor published)
        key = key_of(dim, cid, year, grp)
        order = key + ((row["category"],) if dim == "program" else ())
        rows.append((tuple(map(str, order)), key[0], row))
        cells.append((key, dim, cid, year, grp, payments, recipients, fen))
    tables = defaultdict(list)
    for _, table, row in sorted(rows, key=lambda r: r[0]):
        tables[table].append(row)
    rules = _ContributorRules(src, threshold, dominance, programs, names)
    return tables, {key for key, *cell in cells if rules.fail(*cell)}


class _ContributorRules:
    """Which money cells have fewer than `threshold` persons with fen > 0, or one person
    above `dominance` of their total.

    agg_relief_reach holds every cell's persons (months at all communities: per
    community), but reading them all costs about as much as reading the payments. So each
    cell is first decided from bounds - exactly as its persons would decide it - and only
    the cells the bounds leave open read their persons. The bounds come from the category
    cells, whose persons are read once: fen >= 0 (the schema refuses negative amounts), so
    a person's fen in a programme or month of a category is at most their fen in that
    category (same year and community), and in a community's year at most the sum of
    their fen over its categories."""

    def __init__(self, src, threshold, dominance, programs, names):
        self.src, self.threshold, self.dominance = src, threshold, dominance
        self.programs, self.names = programs, names
        self.categories, self.by_year = {}, defaultdict(list)  # -> (positive persons, largest fen)
        for cid, year, grp, positive, top in src.execute(
                "SELECT community_id, year, grp, sum(fen > 0), max(fen) FROM agg_relief_reach"
                " WHERE dim = 'category' GROUP BY community_id, year, grp"):
            self.categories[cid, year, grp] = (positive, top)
            self.by_year[cid, year].append((positive, top))

    def fail(self, dim, cid, year, grp, payments, recipients, total) -> bool:
        if total <= 0:
            return False

        def fails(positive, top):
            return positive < self.threshold or top > self.dominance * total
        if dim == "category":
            return fails(*self.categories[cid, year, grp])
        if dim == "community":
            parts = self.by_year[cid, year]
            least, top_at_most = max(p for p, _ in parts), sum(t for _, t in parts)
        else:
            category = self.programs[grp][1] if dim == "program" else grp
            least, top_at_most = 1, self.categories[cid, year[:4], category][1]
        most = payments if dim == "month" else recipients  # persons paid: at least the positive ones
        least = max(least, -(-total // top_at_most))  # each positive person adds at most top_at_most
        if fails(most, -(-total // most)):  # fails even at its best
            return True
        if not fails(least, top_at_most):  # passes even at its worst
            return False
        return fails(*self._persons(dim, cid, year, grp))

    def _persons(self, dim, cid, year, grp):
        """(persons with fen > 0, largest fen) of one cell, from its persons."""
        if dim == "month" and cid == 0:  # a person's fen summed over the communities
            ids = [c for c in self.names if c]
            return self.src.execute(
                "SELECT sum(fen > 0), max(fen) FROM (SELECT sum(fen) AS fen FROM agg_relief_reach"
                f" WHERE dim = 'month' AND community_id IN ({', '.join('?' * len(ids))})"
                " AND year = ? AND grp = ? GROUP BY person_id)", [*ids, year, grp]).fetchone()
        return self.src.execute(
            "SELECT sum(fen > 0), max(fen) FROM agg_relief_reach"
            " WHERE dim = ? AND community_id = ? AND year = ? AND grp = ?", [dim, cid, year, grp]).fetchone()


def _years(src, table, column):
    """The distinct years (first four characters) of an indexed date column, one index
    seek per year."""
    years, (first,) = [], src.execute(f"SELECT min({column}) FROM {table}").fetchone()
    while first is not None:
        years.append(first[:4])
        first = next(iter(src.execute(
            f"SELECT {column} FROM {table} WHERE {column} >= ? ORDER BY {column} LIMIT 1",
            [years[-1] + "\U0010ffff"]).fetchone() or ()), None)
    return years


def _cell_key(table, row):
    """A summary row's identity; `table` is the summary (stored-query) name."""
    keys = {"relief_by_category": ("year", "community", "category"),
            "relief_by_program": ("year", "community", "program"),
            "relief_by_month": ("year", "community", "month", "category"),
            "relief_by_community": ("year", "community"),
            "coverage": ("year", "community", "group_name")}[table]
    return (table, *(row[k] for k in keys))


def _equations(cells: dict, program_category: dict) -> list:
    """Every `total = sum(parts)` relation between published cells, one per breakdown:
    a category by programme and by month, a community by category, all communities by
    community, all years by year. Absent cells are zero, so they drop out."""
    groups = defaultdict(list)  # (breakdown, total) -> parts
    for key in cells:
        table, year, community, *rest = key
        if table == "relief_by_program":
            groups["programmes", ("relief_by_category", year, community, program_category[rest[0]])].append(key)
        elif table == "relief_by_month":
            for y in (year, ""):  # months are unique across years: they also add up to all years
                groups["months", ("relief_by_category", y, community, rest[1])].append(key)
        elif table == "relief_by_category" and community != "":
            groups["categories", ("relief_by_community", year, community)].append(key)
        if table != "relief_by_community" and community != "":
            groups["communities", (table, year, "", *rest)].append(key)
        if table in ("relief_by_category", "relief_by_program", "relief_by_community") and year != "":
            groups["years", (table, "", community, *rest)].append(key)
    return [(total, parts) for (_, total), parts in groups.items() if total in cells]


def _suppress(policy, tables: dict, failing: set) -> int:
    """Null out small and dominated cells and their complements; returns how many rows."""
    threshold = policy["threshold"]
    cells, primary = {}, set()
    for table, rows in tables.items():
        spec = policy["tables"][table]
        if not spec.get("suppress"):
            continue
        counts = [c for c, how in spec["columns"].items() if how == "count"]
        money = [c for c, how in spec["columns"].items() if how == "money"]
        for row in rows:
            key = _cell_key(spec["summary"], row)
            cells[key] = (table, row)
            if any(0 < (row[c] or 0) < threshold for c in counts):
                primary.add(key)
            if money and key in failing:  # the contributor rules (see _relief)
                primary.add(key)
    program_category = {row["program"]: row["category"]
                        for key, (_, row) in cells.items() if key[0] == "relief_by_program"}
    weight = lambda key: cells[key][1].get("payments", cells[key][1].get("registered")) or 0  # noqa: E731
    suppressed = protect(_equations(cells, program_category), primary, weight)
    for key in suppressed:
        table, row = cells[key]
        for column, how in policy["tables"][table]["columns"].items():
            if how in ("count", "money", "rate"):
                row[column] = None
        row["suppressed"] = 1
    return len(suppressed)


def _summaries(src, policy):
    years = sorted(set(_years(src, "disbursements", "paid_on")) | set(_years(src, "visits", "visited_on")))
    communities = [c for (c,) in src.execute("SELECT name FROM communities ORDER BY name")]
    terms = [str(t) for (t,) in src.execute("SELECT DISTINCT term FROM elections ORDER BY term")]
    voting = [c for (c,) in src.execute(
        "SELECT DISTINCT c.name FROM elections e JOIN communities c ON c.id = e.community_id")]
    relief, failing = _relief(src, policy["threshold"], policy["dominance"])
    computed = {name: (columns, relief[name]) for name, columns in RELIEF_COLUMNS.items()}
    by_query = {  # the other summaries run their stored query (on aggregates) per parameter set
        "coverage": [{"year": y, "community": c} for y in [*years, ""] for c in [*communities, ""]],
        "election_turnout": [{}],
        "committee_composition": [{"term": t, "community": c}
                                  for t in [*terms, ""] for c in [*voting, ""]],
    }
    tables = {}
    for table, spec in policy["tables"].items():
        if "summary" not in spec:
            continue
        name = spec["summary"]
        names, rows = computed[name] if name in computed else _summary_rows(src, name, by_query[name])
        if names is not None:
            _check_columns(table, spec["columns"], names)
        for row in rows:
            row["suppressed"] = 0
        tables[table] = rows
    return tables, failing


# ---------------------------------------------------------------- tables from sources

def _source_table(src, table, spec):
    source = spec["source"]
    names, rows = _rows(src, SOURCES.get(source) or f"SELECT * FROM {q(source)}")
    _check_columns(table, spec["columns"], names)
    out = []
    for row in rows:
        record = {}
        for column, how in spec["columns"].items():
            if how == "drop":
                continue
            if isinstance(how, dict) and "age_band" in how:
                record["age_band" if column == "birth_date" else column] = age_band(
                    row[column], row[how["age_band"]])
            elif how == "month":
                record[column] = (row[column] or "")[:7] or None
            else:
                record[column] = row[column]
        out.append(record)
    return out


# ---------------------------------------------------------------- writing

def _public_columns(table, spec):
    if "summary" in spec:
        cols = KEY_COLUMNS[spec["summary"]] + [c for c, h in spec["columns"].items() if h != "drop"]
        cols = list(dict.fromkeys(cols))
        return cols + (["suppressed"] if spec.get("suppress") else [])
    return [("age_band" if isinstance(h, dict) and "age_band" in h else c)
            for c, h in spec["columns"].items() if h != "drop"]


def _column_type(spec, column, rows):
    how = spec["columns"].get(column)
    if how == "count" or column == "suppressed":
        return "INTEGER"
    if how in ("money", "rate"):
        return "REAL"
    value = next((r.get(column) for r in rows if r.get(column) is not None), None)
    return "INTEGER" if isinstance(value, int) else "REAL" if isinstance(value, float) else "TEXT"


def build(community_path, public_path, policy_path=POLICY, threshold=None) -> dict:
    policy = load_policy(policy_path)
    if threshold is not None:
        policy["threshold"] = threshold
    src = sqlite3.connect(f"file:{Path(community_path).resolve()}?mode=ro", uri=True)
    src.execute("BEGIN")  # one snapshot for every query below
    snapshot = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    tables, failing = _summaries(src, policy)
    suppressed = _suppress(policy, tables, failing)
    for table, spec in policy["tables"].items():
        if "source" in spec:
            tables[table] = _source_table(src, table, spec)
    audit_mark = src.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
    src.close()

    public_path = Path(public_path)
    tmp = public_path.with_name(public_path.name + ".building")
    tmp.unlink(missing_ok=True)
    out = sqlite3.connect(tmp)
    out.execute("PRAGMA secure_delete = ON")
    out.execute("PRAGMA journal_mode = DELETE")
    counts = {}
    with out:
        for table, spec in policy["tables"].items():
            cols, rows = _public_columns(table, spec), tables.get(table, [])
            out.execute(f"CREATE TABLE {q(table)} ("
                        + ", ".join(f"{q(c)} {_column_type(spec, c, rows)}" for c in cols) + ")")
            out.executemany(f"INSERT INTO {q(table)} VALUES ({', '.join('?' * len(cols))})",
                            ([row.get(c) for c in cols] for row in rows))
            counts[table] = len(rows)
            keys = [k for k in ("year", "community", "term") if k in cols]
            if keys:
                out.execute(f"CREATE INDEX {q('idx_' + table)} ON {q(table)} ({', '.join(map(q, keys))})")
        manifest = {
            "policy_sha256": policy["sha256"], "source_snapshot": snapshot,
            "source_audit_mark": audit_mark, "threshold": policy["threshold"],
            "dominance": policy["dominance"], "row_counts": counts,
            "suppressed_cells": suppressed,
        }
        out.execute("CREATE TABLE _manifest (key TEXT PRIMARY KEY, value TEXT)")
        out.executemany("INSERT INTO _manifest VALUES (?, ?)",
                        [(k, json.dumps(v, ensure_ascii=False)) for k, v in manifest.items()])
    out.execute("VACUUM")
    free = out.execute("PRAGMA freelist_count").fetchone()[0]
    out.close()
    if free:
        tmp.unlink()
        raise RuntimeError(f"public.db 仍有 {free} 个空闲页，拒绝发布")
    os.replace(tmp, public_path)
    return manifest
