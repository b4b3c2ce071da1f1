"""Crash safety: SIGKILL in the middle of `shequ ingest`, `shequ publish` and a form save.

After every kill the staff database must be intact (`PRAGMA integrity_check`), internally
consistent (`assert_consistent`: every summary stored query equals a recomputation in
plain Python from the raw rows, the audit trail replays to exactly the rows there are, the
search indexes cover exactly their tables) and all-or-nothing (the file's rows are all
there or none; an acknowledged save is there, no save is half there). public.db is
always a complete file: the previous one byte for byte, or a complete new one.

The kills are real: subprocesses (`python -m ingest.cli ...`, as `shequ ...`), signal 9,
at delays drawn from a seeded generator within the measured duration of the operation.
"""
from __future__ import annotations

import asyncio
import csv
import datetime
import importlib.util
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest

from ingest import ROOT, audit, datadir, schema
from ingest.app import load_yaml
from ingest.loader import load_files
from ingest.validators import PROGRAMS

from .conftest import PASSWORD

pytestmark = pytest.mark.crash

SEED = 20260601
INGEST_KILLS = 20
INGEST_ROWS = 6_000  # 600 KB, six 1000-row chunks of the loader, about 1 s to import; 30 000 would take ~60 s here
PUBLISH_KILLS = 5
# Kill delays are drawn from the first 70 % of the measured run time: a run that happens to
# be faster than the measured one (publish takes ~0.1 s now) must still mostly be killed.
KILL_WINDOW = 0.7
FORM_ROUNDS = 2


# ================================================================ reusable consistency check

SUMMARY_PARAMS = {"year", "community", "term"}
COVERAGE_GROUPS = ("低保", "特困", "残疾", "高龄", "军烈属", "空巢老人")
MILITARY = {"军属", "烈属", "现役军人"}
PARTY_MEMBERS = {"中共党员", "中共预备党员"}
COLLEGE = {"研究生", "大学本科", "大专"}
HIGH_SCHOOL = {"高中", "中专"}
BUCKETS = (("政治面貌", "党员"), ("政治面貌", "非党员"),
           ("年龄", "30岁及以下"), ("年龄", "31-39岁"), ("年龄", "40-49岁"), ("年龄", "50-59岁"),
           ("年龄", "60岁及以上"),
           ("文化程度", "大专及以上"), ("文化程度", "高中"), ("文化程度", "初中及以下"),
           ("性别", "男"), ("性别", "女"))


def summary_queries() -> dict[str, dict]:
    """The read-only stored queries of the staff database whose parameters are filters."""
    queries = load_yaml("datasette.yaml")["databases"]["community"]["queries"]
    return {name: q for name, q in queries.items()
            if not q.get("write") and set(q.get("params", [])) <= SUMMARY_PARAMS}


class Raw:
    """The raw rows the summaries are made of, read with plain SELECTs (no aggregation)."""

    def __init__(self, conn):
        def rows(sql):
            return conn.execute(sql).fetchall()
        self.communities = dict(rows("SELECT id, name FROM communities"))
        self.community_ids = {name: i for i, name in self.communities.items()}
        self.programs = {i: (name, cat) for i, name, cat in rows("SELECT id, name, category FROM programs")}
        self.persons = rows("SELECT id, community_id, birth_date FROM persons")
        self.person_categories = rows("SELECT person_id, category FROM person_categories")
        self.deaths = rows("SELECT person_id, died_on FROM deaths")
        self.disbursements = rows(
            "SELECT paid_on, community_id, person_id, program_id, amount_yuan FROM disbursements")
        self.visits = rows("SELECT visited_on, person_id FROM visits")
        self.elections = rows("SELECT id, community_id, term, held_on, method, registered_voters,"
                              " ballots_cast, seats FROM elections")
        self.candidates = rows(
            "SELECT election_id, party, education, gender, birth_date, elected FROM candidates")


def _fen(amount) -> int:
    """amount_fen as the schema defines it (round half away from zero), from amount_yuan."""
    if amount is None:
        return 0
    return int((Decimal(repr(amount)) * 100).to_integral_value(ROUND_HALF_UP))


def _in_year(date, year) -> bool:
    return year == "" or (date is not None and f"{year}-01-01" <= date <= f"{year}-12-31")


def _payments(raw, year, community):
    cid = raw.community_ids.get(community)
    return [d for d in raw.disbursements
            if _in_year(d[0], year) and (community == "" or d[1] == cid)]


def _money(fen: int) -> Decimal:
    return Decimal(fen) / 100


def _grouped(payments, key):
    groups = defaultdict(list)
    for p in payments:
        groups[key(p)].append(p)
    return groups


def r_relief_by_category(raw, year="", community=""):
    groups = _grouped(_payments(raw, year, community), lambda d: raw.programs[d[3]][1])
    return [{"category": cat, "payments": len(ps), "recipients": len({p[2] for p in ps}),
             "total_yuan": _money(sum(_fen(p[4]) for p in ps))} for cat, ps in sorted(groups.items())]


def r_relief_by_program(raw, year="", community=""):
    groups = _grouped(_payments(raw, year, community), lambda d: d[3])
    out = [{"program": raw.programs[pid][0], "category": raw.programs[pid][1], "payments": len(ps),
            "recipients": len({p[2] for p in ps}), "total_yuan": _money(sum(_fen(p[4]) for p in ps))}
           for pid, ps in groups.items()]
    return sorted(out, key=lambda r: r["program"])


def r_relief_by_month(raw, year="", community=""):
    groups = _grouped(_payments(raw, year, community), lambda d: (d[0][:7], raw.programs[d[3]][1]))
    return [{"month": month, "category": cat, "payments": len(ps),
             "total_yuan": _money(sum(_fen(p[4]) for p in ps))}
            for (month, cat), ps in sorted(groups.items())]


def r_relief_by_community(raw, year=""):
    groups = _grouped(_payments(raw, year, ""), lambda d: d[1])
    out = [{"community": raw.communities[cid], "payments": len(ps),
            "recipients": len({p[2] for p in ps}), "total_yuan": _money(sum(_fen(p[4]) for p in ps))}
           for cid, ps in groups.items()]
    return sorted(out, key=lambda r: r["community"])


def r_coverage(raw, year="", community=""):
    cid = raw.community_ids.get(community)
    oldest = f"{(int(year) if year else datetime.datetime.now(datetime.timezone.utc).year) - 80}-12-31"
    deaths = defaultdict(list)
    for person_id, died_on in raw.deaths:
        deaths[person_id].append(died_on)
    scope = {pid: birth for pid, c, birth in raw.persons
             if (community == "" or c == cid)
             and not any(year == "" or died < f"{year}-01-01" for died in deaths[pid])}
    members = set()
    for pid, category in raw.person_categories:
        if pid in scope and category in {"低保", "特困", "残疾", "空巢老人"} | MILITARY:
            members.add(("军烈属" if category in MILITARY else category, pid))
    members |= {("高龄", pid) for pid, birth in scope.items() if birth is not None and birth <= oldest}
    visited = {pid for day, pid in raw.visits if _in_year(day, year)}
    assisted = {d[2] for d in raw.disbursements if _in_year(d[0], year)}
    out = []
    for group in COVERAGE_GROUPS:
        people = {pid for g, pid in members if g == group}
        v, a = len(people & visited), len(people & assisted)
        out.append({"group_name": group, "registered": len(people), "visited": v, "assisted": a,
                    "visit_rate": v / len(people) if people else 0.0,
                    "assist_rate": a / len(people) if people else 0.0})
    return out


def _elections(raw, term, community):
    return [e for e in raw.elections
            if (term == "" or e[2] == int(term))
            and (community == "" or raw.communities[e[1]] == community)]


def r_election_turnout(raw, term="", community=""):
    elected = Counter(k[0] for k in raw.candidates if k[5] == 1)
    out = []
    for eid, cid, term_no, held, method, registered, ballots, seats in _elections(raw, term, community):
        valid = ballots * 3 > registered * 2 if method == "居民代表选举" else ballots * 2 > registered
        out.append({"community": raw.communities[cid], "term": term_no, "election_date": held,
                    "method": method, "registered_voters": registered, "ballots_cast": ballots,
                    "turnout": ballots / registered, "valid": int(valid), "seats": seats,
                    "elected": elected[eid]})
    return sorted(out, key=lambda r: (r["community"], r["term"]))


def _age_bucket(age):
    return ("30岁及以下" if age <= 30 else "31-39岁" if age <= 39 else "40-49岁" if age <= 49
            else "50-59岁" if age <= 59 else "60岁及以上")


def r_committee_composition(raw, term="", community=""):
    held = {e[0]: e[3] for e in _elections(raw, term, community)}
    tags = Counter()
    members = 0
    for eid, party, education, gender, birth, is_elected in raw.candidates:
        if is_elected != 1 or eid not in held:
            continue
        members += 1
        day = held[eid]
        age = int(day[:4]) - int(birth[:4]) - (day[5:10] < birth[5:10])
        tags[("政治面貌", "党员" if party in PARTY_MEMBERS else "非党员")] += 1
        tags[("年龄", _age_bucket(age))] += 1
        tags[("文化程度", "大专及以上" if education in COLLEGE else "高中" if education in HIGH_SCHOOL
              else "初中及以下")] += 1
        tags[("性别", gender)] += 1
    return [{"dimension": d, "bucket": b, "members": tags[(d, b)],
             "share": tags[(d, b)] / members if members else 0.0} for d, b in BUCKETS]


RECOMPUTE = {
    "relief_by_category": r_relief_by_category, "relief_by_program": r_relief_by_program,
    "relief_by_month": r_relief_by_month, "relief_by_community": r_relief_by_community,
    "coverage": r_coverage, "election_turnout": r_election_turnout,
    "committee_composition": r_committee_composition,
}


def _same(actual, expected) -> bool:
    if isinstance(expected, Decimal):  # money: exact to the fen
        return actual is not None and Decimal(repr(actual)) == expected
    if isinstance(expected, float):  # rates: the SQL rounds to 4 places
        return actual is not None and abs(actual - expected) <= 0.5e-4 + 1e-12
    return actual == expected


def _param_grid(params, choices):
    grid = [{}]
    for p in params:
        grid = [{**g, p: value} for g in grid for value in choices[p]]
    return grid


def check_summaries(conn, years=(), communities=(), terms=()) -> int:
    """Every summary stored query, run as Datasette runs it, equals its recomputation.

    Parameters: each of '' (all) plus the given values (default: the latest year with
    payments, the community with most payments, the latest term). Returns the number of
    (query, parameters) pairs compared."""
    raw = Raw(conn)
    if not years:
        years = [max((d[0][:4] for d in raw.disbursements), default="2012")]
    if not communities:
        busiest = Counter(d[1] for d in raw.disbursements).most_common(1)
        communities = [raw.communities[busiest[0][0]]] if busiest else []
    if not terms:
        terms = [str(max((e[2] for e in raw.elections), default=1))]
    choices = {"year": ["", *years], "community": ["", *communities], "term": ["", *terms]}
    compared = 0
    for name, query in summary_queries().items():
        assert name in RECOMPUTE, f"stored query {name} has no recomputation in tests/test_crash.py"
        for params in _param_grid(query.get("params", []), choices):
            cursor = conn.execute(query["sql"], {"year": "", "community": "", "term": "", **params})
            columns = [d[0] for d in cursor.description]
            actual = [dict(zip(columns, row)) for row in cursor.fetchall()]
            expected = RECOMPUTE[name](raw, **params)
            assert len(actual) == len(expected), (name, params, len(actual), len(expected))
            for got, want in zip(actual, expected):
                assert list(got) == list(want), (name, params, list(got), list(want))
                bad = {k: (got[k], want[k]) for k in want if not _same(got[k], want[k])}
                assert not bad, (name, params, bad)
            compared += 1
    return compared


def _replay(conn, table, row_ids) -> dict:
    """Each row's state after its audit history (None: deleted)."""
    state = {}
    for row_id, action, after in conn.execute(
            "SELECT row_id, action, after FROM audit_log WHERE table_name = ? AND row_id IN"
            f" ({', '.join('?' * len(row_ids))}) ORDER BY id", [table, *row_ids]):
        if action == "insert":
            state[row_id] = json.loads(after)
        elif action == "update":
            state[row_id] = {**(state.get(row_id) or {}), **json.loads(after)}
        else:
            state[row_id] = None
    return state


def check_audit_trail(conn) -> int:
    """Replaying audit_log gives exactly the rows of every audited table, value for value:
    every row has its insert recorded, every recorded row that was not deleted exists.
    Only the programme list seeded by the first migration predates the trail. (Rows with
    one entry are compared in SQL - the insert's `after` is the trigger's json_object of
    the row - the few with more are replayed in Python.)"""
    assert conn.execute("SELECT count(*) FROM _audit_context").fetchone()[0] == 0
    checked = 0
    for table in audit.AUDITED:
        cols = audit._columns(conn, table)
        as_json = "json_object(" + ", ".join(f"'{c}', x.\"{c}\"" for c in cols) + ")"
        last = dict(conn.execute(
            "SELECT a.row_id, a.action FROM audit_log a WHERE a.table_name = ? AND a.id ="
            " (SELECT max(b.id) FROM audit_log b WHERE b.table_name = a.table_name AND b.row_id = a.row_id)",
            [table]).fetchall())
        live = {i: name for i, name in conn.execute(
            f'SELECT rowid, {"name" if table == "programs" else "NULL"} FROM "{table}"')}
        unrecorded = [i for i in live if i not in last and not (table == "programs" and live[i] in PROGRAMS)]
        assert not unrecorded, f"{table}: rows without an audit insert: {unrecorded[:10]}"
        ghosts = [i for i, action in last.items() if action != "delete" and i not in live]
        assert not ghosts, f"{table}: audited rows that are not there: {ghosts[:10]}"
        resurrected = [i for i, action in last.items() if action == "delete" and i in live]
        assert not resurrected, f"{table}: rows recorded as deleted are there: {resurrected[:10]}"
        differ = [i for (i,) in conn.execute(
            f'SELECT x.rowid FROM "{table}" x JOIN audit_log a ON a.table_name = ? AND a.row_id = x.rowid'
            f" WHERE a.action = 'insert' AND a.after IS NOT {as_json} AND NOT EXISTS (SELECT 1 FROM"
            " audit_log b WHERE b.table_name = a.table_name AND b.row_id = a.row_id AND b.id != a.id)",
            [table])]
        assert not differ, f"{table}: rows differ from their audit insert: {differ[:10]}"
        several = [i for (i,) in conn.execute(
            "SELECT row_id FROM audit_log WHERE table_name = ? GROUP BY row_id HAVING count(*) > 1", [table])]
        for start in range(0, len(several), 500):
            part = several[start:start + 500]
            state = _replay(conn, table, part)
            rows = {r[0]: dict(zip(cols, r[1:])) for r in conn.execute(
                f'SELECT rowid, {", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)} FROM "{table}"'
                f" WHERE rowid IN ({', '.join('?' * len(part))})", part)}
            bad = [i for i, st in state.items() if st is not None and set(st) == set(cols) and st != rows.get(i)]
            assert not bad, f"{table}: rows differ from their audit history: {bad[:10]}"
        checked += len(last)
    return checked


def check_search_indexes(conn):
    """FTS5 integrity, and each `<table>_fts` has exactly its table's rows."""
    fts = [n for (n,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%USING fts5%'")]
    tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for name in fts:
        conn.execute(f"INSERT INTO \"{name}\" (\"{name}\") VALUES ('integrity-check')")
        base = name.removesuffix("_fts")
        if base != name and base in tables:
            missing = conn.execute(f'SELECT count(*) FROM "{base}" WHERE rowid NOT IN'
                                   f' (SELECT rowid FROM "{name}")').fetchone()[0]
            extra = conn.execute(f'SELECT count(*) FROM "{name}" WHERE rowid NOT IN'
                                 f' (SELECT rowid FROM "{base}")').fetchone()[0]
            assert (missing, extra) == (0, 0), f"{name}: {missing} rows unindexed, {extra} stale"


def assert_consistent(db_path, *, years=(), communities=(), terms=()) -> dict:
    """The staff database at `db_path` is intact and agrees with itself (see the module
    docstring). Opens it as the next process would after a crash (recovering the WAL).
    Reusable: point `RECOMPUTE` and `check_summaries` at aggregate tables when they come."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        compared = check_summaries(conn, years, communities, terms)
        replayed = check_audit_trail(conn)
        check_search_indexes(conn)
        conn.rollback()
        return {"summaries": compared, "audit_rows": replayed}
    finally:
        conn.close()


# ================================================================ helpers

def _generator():
    spec = importlib.util.spec_from_file_location("shequ_bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def _cli(*args, log=None) -> subprocess.Popen:
    """`shequ ARGS` in a subprocess (the same entry point as the console script)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        args = [str(a.resolve()) if isinstance(a, Path) else str(a) for a in args]
        return subprocess.Popen([sys.executable, "-m", "ingest.cli", *args],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    finally:
        if log:
            out.close()


def wait_until_open(proc: subprocess.Popen, path, timeout=30) -> float:
    """Seconds until `proc` has `path` open (Linux /proc; elsewhere 0 at once), so that a
    kill lands while the file is being worked on, not while Python is still starting."""
    fds, target = Path(f"/proc/{proc.pid}/fd"), str(Path(path).resolve())
    started = time.monotonic()
    if not Path("/proc/self/fd").is_dir():
        return 0.0
    while time.monotonic() - started < timeout and proc.poll() is None:
        try:
            if any(os.readlink(fd) == target for fd in fds.iterdir()):
                break
        except OSError:  # a descriptor closed while we looked
            pass
        time.sleep(0.002)
    return time.monotonic() - started


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL if still running; True if the signal interrupted it."""
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return running and proc.returncode == -signal.SIGKILL


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_dir, port, log) -> subprocess.Popen:
    proc = _cli("serve", "--port", port, "--db-dir", db_dir, log=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, Path(log).read_text(errors="replace")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/login", timeout=2)
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"shequ serve did not answer within 30 s: {Path(log).read_text()}")


def _ingest_in_process(db_dir, *paths):
    db = schema.connect(datadir.community_db(db_dir))
    schema.migrate(db)
    reports = load_files(db, paths, actor="测试准备")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert all(r.ok and r.written for r in reports), [r.summary() for r in reports]


def _copy_db(src_dir, dst_dir):
    """community.db of src_dir (with whatever its WAL holds) as the only file in dst_dir."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        (dst_dir / f"community.db{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{datadir.community_db(src_dir)}?mode=ro", uri=True)
    dst = sqlite3.connect(datadir.community_db(dst_dir))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL")
    finally:
        dst.close()
        src.close()


# ================================================================ 1. ingest

def _ledger_rows(path):
    """(paid_on, 身份证号, 项目, amount) of every row of a generated disbursement CSV."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return Counter((r["发放日期"], r["身份证号"], r["项目"], Decimal(r["金额(元)"]) if r["金额(元)"] else None)
                       for r in csv.DictReader(f))


class Baseline:
    def __init__(self, db_path):
        conn = sqlite3.connect(db_path)
        self.count, self.max_id = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM disbursements").fetchone()
        self.max_audit = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
        conn.close()


def file_state(db_path, base: Baseline, ledger: Path, expected: Counter) -> str:
    """'absent' or 'present' - anything in between fails."""
    conn = sqlite3.connect(db_path)
    try:
        new = conn.execute(
            "SELECT d.paid_on, p.id_number, pr.name, d.amount_yuan FROM disbursements d"
            " JOIN persons p ON p.id = d.person_id JOIN programs pr ON pr.id = d.program_id"
            " WHERE d.id > ?", [base.max_id]).fetchall()
        count = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
        imports = conn.execute("SELECT rows_added FROM imports WHERE kind = 'disbursements'"
                               " AND file_name = ?", [ledger.name]).fetchall()
        audited = conn.execute("SELECT count(*) FROM audit_log WHERE id > ? AND table_name = 'disbursements'"
                               " AND action = 'insert'", [base.max_audit]).fetchone()[0]
    finally:
        conn.close()
    n = sum(expected.values())
    if not new:
        assert (count, imports, audited) == (base.count, [], 0), "rows absent but traces left"
        return "absent"
    assert len(new) == n, f"half an import: {len(new)} of {n} rows"
    assert count == base.count + n and imports == [(n,)] and audited == n
    got = Counter((d, i, p, None if a is None else Decimal(repr(a))) for d, i, p, a in new)
    assert got == expected, "the imported rows are not the file's rows"
    return "present"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory, built_dir):
    """Sample data plus a generated registry (baseline), and a large disbursement file."""
    root = tmp_path_factory.mktemp("crash_ledger")
    _generator()(root / "gen", disbursements=INGEST_ROWS, persons=1500)
    base = root / "base"
    _copy_db(built_dir, base)
    _ingest_in_process(base, root / "gen" / "01_registry.csv")
    return base, root / "gen" / "02_disbursements.csv"


def test_ingest_killed_at_random_points_is_all_or_nothing(ledger, tmp_path):
    base_dir, csv_path = ledger
    base_db = datadir.community_db(base_dir)
    base = Baseline(base_db)
    expected = _ledger_rows(csv_path)
    assert sum(expected.values()) == INGEST_ROWS

    # One uninterrupted import measures the window the kill delays are drawn from: from
    # the moment the process has community.db open until it exits.
    full = tmp_path / "full"
    db = datadir.community_db(full)
    _copy_db(base_dir, full)
    proc = _cli("ingest", csv_path, "--db-dir", full, log=tmp_path / "full.log")
    wait_until_open(proc, db)
    started = time.monotonic()
    assert proc.wait(timeout=300) == 0, (tmp_path / "full.log").read_text()
    duration = time.monotonic() - started
    assert file_state(db, base, csv_path, expected) == "present"
    assert_consistent(db)

    # Two databases take turns, so that one is checked while the next run goes on in the
    # other. Each is kept after a crash that left nothing (the next run starts from the
    # crashed file, as a user's retry would) and reset after a run that completed.
    slots = [tmp_path / "slot0", tmp_path / "slot1"]
    for slot in slots:
        _copy_db(base_dir, slot)

    def check(slot, delay, killed):
        state = file_state(datadir.community_db(slot), base, csv_path, expected)
        assert_consistent(datadir.community_db(slot))
        if state == "present":
            _copy_db(base_dir, slot)
        return round(delay, 2), killed, state

    rng = random.Random(SEED)
    results, pending = [], None
    with ThreadPoolExecutor(1) as checker:
        for i in range(INGEST_KILLS):
            slot = slots[i % 2]
            delay = rng.uniform(0, duration * KILL_WINDOW)
            proc = _cli("ingest", csv_path, "--db-dir", slot)
            wait_until_open(proc, datadir.community_db(slot))
            time.sleep(delay)
            killed = _kill(proc)
            if pending:
                results.append(pending.result())
            pending = checker.submit(check, slot, delay, killed)
        results.append(pending.result())
    crashed = [i for i in (0, 1) if results[-1 - ((INGEST_KILLS - 1 - i) % 2)][2] == "absent"]
    work = slots[crashed[0] if crashed else 0]
    db = datadir.community_db(work)

    # After all that, the import still goes through on the crashed-and-recovered database.
    proc = _cli("ingest", csv_path, "--db-dir", work, log=tmp_path / "retry.log")
    assert proc.wait(timeout=300) == 0, (tmp_path / "retry.log").read_text()
    assert file_state(db, base, csv_path, expected) == "present"
    assert_consistent(db)

    killed = sum(1 for _, k, _ in results if k)
    states = Counter(s for _, _, s in results)
    print(f"\ningest crash: {INGEST_ROWS} rows, full import {duration:.2f} s after opening the database; {INGEST_KILLS} runs,"
          f" {killed} SIGKILLed mid-run; afterwards absent {states['absent']}, present {states['present']}")
    print("  (delay s, killed, state):", results)
    assert killed >= INGEST_KILLS // 2, results  # most kills must land inside the run


# ================================================================ 2. publish

PUBLIC_URLS = ("/", "/public", "/public/relief_by_category.json?year=2012&community=",
               "/public/relief_by_category_data.json?_shape=array",
               "/public/committee_members.json", "/public/coverage_data?_size=20")


class Poller(threading.Thread):
    """GETs the public pages in a loop until stopped; records every status."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.statuses = port, threading.Event(), Counter()
        self.failures = []

    def run(self):
        while not self.stop.is_set():
            for path in PUBLIC_URLS:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                        r.read()
                        self.statuses[r.status] += 1
                except urllib.error.HTTPError as e:
                    self.statuses[e.code] += 1
                    self.failures.append((path, e.code, e.read()[:300]))
                except OSError as e:
                    self.statuses["error"] += 1
                    self.failures.append((path, "error", repr(e)))
                self.stop.wait(0.02)


def _complete_public_db(path) -> dict:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        manifest = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM _manifest")}
        for table, count in manifest["row_counts"].items():
            assert conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == count
        return manifest
    finally:
        conn.close()


def _served_files(port, cookie) -> dict:
    """What the server serves, from the admin-only /-/databases.json."""
    r = httpx.get(f"http://127.0.0.1:{port}/-/databases.json", cookies={"shequ_session": cookie}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    return {d["name"]: d["path"] for d in r.json()["databases"]}


def test_publish_killed_at_random_points_keeps_the_previous_file(data_dir, tmp_path):
    # More rows (two more communities over three years) make publish take a while.
    _generator()(tmp_path / "gen", disbursements=700, persons=200, communities=2, years=3)
    _ingest_in_process(data_dir, tmp_path / "gen" / "01_registry.csv", tmp_path / "gen" / "02_disbursements.csv")
    public = datadir.public_db(data_dir)
    community = datadir.community_db(data_dir)
    proc = _cli("publish", "--db-dir", data_dir, log=tmp_path / "publish.log")
    wait_until_open(proc, community)
    started = time.monotonic()
    assert proc.wait(timeout=300) == 0, (tmp_path / "publish.log").read_text()
    duration = time.monotonic() - started
    _complete_public_db(public)
    previous = public.read_bytes()

    port = free_port()
    server = start_server(data_dir, port, tmp_path / "serve.log")
    login = httpx.post(f"http://127.0.0.1:{port}/-/login", data={"username": "admin1", "password": PASSWORD})
    assert login.status_code == 302, login.text[:300]
    admin = login.cookies["shequ_session"]
    poller = Poller(port)
    poller.start()
    rng = random.Random(SEED + 1)
    outcomes = []
    try:
        for _ in range(PUBLISH_KILLS):
            delay = rng.uniform(0, duration * KILL_WINDOW)
            proc = _cli("publish", "--db-dir", data_dir)
            wait_until_open(proc, community)
            time.sleep(delay)
            killed = _kill(proc)
            now = public.read_bytes()
            manifest = _complete_public_db(public)
            outcome = "previous" if now == previous else "new"
            outcomes.append((round(delay, 2), killed, outcome, manifest["source_snapshot"]))
            previous = now
            served = _served_files(port, admin)
            assert set(served) == {"community", "public"}, served
            assert Path(served["public"]).resolve() == public.resolve()
            assert not any(".building" in p for p in served.values())
        # An uninterrupted publish afterwards cleans up whatever a kill left behind.
        proc = _cli("publish", "--db-dir", data_dir, log=tmp_path / "publish.log")
        assert proc.wait(timeout=300) == 0, (tmp_path / "publish.log").read_text()
        _complete_public_db(public)
        assert sorted(p.name for p in data_dir.glob("public.db*")) == ["public.db"]
        time.sleep(0.2)
    finally:
        poller.stop.set()
        poller.join(timeout=60)
        server.kill()
        server.wait()
    print(f"\npublish crash: full publish {duration:.2f} s after opening community.db; (delay, killed, outcome, snapshot):", outcomes,
          f"\n  public pages during the kills: {dict(poller.statuses)}")
    assert sum(1 for _, k, _, _ in outcomes if k) >= PUBLISH_KILLS // 2, outcomes
    assert not poller.failures, poller.failures[:5]
    assert set(poller.statuses) == {200} and poller.statuses[200] >= len(PUBLIC_URLS)


# ================================================================ 3. form save

async def _login(client, username):
    response = await client.post("/-/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return response.cookies["shequ_session"]


async def test_form_saves_survive_a_killed_server(data_dir, tmp_path):
    db_path = datadir.community_db(data_dir)
    conn = sqlite3.connect(db_path)
    persons = [i for (i,) in conn.execute("SELECT id FROM persons ORDER BY id LIMIT 40")]
    conn.close()
    rng = random.Random(SEED + 2)
    acknowledged, sent = set(), set()
    kills = []
    for round_no in range(FORM_ROUNDS):
        port = free_port()
        server = start_server(data_dir, port, tmp_path / "serve.log")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            client.cookies.set("shequ_session", await _login(client, "staff1"))
            in_round = []

            async def poster(n):
                k = 0
                while True:
                    marker = f"crash-{round_no}-{n}-{k}"
                    k += 1
                    sent.add(marker)
                    try:
                        r = await client.post("/-/shequ/form/visit", data={
                            "person_id": str(persons[(n * 7 + k) % len(persons)]),
                            "走访日期": "2024-03-15", "走访人": "测试", "事由": marker})
                    except httpx.TransportError:
                        return
                    assert r.status_code == 302, (r.status_code, r.text[:500])
                    acknowledged.add(marker)
                    in_round.append(marker)

            posters = [asyncio.create_task(poster(n)) for n in range(4)]
            deadline = time.monotonic() + 60
            while len(in_round) < 10 and time.monotonic() < deadline and not any(p.done() for p in posters):
                await asyncio.sleep(0.01)
            await asyncio.sleep(rng.uniform(0, 0.5))
            server.send_signal(signal.SIGKILL)
            kills.append(len(in_round))
            await asyncio.gather(*posters)
        server.wait()
        assert_consistent(db_path)

    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "SELECT v.id, v.purpose, (SELECT count(*) FROM audit_log a WHERE a.table_name = 'visits'"
        " AND a.row_id = v.id AND a.action = 'insert' AND a.via = '表单' AND a.actor = 'staff1')"
        " FROM visits v WHERE v.purpose LIKE 'crash-%'").fetchall()
    conn.close()
    saved = Counter(p for _, p, _ in rows)
    assert not [p for p, n in saved.items() if n != 1], "a save written twice"
    assert acknowledged <= set(saved), f"acknowledged but lost: {sorted(acknowledged - set(saved))[:10]}"
    assert set(saved) <= sent
    assert all(n == 1 for _, _, n in rows), "a visit without its audit row"
    print(f"\nform crash: {FORM_ROUNDS} server kills after {kills} acknowledged saves;"
          f" {len(acknowledged)} acknowledged, {len(saved)} in the database"
          f" ({len(saved) - len(acknowledged)} written but unacknowledged when the server died)")
