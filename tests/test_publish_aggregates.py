"""publish reads the aggregate tables: before suppression, its tables equal the plain-SQL
definitions of the summaries (ingest/live_summaries.py) run over the raw rows, and the
cells it holds to the contributor rules are those a scan of the payments, person by person,
finds - on the sample and on a generated district (several communities and years, persons
paid monthly, holiday and one-off payments, goods without amounts, persons paid in two
communities the same month, dominating one-off payments). The published file from the
generated district passes the independent checks of tests/test_publish.py."""
from __future__ import annotations

import datetime
import itertools
import random
import sqlite3
from collections import defaultdict

import pytest
import yaml

from ingest import ROOT, aggregates, audit, datadir, publish, schema
from ingest.live_summaries import LIVE

from .leakcheck import small_counts, subtraction_leaks
from .test_publish import _equations, _solvable

PUBLIC_QUERIES = yaml.safe_load((ROOT / "datasette.yaml").read_text(encoding="utf-8"))["databases"]["public"]["queries"]
CATEGORIES = ["低保", "特困", "残疾", "军属", "空巢老人", "困难户", "重病"]


def generate(path, seed=11, communities=6, years=4, persons=260):
    """A district written straight into a migrated community.db (bulk: queue + apply)."""
    db = schema.connect(path)
    schema.migrate(db)
    conn = db.conn
    conn.isolation_level = None
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                " AND (name LIKE 'search%' OR name LIKE 'audit%')"
                                " AND tbl_name != 'audit_log'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')  # a throwaway copy: only the aggregates matter
    rng = random.Random(seed)
    programs = dict(conn.execute("SELECT name, id FROM programs"))
    first = 2024 - years
    months = [f"{first + i // 12}-{i % 12 + 1:02d}" for i in range(12 * years)]
    pays, visits, people, cats, deaths = [], [], [], [], []
    for pid in range(1, persons + 1):
        cid = 1 + (pid % communities if pid % 7 else pid % 2)  # communities 1 and 2 are bigger
        birth = datetime.date(1930, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 70))
        people.append((pid, f"T{pid:06d}", f"居民{pid}", birth.isoformat(), cid))
        mine = sorted(set(rng.choices(CATEGORIES, [8, 2, 5, 1, 4, 3, 2], k=rng.choice((0, 1, 1, 2)))))
        cats += [(pid, c) for c in mine]
        died = months[rng.randrange(len(months))] if rng.random() < 0.04 else None
        if died:
            deaths.append((pid, cid, f"{died}-15"))
        alive = [m for m in months if died is None or m < died]
        span = alive[rng.randrange(len(alive)):][:rng.randrange(3, 40)] if alive else []
        base = rng.uniform(300, 900)

        def pay(month, program, lo, hi, goods=0.0, pid=pid, cid=cid):
            where = cid if rng.random() < 0.95 else rng.randint(1, communities)  # moved, paid elsewhere
            amount = None if rng.random() < goods else round(rng.uniform(lo, hi), 2)
            pays.append((f"{month}-{rng.randint(1, 28):02d}", where, pid, programs[program], amount))
        if "低保" in mine:
            for m in span:
                pay(m, "低保金", base * 0.95, base * 1.05)
                if m.endswith(("-03", "-09")):
                    pay(m, "爱心购物券", 50, 200, goods=0.5)
        if "特困" in mine:
            for m in span:
                pay(m, "特困慰问", base, base * 1.3)
        for m in alive:
            if m.endswith("-01") and (mine or int(m[:4]) - birth.year >= 80) and rng.random() < 0.7:
                pay(m, "春节慰问", 200, 500, goods=0.2)
            if m.endswith("-05") and "残疾" in mine:
                pay(m, "助残慰问", 200, 400)
            if "重病" in mine and rng.random() < 0.03:
                pay(m, "大病医疗救助", 5000, 40000)  # one person dominates the cell
            if rng.random() < 0.004:
                pay(m, "临时救助", 200, 3000)
            if rng.random() < 0.03:
                visits.append((f"{m}-{rng.randint(1, 28):02d}", cid, pid))
    # Persons paid the same month and category in two communities: in July of the second
    # year, the first of five persons has more than half of 再就业补助 (补贴) summed over
    # the communities, and not within any one.
    for pid, month in ((3, months[5]), (4, months[17])):
        for where in (1, 2):
            pays.append((f"{month}-10", where, pid, programs["春节慰问"], 400.0))
    july = f"{first + 1}-07"
    for pid, where, amount in ((5, 1, 300.0), (5, 2, 300.0), (6, 3, 100.0), (7, 1, 100.0), (8, 2, 100.0),
                               (9, 3, 100.0)):
        pays.append((f"{july}-20", where, pid, programs["再就业补助"], amount))
    conn.execute("BEGIN")
    with audit.acting(conn, "test", "test"), aggregates.bulk(conn):
        conn.executemany("INSERT INTO communities (id, name) VALUES (?, ?)",
                         [(i, f"测试{i}社区") for i in range(1, communities + 1)])
        conn.executemany("INSERT INTO persons (id, id_number, name, birth_date, community_id)"
                         " VALUES (?, ?, ?, ?, ?)", people)
        conn.executemany("INSERT INTO person_categories VALUES (?, ?)", cats)
        conn.executemany("INSERT INTO deaths (person_id, community_id, died_on, cremated) VALUES (?, ?, ?, 1)",
                         deaths)
        conn.executemany("INSERT INTO disbursements (paid_on, community_id, person_id, program_id, amount_yuan)"
                         " VALUES (?, ?, ?, ?, ?)", sorted(pays))
        conn.executemany("INSERT INTO visits (visited_on, community_id, person_id) VALUES (?, ?, ?)", visits)
        aggregates.queue_payments(conn)
        aggregates.queue_visits(conn)
        aggregates.queue_persons(conn)
        aggregates.apply(conn)
    conn.execute("COMMIT")
    assert aggregates.check(conn) == []
    conn.close()
    return path


DISTRICTS = {"sparse": {"seed": 11, "persons": 260},  # ~2,800 payments: most cells small
             "dense": {"seed": 5, "persons": 1500}}   # ~14,000 payments: a few small cells


@pytest.fixture(scope="module", params=list(DISTRICTS))
def district(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param)
    generate(datadir.community_db(path), **DISTRICTS[request.param])
    return path


@pytest.fixture(scope="module", params=["sample", *DISTRICTS])
def staff_db(request, built_dir, tmp_path_factory):
    if request.param == "sample":
        return datadir.community_db(built_dir)
    path = tmp_path_factory.mktemp(request.param)
    return generate(datadir.community_db(path), **DISTRICTS[request.param])


def _snapshot(path):
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    src.execute("BEGIN")
    return src


def test_tables_before_suppression_equal_the_definitions(staff_db):
    policy = publish.load_policy()
    src = _snapshot(staff_db)
    tables, _ = publish._summaries(src, policy)
    years = ["", *(y for (y,) in src.execute("SELECT substr(paid_on, 1, 4) FROM disbursements UNION"
                                             " SELECT substr(visited_on, 1, 4) FROM visits ORDER BY 1"))]
    communities = [c for (c,) in src.execute("SELECT name FROM communities ORDER BY name")]
    assert len(years) > 1 and sorted({r["year"] for r in tables["coverage_data"]}) == years
    for table, spec in policy["tables"].items():
        name = spec.get("summary")
        if name not in LIVE:
            continue
        columns = [c for c, how in spec["columns"].items() if how != "drop"]
        ours = defaultdict(list)
        for row in tables[table]:
            assert row["suppressed"] == 0
            ours[row["year"], row["community"]].append(tuple(row[c] for c in columns))
        expected = {}
        for year in years:
            for community in ([""] if name == "relief_by_community" else [*communities, ""]):
                cursor = src.execute(LIVE[name], {"year": year, "community": community})
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, r)) for r in cursor]
                if name == "relief_by_community":
                    for r in rows:
                        expected.setdefault((year, r["community"]), []).append(tuple(r[c] for c in columns))
                elif name == "relief_by_month":
                    for r in rows:  # a month row is filed under its own year (all years: each month once)
                        if year:
                            expected.setdefault((year, community), []).append(tuple(r[c] for c in columns))
                elif rows:  # relief: no row for a year and community without payments
                    expected[year, community] = [tuple(r[c] for c in columns) for r in rows]
        assert dict(ours) == expected, table


def _contributions_by_scan(src):
    """Per money cell, each person's fen: a plain scan of the payments (the definition the
    contributor rules are stated in)."""
    cells = defaultdict(lambda: defaultdict(int))
    for y, mo, c, program, category, person, fen in src.execute(
            "SELECT substr(d.paid_on, 1, 4), substr(d.paid_on, 1, 7), c.name, p.name, p.category,"
            " d.person_id, coalesce(d.amount_fen, 0) FROM disbursements d"
            " JOIN programs p ON p.id = d.program_id JOIN communities c ON c.id = d.community_id"):
        for cc in (c, ""):
            cells["relief_by_month", y, cc, mo, category][person] += fen
        for yy in (y, ""):
            cells["relief_by_community", yy, c][person] += fen
            for cc in (c, ""):
                cells["relief_by_category", yy, cc, category][person] += fen
                cells["relief_by_program", yy, cc, program][person] += fen
    return cells


@pytest.mark.parametrize("threshold, dominance", [(5, 0.5), (2, 0.5), (12, 0.5), (40, 0.3), (5, 0.9)])
def test_cells_failing_the_contributor_rules_are_those_a_scan_finds(staff_db, threshold, dominance, monkeypatch):
    src = _snapshot(staff_db)
    read = []
    original = publish._ContributorRules._persons
    monkeypatch.setattr(publish._ContributorRules, "_persons",
                        lambda self, *cell: read.append(cell) or original(self, *cell))
    _, failing = publish._relief(src, threshold, dominance)
    expected = {key for key, people in _contributions_by_scan(src).items()
                if sum(people.values()) > 0 and (sum(1 for f in people.values() if f > 0) < threshold
                                                 or max(people.values()) > dominance * sum(people.values()))}
    assert failing == expected
    if staff_db.parent.name.startswith("sparse") and (threshold, dominance) == (12, 0.5):
        # the bounds leave some cells open, and those read their persons (months at all
        # communities summed over communities)
        assert {dim for dim, *_ in read} >= {"program", "month"}
        assert any(dim == "month" and cid == 0 for dim, cid, *_ in read)


def test_years_are_read_by_index_seeks(district):
    src = _snapshot(datadir.community_db(district))
    for table, column in (("disbursements", "paid_on"), ("visits", "visited_on")):
        assert publish._years(src, table, column) == [y for (y,) in src.execute(
            f"SELECT DISTINCT substr({column}, 1, 4) FROM {table} ORDER BY 1")]


@pytest.fixture(scope="module")
def district_public(district):
    manifest = publish.build(datadir.community_db(district), datadir.public_db(district))
    assert manifest["suppressed_cells"] > 20
    conn = sqlite3.connect(datadir.public_db(district))
    conn.row_factory = sqlite3.Row
    return conn


def _components(eqs, hidden):
    """Hidden cells linked through equations (determinedness is decided per group)."""
    parent = {h: h for h in hidden}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for total, parts in eqs:
        linked = [c for c in (total, *parts) if c in parent]
        for a, b in itertools.pairwise(linked):
            parent[find(a)] = find(b)
    groups = defaultdict(set)
    for h in hidden:
        groups[find(h)].add(h)
    return list(groups.values())


def test_generated_district_publishes_safely(district, district_public):
    path = datadir.public_db(district)
    assert small_counts(path, 5, publish.load_policy()) == []
    assert subtraction_leaks(path, publish.load_policy(), PUBLIC_QUERIES) == []
    cells, eqs = _equations(district_public)
    hidden = {k for k, r in cells.items() if r["suppressed"]}
    for group in _components(eqs, hidden):  # the exact rational check of tests/test_publish.py
        mine = [(t, p) for t, p in eqs if t in group or any(c in group for c in p)]
        assert _solvable(mine, group) == set()


def test_generated_district_public_equals_staff_where_shown(district, district_public):
    src = _snapshot(datadir.community_db(district))
    tables, _ = publish._summaries(src, publish.load_policy())
    for table, rows in tables.items():
        published = [dict(r) for r in district_public.execute(f'SELECT * FROM "{table}"')]
        assert len(published) == len(rows)
        for pub, staff in zip(published, rows):
            if pub.get("suppressed"):
                assert all(pub[c] is None for c in ("payments", "total_yuan", "registered") if c in pub)
            else:
                assert {k: v for k, v in pub.items() if k != "suppressed"} == {
                    k: staff.get(k) for k in pub if k != "suppressed"}
