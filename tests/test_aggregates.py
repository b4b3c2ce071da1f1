"""The summary aggregates stay exactly equal to a recomputation from the raw rows after any
sequence of writes: per-row writes (triggers), bulk writes (queue + apply), restores of old
versions from the audit trail, updates that
move a payment between years, communities, programs and persons, deaths, category
changes, a programme changing its category, persons moving community."""
from __future__ import annotations

import itertools
import shutil
import sqlite3

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from ingest import ROOT, aggregates, audit, datadir
from ingest.live_summaries import compare

QUERIES = yaml.safe_load((ROOT / "datasette.yaml").read_text(encoding="utf-8"))["databases"]["community"]["queries"]
YEARS = ["2019", "2020", "2021", "2022"]
COUNTER = itertools.count()
CATEGORIES = ["低保", "特困", "残疾", "军属", "烈属", "现役军人", "空巢老人", "困难户"]


@pytest.fixture(scope="module")
def sample_db(built_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("agg") / "community.db"
    src = sqlite3.connect(datadir.community_db(built_dir))
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    return path


def connect(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def summaries_equal_live(conn, years=("", *YEARS, "1999")) -> list:
    communities = [""] + [r[0] for r in conn.execute("SELECT name FROM communities")] + ["没有这个社区"]
    return compare(conn, QUERIES, years=years, communities=communities)


def pick(conn, sql, draw_index):
    rows = conn.execute(sql).fetchall()
    return rows[draw_index % len(rows)] if rows else None


OPS = st.lists(st.tuples(
    st.sampled_from(["pay", "pay", "unpay", "repay", "visit", "unvisit", "revisit", "cat", "uncat",
                     "die", "undie", "move", "birth", "program_category", "person", "bulk", "restore"]),
    st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(YEARS),
    st.one_of(st.none(), st.integers(0, 500_00))), min_size=1, max_size=25)


def run_op(conn, op, a, b, year, fen):
    person = pick(conn, "SELECT id, community_id FROM persons ORDER BY id", a)
    community = pick(conn, "SELECT id FROM communities ORDER BY id", b)[0]
    program = pick(conn, "SELECT id FROM programs ORDER BY id", b)[0]
    day = f"{year}-{a % 12 + 1:02d}-{b % 28 + 1:02d}"
    amount = None if fen is None else fen / 100
    if op == "pay":
        conn.execute("INSERT INTO disbursements (paid_on, community_id, person_id, program_id, amount_yuan)"
                     " VALUES (?, ?, ?, ?, ?)", [day, person[1] if b % 3 else community, person[0], program, amount])
    elif op == "unpay" and (row := pick(conn, "SELECT id FROM disbursements ORDER BY id", a)):
        conn.execute("DELETE FROM disbursements WHERE id = ?", row)
    elif op == "repay" and (row := pick(conn, "SELECT id FROM disbursements ORDER BY id", a)):
        conn.execute("UPDATE disbursements SET paid_on = ?, amount_yuan = ?, program_id = ?, person_id = ?,"
                     " community_id = ? WHERE id = ?",
                     [day, amount, program, person[0], community if b % 2 else person[1], row[0]])
    elif op == "visit":
        conn.execute("INSERT INTO visits (visited_on, community_id, person_id) VALUES (?, ?, ?)",
                     [day, person[1], person[0]])
    elif op == "unvisit" and (row := pick(conn, "SELECT id FROM visits ORDER BY id", a)):
        conn.execute("DELETE FROM visits WHERE id = ?", row)
    elif op == "revisit" and (row := pick(conn, "SELECT id FROM visits ORDER BY id", a)):
        conn.execute("UPDATE visits SET visited_on = ?, person_id = ? WHERE id = ?", [day, person[0], row[0]])
    elif op == "cat":
        conn.execute("INSERT OR IGNORE INTO person_categories VALUES (?, ?)",
                     [person[0], CATEGORIES[b % len(CATEGORIES)]])
    elif op == "uncat" and (row := pick(conn, "SELECT rowid FROM person_categories ORDER BY rowid", a)):
        conn.execute("DELETE FROM person_categories WHERE rowid = ?", row)
    elif op == "die":
        conn.execute("INSERT INTO deaths (person_id, community_id, died_on, cremated) VALUES (?, ?, ?, 1)"
                     " ON CONFLICT (person_id) DO UPDATE SET died_on = excluded.died_on",
                     [person[0], person[1], day])
    elif op == "undie" and (row := pick(conn, "SELECT id FROM deaths ORDER BY id", a)):
        conn.execute("DELETE FROM deaths WHERE id = ?", row)
    elif op == "move":
        conn.execute("UPDATE persons SET community_id = ? WHERE id = ?", [community, person[0]])
    elif op == "birth":
        conn.execute("UPDATE persons SET birth_date = ? WHERE id = ?",
                     [f"{1925 + b % 80}-{a % 12 + 1:02d}-01" if b % 7 else None, person[0]])
    elif op == "program_category":
        conn.execute("UPDATE programs SET category = ? WHERE id = ?", [CATEGORIES[a % len(CATEGORIES)], program])
    elif op == "person":
        new = conn.execute("INSERT INTO persons (id_number, name, birth_date, community_id) VALUES (?, ?, ?, ?)",
                           [f"T{a}-{b}-{conn.execute('SELECT count(*) FROM persons').fetchone()[0]}", "测试人",
                            f"{1930 + a % 60}-05-05", community]).lastrowid
        conn.execute("INSERT INTO person_categories VALUES (?, ?)", [new, CATEGORIES[a % len(CATEGORIES)]])
    elif op == "restore" and (entry := pick(
            conn, "SELECT table_name, row_id, id FROM audit_log WHERE table_name IN ('disbursements', 'visits',"
                  " 'persons', 'deaths', 'programs') ORDER BY id", a)):
        try:  # an admin restoring an old version; refusals change nothing
            audit.restore(conn, *entry)
        except (audit.RestoreError, sqlite3.IntegrityError):
            pass
    elif op == "bulk":
        with aggregates.bulk(conn):
            first = conn.execute("SELECT coalesce(max(id), 0) FROM disbursements").fetchone()[0]
            people = conn.execute("SELECT id, community_id FROM persons ORDER BY id").fetchall()
            for i in range(1 + a % 30):
                p = people[(a + i * 7) % len(people)]
                conn.execute("INSERT INTO disbursements (paid_on, community_id, person_id, program_id, amount_yuan)"
                             " VALUES (?, ?, ?, ?, ?)", [f"{YEARS[i % 4]}-0{i % 9 + 1}-15", p[1], p[0], program,
                                                         None if i % 5 == 0 else 100 + i])
            conn.execute("UPDATE persons SET community_id = ? WHERE id = ?", [community, person[0]])
            aggregates.queue_payments(conn, "d.id > ?", [first])
            aggregates.queue_persons(conn, "p.id = ?", [person[0]])
            aggregates.apply(conn)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_aggregates_equal_recomputation_after_random_writes(sample_db, tmp_path, ops):
    path = tmp_path / f"c{next(COUNTER)}.db"
    shutil.copyfile(sample_db, path)
    conn = connect(path)
    try:
        conn.execute("BEGIN")
        with audit.acting(conn, "测试", "测试"):
            for op in ops:
                run_op(conn, *op)
        conn.execute("COMMIT")
        assert aggregates.check(conn) == []
        assert summaries_equal_live(conn) == []
    finally:
        conn.close()
        path.unlink()


def test_the_sample_summaries_equal_their_definitions(sample_db):
    conn = connect(sample_db)
    assert aggregates.check(conn) == []
    assert summaries_equal_live(conn) == []


def test_check_reports_drift_in_chinese(sample_db, tmp_path):
    path = tmp_path / "c.db"
    shutil.copyfile(sample_db, path)
    conn = connect(path)
    conn.execute("UPDATE agg_relief SET payments = payments + 1 WHERE dim = 'category' AND year = ''"
                 " AND community_id = 0 AND grp = '慰问'")
    problems = aggregates.check(conn)
    assert len(problems) == 2
    assert problems[0].startswith("agg_relief：现有 {'dim': 'category', 'community_id': 0, 'year': '', 'grp': '慰问'")
    assert "重算中没有这一行" in problems[0]
    assert "现有汇总中没有这一行" in problems[1]


def test_shequ_check_cli(data_dir):
    from click.testing import CliRunner

    from ingest.cli import main

    ok = CliRunner().invoke(main, ["check", "--deep", "--db-dir", str(data_dir)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("汇总表与原始数据一致：7 张汇总表共 ")
    assert "未发现差异（含逐个汇总查询的比较）" in ok.output
    conn = connect(datadir.community_db(data_dir))
    conn.execute("UPDATE agg_relief SET recipients = recipients + 1 WHERE dim = 'community'")
    conn.close()
    drift = CliRunner().invoke(main, ["check", "--repair", "--db-dir", str(data_dir)])
    assert drift.exit_code == 1
    assert drift.output.startswith("发现 ")
    assert "agg_relief：现有 {'dim': 'community'" in drift.output
    assert drift.output.rstrip().endswith("已从原始数据重建全部汇总表")
    again = CliRunner().invoke(main, ["check", "--db-dir", str(data_dir)])
    assert again.exit_code == 0, again.output


def _grown(sample_db, tmp_path, extra: int):
    """The sample, plus `extra` registry persons (低保, one payment and one visit each) added
    in bulk, so agg_cov_member, agg_cov_activity and agg_relief_reach hold them too."""
    path = tmp_path / f"grown{extra}.db"
    shutil.copyfile(sample_db, path)
    conn = connect(path)
    conn.execute("BEGIN")
    with audit.acting(conn, "测试", "测试"), aggregates.bulk(conn):
        first = conn.execute("SELECT max(id) FROM persons").fetchone()[0]
        (community,) = conn.execute("SELECT min(id) FROM communities").fetchone()
        (program,) = conn.execute("SELECT min(id) FROM programs").fetchone()
        conn.executemany("INSERT INTO persons (id_number, name, birth_date, community_id) VALUES (?, '测试人', ?, ?)",
                         [(f"G{i}", f"{1930 + i % 60}-05-05", community) for i in range(extra)])
        conn.execute("INSERT INTO person_categories SELECT id, '低保' FROM persons WHERE id > ?", [first])
        conn.execute("INSERT INTO disbursements (paid_on, community_id, person_id, program_id, amount_yuan)"
                     " SELECT '2021-03-15', community_id, id, ?, 10 FROM persons WHERE id > ?", [program, first])
        conn.execute("INSERT INTO visits (visited_on, community_id, person_id)"
                     " SELECT '2021-04-01', community_id, id FROM persons WHERE id > ?", [first])
        aggregates.queue_persons(conn, "p.id > ?", [first])
        aggregates.queue_payments(conn, "d.person_id > ?", [first])
        aggregates.queue_visits(conn, "d.person_id > ?", [first])
        aggregates.apply(conn)
    conn.execute("COMMIT")
    return conn


def _steps(conn, statements) -> int:
    """SQLite virtual-machine steps (in thousands) the statements take, rolled back after."""
    steps = [0]

    def count():
        steps[0] += 1
    conn.execute("BEGIN")
    conn.set_progress_handler(count, 1000)
    try:
        with audit.acting(conn, "测试", "测试"):
            for sql, params in statements:
                conn.execute(sql, params)
    finally:
        conn.set_progress_handler(None, 0)
        conn.execute("ROLLBACK")
    return steps[0]


def test_a_form_write_costs_the_same_whatever_the_size_of_the_registry(sample_db, tmp_path):
    """A one-row write runs APPLY through its triggers: that must read the rows the write
    touches by key, never a whole aggregate table (it did: every write, even a payment's,
    scanned all of agg_cov_member eight times - 977k VM steps here instead of 17k). 20,000
    more persons leave its cost nearly unchanged."""
    small, big = _grown(sample_db, tmp_path, 0), _grown(sample_db, tmp_path, 20_000)
    try:
        person, community = small.execute(
            "SELECT id, community_id FROM persons WHERE id NOT IN (SELECT person_id FROM deaths) AND id NOT IN"
            " (SELECT person_id FROM person_categories WHERE category = '特困') ORDER BY id LIMIT 1").fetchone()
        writes = {
            "payment": [("INSERT INTO disbursements (paid_on, community_id, person_id, program_id, amount_yuan)"
                         " VALUES ('2022-06-15', ?, ?, 1, 250)", [community, person])],
            "visit": [("INSERT INTO visits (visited_on, community_id, person_id) VALUES ('2022-06-20', ?, ?)",
                       [community, person])],
            "birth date": [("UPDATE persons SET birth_date = '1931-01-01' WHERE id = ?", [person])],
            "category": [("INSERT INTO person_categories VALUES (?, '特困')", [person])],
            "death": [("INSERT INTO deaths (person_id, community_id, died_on, cremated) VALUES (?, ?, '2022-07-01', 1)",
                       [person, community])],
        }
        for name, statements in writes.items():
            cost_small, cost_big = _steps(small, statements), _steps(big, statements)
            assert cost_big <= 1.5 * cost_small + 20, (name, cost_small, cost_big)
        # the control: a statement that does read every member costs in proportion
        scan = [("SELECT sum(start_year) FROM agg_cov_member", [])]
        assert _steps(big, scan) > 10 * _steps(small, scan) + 20
    finally:
        small.close()
        big.close()
