"""public.db: built by allow-list, suppressed so that no hidden cell can be solved for,
equal to the staff summaries wherever nothing is hidden, served to everyone."""
from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
from collections import defaultdict
from fractions import Fraction

import pytest
import yaml
from click.testing import CliRunner

from ingest import ROOT, datadir
from ingest.app import make_datasette
from ingest.cli import main
from ingest.publish import PolicyError, build

from .conftest import login

SUMMARIES = {  # public table -> (stored query, key params)
    "relief_by_category_data": ("relief_by_category", ("year", "community")),
    "relief_by_program_data": ("relief_by_program", ("year", "community")),
    "relief_by_community_data": ("relief_by_community", ("year",)),
    "coverage_data": ("coverage", ("year", "community")),
    "committee_composition_data": ("committee_composition", ("term", "community")),
}
COUNTS = {"relief_by_category_data": ["payments", "recipients"],
          "relief_by_program_data": ["payments", "recipients"],
          "relief_by_month_data": ["payments"], "relief_by_community_data": ["payments", "recipients"],
          "coverage_data": ["registered", "visited", "assisted"]}


@pytest.fixture(scope="module")
def public(built_dir):
    conn = sqlite3.connect(datadir.public_db(built_dir))
    conn.row_factory = sqlite3.Row
    return conn


def rows(conn, table):
    return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')]


def test_no_published_count_between_one_and_threshold(public):
    threshold = json.loads(public.execute("SELECT value FROM _manifest WHERE key = 'threshold'").fetchone()[0])
    assert threshold == 5
    for table, columns in COUNTS.items():
        for row in rows(public, table):
            for column in columns:
                assert row[column] is None or row[column] == 0 or row[column] >= threshold, (table, row)
            if row["suppressed"]:
                assert all(row[c] is None for c in columns)


def test_small_and_dominated_cells_are_hidden(public):
    def cell(table, **key):
        where = " AND ".join(f"{k} = ?" for k in key)
        return dict(public.execute(f"SELECT * FROM {table} WHERE {where}", list(key.values())).fetchone())
    # 3 payments of 双拥慰问: too few.
    assert cell("relief_by_program_data", year="2012", community="跃华社区", program="双拥慰问")["suppressed"] == 1
    # March 2012 救助: 7 payments, but 樊国建's 3,200 is more than half of 6,100.
    march = cell("relief_by_month_data", community="跃华社区", month="2012-03", category="救助")
    assert march["suppressed"] == 1 and march["total_yuan"] is None
    # The headline figure survives.
    assert cell("relief_by_category_data", year="2012", community="", category="慰问")["total_yuan"] == 18940.0


def _equations(public):
    """Every additive relation between the published relief and coverage cells, built
    here from the public tables alone (independently of ingest.publish)."""
    cat = {(r["year"], r["community"], r["category"]): r for r in rows(public, "relief_by_category_data")}
    prog = {(r["year"], r["community"], r["program"]): r for r in rows(public, "relief_by_program_data")}
    month = {(r["community"], r["month"], r["category"]): r for r in rows(public, "relief_by_month_data")}
    comm = {(r["year"], r["community"]): r for r in rows(public, "relief_by_community_data")}
    cov = {(r["year"], r["community"], r["group_name"]): r for r in rows(public, "coverage_data")}
    cells = {**{("cat", *k): v for k, v in cat.items()}, **{("prog", *k): v for k, v in prog.items()},
             **{("month", *k): v for k, v in month.items()}, **{("comm", *k): v for k, v in comm.items()},
             **{("cov", *k): v for k, v in cov.items()}}
    eqs = []
    for (y, c, k), r in cat.items():
        eqs.append((("cat", y, c, k), [("prog", *pk) for pk, pr in prog.items()
                                       if pk[:2] == (y, c) and pr["category"] == k]))
        eqs.append((("cat", y, c, k), [("month", *mk) for mk in month
                                       if mk[0] == c and mk[2] == k and (y == "" or mk[1][:4] == y)]))
    for (y, c) in comm:
        eqs.append((("comm", y, c), [("cat", *ck) for ck in cat if ck[:2] == (y, c)]))
    for kind, table in (("cat", cat), ("prog", prog), ("cov", cov)):
        for (y, c, k) in table:
            if c == "":
                eqs.append(((kind, y, c, k), [(kind, *o) for o in table if o[0] == y and o[2] == k and o[1]]))
            if y == "" and kind != "cov":
                eqs.append(((kind, y, c, k), [(kind, *o) for o in table if o[1] == c and o[2] == k and o[0]]))
    for (c, mo, k) in month:
        if c == "":
            eqs.append((("month", c, mo, k), [("month", *o) for o in month if o[1:] == (mo, k) and o[0]]))
    for (y, c) in comm:
        if y == "":
            eqs.append((("comm", y, c), [("comm", *o) for o in comm if o[1] == c and o[0]]))
    return cells, eqs


def _solvable(eqs, unknown):
    """Unknown cells whose value the equations fix, by exact elimination over the rationals."""
    index = {u: i for i, u in enumerate(sorted(unknown, key=repr))}
    matrix = []
    for total, parts in eqs:
        row = [Fraction(0)] * len(index)
        if total in index:
            row[index[total]] += 1
        for p in parts:
            if p in index:
                row[index[p]] -= 1
        if any(row):
            matrix.append(row)
    pivot_rows, col = [], 0
    for col in range(len(index)):
        pivot = next((r for r in range(len(pivot_rows), len(matrix)) if matrix[r][col]), None)
        if pivot is None:
            continue
        r0 = len(pivot_rows)
        matrix[r0], matrix[pivot] = matrix[pivot], matrix[r0]
        lead = matrix[r0][col]
        matrix[r0] = [x / lead for x in matrix[r0]]
        for r in range(len(matrix)):
            if r != r0 and matrix[r][col]:
                f = matrix[r][col]
                matrix[r] = [a - f * b for a, b in zip(matrix[r], matrix[r0])]
        pivot_rows.append(col)
    names = sorted(unknown, key=repr)
    return {names[c] for r, c in enumerate(pivot_rows) if sum(1 for x in matrix[r] if x) == 1}


def test_no_suppressed_cell_can_be_solved_for(public, built_dir):
    cells, eqs = _equations(public)
    hidden = {k for k, r in cells.items() if r["suppressed"]}
    assert len(hidden) > 10
    assert _solvable(eqs, hidden) == set()
    # The equations are real: with the staff values filled in, every one holds.
    staff = sqlite3.connect(datadir.community_db(built_dir))
    pay = defaultdict(int)
    for y, c, k, p, mo, n in staff.execute(
            "SELECT substr(paid_on, 1, 4), c.name, p.category, p.name, substr(paid_on, 1, 7), count(*)"
            " FROM disbursements d JOIN programs p ON p.id = d.program_id"
            " JOIN communities c ON c.id = d.community_id GROUP BY 1, 2, 3, 4, 5"):
        for yy, cc in itertools.product((y, ""), (c, "")):
            pay["cat", yy, cc, k] += n
            pay["prog", yy, cc, p] += n
        for yy in (y, ""):
            pay["comm", yy, c] += n
        for cc in (c, ""):
            pay["month", cc, mo, k] += n
    for total, parts in eqs:
        if total[0] != "cov":
            assert pay[total] == sum(pay[p] for p in parts), total
    # And the check would catch a lone hidden cell.
    lone = next(k for k in cells if k[0] == "prog" and not cells[k]["suppressed"])
    assert lone in _solvable(eqs, {lone})


async def test_public_equals_staff_where_nothing_is_hidden(ds, cookies, public):
    staff_cookie = cookies["staff"]
    for table, (query, keys) in SUMMARIES.items():
        params = {tuple(r[k] for k in keys) for r in rows(public, table)}
        for values in params:
            args = {**dict(zip(keys, values)), "_shape": "array"}
            pub = (await ds.client.get(f"/public/{query}.json", params=args)).json()
            staff = (await ds.client.get(f"/community/{query}.json", params=args, cookies=staff_cookie)).json()
            assert len(pub) == len(staff), (query, args)
            for p, s in zip(pub, staff):
                if p.get("suppressed"):
                    continue
                assert {k: v for k, v in p.items() if k != "suppressed"} == s, (query, args)
    pub = (await ds.client.get("/public/relief_by_month.json?year=2012&community=&_shape=array")).json()
    staff = (await ds.client.get("/community/relief_by_month.json?year=2012&community=&_shape=array",
                                 cookies=staff_cookie)).json()
    assert [(r["month"], r["category"]) for r in pub] == [(r["month"], r["category"]) for r in staff]
    turnout = (await ds.client.get("/public/election_turnout.json?term=8&_shape=array")).json()
    assert turnout == (await ds.client.get("/community/election_turnout.json?term=8&_shape=array",
                                           cookies=staff_cookie)).json()


def test_file_is_clean_and_has_a_manifest(public, built_dir):
    kinds = public.execute("SELECT type, name FROM sqlite_master WHERE type != 'index'").fetchall()
    assert {t for t, _ in kinds} == {"table"}
    policy_tables = set(yaml.safe_load((ROOT / "publish.yml").read_text())["tables"])
    assert {n for _, n in kinds} == policy_tables | {"_manifest"}
    assert public.execute("PRAGMA freelist_count").fetchone()[0] == 0
    manifest = {k: json.loads(v) for k, v in public.execute("SELECT key, value FROM _manifest")}
    assert manifest["policy_sha256"] == hashlib.sha256((ROOT / "publish.yml").read_bytes()).hexdigest()
    for table, count in manifest["row_counts"].items():
        assert public.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == count
    members = rows(public, "committee_members")
    assert len(members) == 108 and set(members[0]) == {
        "community", "term", "name", "gender", "age_band", "education", "party", "role"}
    assert {m["age_band"] for m in members} <= {"20-29岁", "30-39岁", "40-49岁", "50-59岁", "60-69岁",
                                                "70-79岁", "80岁及以上"}


def test_policy_naming_a_missing_column_fails_the_build(built_dir, tmp_path):
    policy = yaml.safe_load((ROOT / "publish.yml").read_text())
    policy["tables"]["communities"]["columns"]["population"] = "keep"
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True))
    with pytest.raises(PolicyError, match="表 communities 的列 population 在源数据中不存在"):
        build(datadir.community_db(built_dir), tmp_path / "public.db", policy_path=path)
    assert not (tmp_path / "public.db").exists() and not list(tmp_path.glob("*.building"))
    policy["tables"]["communities"]["columns"] = {"name": "hash"}
    path.write_text(yaml.safe_dump(policy, allow_unicode=True))
    with pytest.raises(PolicyError, match="communities.name 的处理方式「hash」不认识"):
        build(datadir.community_db(built_dir), tmp_path / "public.db", policy_path=path)


def test_publish_command_and_threshold(data_dir):
    result = CliRunner().invoke(main, ["publish", "--threshold", "10", "--db-dir", str(data_dir)])
    assert result.exit_code == 0 and "阈值 10" in result.output
    conn = sqlite3.connect(datadir.public_db(data_dir))
    assert json.loads(conn.execute("SELECT value FROM _manifest WHERE key = 'threshold'").fetchone()[0]) == 10
    low = conn.execute("SELECT count(*) FROM relief_by_program_data WHERE payments BETWEEN 1 AND 9").fetchone()[0]
    assert low == 0


async def test_anonymous_reads_public_and_nothing_of_community(built_dir, ds):
    for path in ("/public/relief_by_category.json?year=2012&community=",
                 "/public/coverage.json?year=2012&community=", "/public/election_turnout.json?term=8",
                 "/public/committee_members.json", "/public/-/query.json?sql=select+count(*)+from+programs"):
        response = await ds.client.get(path)
        assert response.status_code == 200 and response.json()["ok"] is True, path
    download = await ds.client.get("/public.db")
    assert download.status_code == 200
    assert download.content == datadir.public_db(built_dir).read_bytes()
    for path in ("/community", "/community.json", "/community/persons.json", "/community.db",
                 "/community/relief_by_category.json?year=2012"):
        assert (await ds.client.get(path)).status_code in (302, 403), path


async def test_public_only_serves_just_the_public_file(built_dir):
    ds = make_datasette(built_dir, public_only=True)
    assert [d for d in ds.databases if not d.startswith("_")] == ["public"]
    assert (await ds.client.get("/public/relief_by_category.json?year=2012&community=")).status_code == 200
    assert (await ds.client.get("/community/persons.json")).status_code in (403, 404)
    result = CliRunner().invoke(main, ["serve", "--public-only", "--db-dir", str(built_dir / "nowhere")])
    assert result.exit_code == 1 and "public.db 不存在：请先运行 shequ publish" in result.output


async def test_staff_login_still_needed_for_community(built_dir):
    ds = make_datasette(built_dir)
    cookie = await login(ds, "viewer1")
    assert (await ds.client.get("/community/persons.json", cookies=cookie)).status_code == 200
