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
from pathlib import Path

import yaml
from sqlite_utils.db import quote_identifier as q

from . import ROOT, app
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

def _summary_rows(src, name, params_list):
    sql = app.load_yaml("datasette.yaml")["databases"]["community"]["queries"][name]["sql"]
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
COVERAGE_COLUMNS = ["group_name", "registered", "visited", "assisted", "visit_rate", "assist_rate"]
GROUPS = ("低保", "特困", "残疾", "高龄", "军烈属", "空巢老人")
GROUP_OF = {"低保": "低保", "特困": "特困", "残疾": "残疾", "空巢老人": "空巢老人",
            "军属": "军烈属", "烈属": "军烈属", "现役军人": "军烈属"}


def _relief(src):
    """The four relief summaries for every year and community (and all of them) in one
    pass over the payments, plus each money cell's contributions {person: fen} for the
    contributor and dominance rules. Same definitions as the stored queries (a test holds
    the two equal)."""
    cells = defaultdict(lambda: {"payments": 0, "fen": 0, "people": defaultdict(int)})
    for y, mo, c, program, category, person, n, fen in src.execute(
            "SELECT substr(d.paid_on, 1, 4), substr(d.paid_on, 1, 7), c.name, p.name, p.category,"
            " d.person_id, count(*), sum(coalesce(d.amount_fen, 0)) FROM disbursements d"
            " JOIN programs p ON p.id = d.program_id JOIN communities c ON c.id = d.community_id"
            " GROUP BY 1, 2, 3, 4, 5, 6"):
        keys = [("relief_by_month", y, cc, mo, category) for cc in (c, "")]
        for yy in (y, ""):
            keys.append(("relief_by_community", yy, c))
            for cc in (c, ""):
                keys += [("relief_by_category", yy, cc, category),
                         ("relief_by_program", yy, cc, program, category)]
        for key in keys:
            cell = cells[key]
            cell["payments"] += n
            cell["fen"] += fen
            cell["people"][person] += fen
    tables, contributions = defaultdict(list), {}
    for key in sorted(cells, key=lambda k: tuple(map(str, k))):
        cell, table = cells[key], key[0]
        row = {"year": key[1], "community": key[2], "payments": cell["payments"],
               "recipients": len(cell["people"]), "total_yuan": round(cell["fen"] / 100, 2)}
        if table == "relief_by_category":
            row["category"] = key[3]
        elif table == "relief_by_program":
            row["program"], row["category"] = key[3], key[4]
            key = key[:4]
        elif table == "relief_by_month":
            row["month"], row["category"] = key[3], key[4]
        tables[table].append(row)
        contributions[key] = cell["people"]
    return tables, contributions


def _coverage(src, years, communities):
    """Coverage for every year (and '' = as of today) and community, in one pass."""
    persons = {pid: {"community": c, "birth": b, "groups": set(), "died": None, "visits": set(),
                     "paid": set()}
               for pid, c, b in src.execute(
                   "SELECT p.id, c.name, p.birth_date FROM persons p JOIN communities c ON c.id = p.community_id")}
    for pid, category in src.execute("SELECT person_id, category FROM person_categories"):
        if category in GROUP_OF:
            persons[pid]["groups"].add(GROUP_OF[category])
    for pid, died in src.execute("SELECT person_id, died_on FROM deaths"):
        persons[pid]["died"] = died
    for pid, y in src.execute("SELECT DISTINCT person_id, substr(visited_on, 1, 4) FROM visits"):
        persons[pid]["visits"].add(y)
    for pid, y in src.execute("SELECT DISTINCT person_id, substr(paid_on, 1, 4) FROM disbursements"):
        persons[pid]["paid"].add(y)
    this_year = src.execute("SELECT strftime('%Y', 'now')").fetchone()[0]
    rows = []
    for year in [*years, ""]:
        old_by = f"{int(year or this_year) - 80}-12-31"
        counts = defaultdict(lambda: [0, 0, 0])
        for p in persons.values():
            if p["died"] is not None and (year == "" or p["died"] < f"{year}-01-01"):
                continue
            groups = p["groups"] | ({"高龄"} if p["birth"] and p["birth"] <= old_by else set())
            visited = bool(p["visits"]) if year == "" else year in p["visits"]
            assisted = bool(p["paid"]) if year == "" else year in p["paid"]
            for group in groups:
                for c in (p["community"], ""):
                    tally = counts[c, group]
                    tally[0] += 1
                    tally[1] += visited
                    tally[2] += assisted
        for c in [*communities, ""]:
            for group in GROUPS:
                registered, visited, assisted = counts.get((c, group), (0, 0, 0))
                rows.append({"year": year, "community": c, "group_name": group,
                             "registered": registered, "visited": visited, "assisted": assisted,
                             "visit_rate": round(visited / registered, 4) if registered else 0.0,
                             "assist_rate": round(assisted / registered, 4) if registered else 0.0})
    return rows


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


def _suppress(policy, tables: dict, contributions) -> int:
    """Null out small and dominated cells and their complements; returns how many rows."""
    threshold, dominance = policy["threshold"], policy["dominance"]
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
            for c in money:
                people = contributions.get(key, {})
                total = sum(people.values())
                if total > 0 and (sum(1 for f in people.values() if f > 0) < threshold
                                  or max(people.values()) > dominance * total):
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
    years = [y for (y,) in src.execute(
        "SELECT DISTINCT substr(paid_on, 1, 4) FROM disbursements UNION"
        " SELECT DISTINCT substr(visited_on, 1, 4) FROM visits ORDER BY 1")]
    communities = [c for (c,) in src.execute("SELECT name FROM communities ORDER BY name")]
    terms = [str(t) for (t,) in src.execute("SELECT DISTINCT term FROM elections ORDER BY term")]
    voting = [c for (c,) in src.execute(
        "SELECT DISTINCT c.name FROM elections e JOIN communities c ON c.id = e.community_id")]
    relief, contributions = _relief(src)
    computed = {**{name: (columns, relief[name]) for name, columns in RELIEF_COLUMNS.items()},
                "coverage": (COVERAGE_COLUMNS, _coverage(src, years, communities))}
    by_query = {  # the small election summaries run their stored query per parameter set
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
    return tables, contributions


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
    tables, contributions = _summaries(src, policy)
    suppressed = _suppress(policy, tables, contributions)
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
