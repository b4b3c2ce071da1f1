"""Bulk ingest (issue 6): the loader's bulk writers give exactly what writing row by row
through the triggers gives - rows, aggregates, search documents and hits, the audit trail
and who imported what from which file - in memory that does not grow with the file;
errors are capped in memory but counted, and the progress bar reports rows per second."""
from __future__ import annotations

import csv
import importlib.util
import json
import re
import sqlite3
import tracemalloc
from collections import Counter

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import ROOT, aggregates, audit, datadir, schema, search
from ingest.cli import _progress, main
from ingest.loader import load_files
from ingest.report import MAX_KEPT_ERRORS
from ingest.validators import make_id_number
from ingest.writers import drop_indexes as _real_drop_indexes

SEARCHES = ("陈", "王芳", "低保", "春节慰问", "慰问", "米", "张娟", "入户走访", "小区", "0004", "13900000",
            "残疾", "重病", "转账", "渝蓉", "🌟", "长备注")


def _generate():
    spec = importlib.util.spec_from_file_location("shequ_bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def _write(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _registry_update(path, out):
    """The registry again, with changes: phones, categories (added, changed, removed),
    addresses with odd spacing, long notes, new residents, a duplicate and a bad row."""
    rows = _read(path)
    header = rows[0] + ["备注"]
    at = {h: i for i, h in enumerate(header)}
    body = [r + [""] for r in rows[1:]]
    for i, r in enumerate(body):
        if i % 7 == 0:
            r[at["联系电话"]] = f"023-6{i:07d}"
        if i % 5 == 0:
            r[at["人员类别"]] = "" if r[at["人员类别"]] else "低保、残疾"
        if i % 11 == 0:
            r[at["住址"]] = f"  {r[at['住址']]}  附 {i} 号 "
        if i % 13 == 0:
            r[at["备注"]] = "长备注🌟" * 150 + f" 第{i}"
    for k in range(40):
        id_number = make_id_number("500199", f"19{40 + k}0101", f"{k:03d}")
        body.append(["新建社区" if k % 2 else body[0][0], f"N{k:04d}", f"新居民{k}", id_number,
                     "", f"1370000{k:04d}", f"新区 {k} 栋", "重病" if k % 3 else "", "备注 x"])
    body.append(list(body[3]))  # the same person twice: 重复
    body.append(["东风社区", "H1", "坏行", "12345", "", "", "", "", ""])  # bad ID number
    return _write(out, [header, *body])


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    root = tmp_path_factory.mktemp("bulk_ledgers")
    _generate()(root, disbursements=3000, persons=400, communities=4, years=3)
    _registry_update(root / "01_registry.csv", root / "06_registry_update.csv")
    # payments naming unknown people and programmes, for --skip-bad
    rows = _read(root / "02_disbursements.csv")
    rows[5][rows[0].index("项目")] = "没有的项目"
    rows[9][rows[0].index("姓名")] = "别人"
    rows[12][rows[0].index("发放日期")] = "2099-01-01"
    _write(root / "07_disbursements_bad.csv", rows[:200])
    return root


def _load(db_dir, paths, bulk, **kw):
    db = schema.connect(datadir.community_db(db_dir))
    schema.migrate(db)
    try:
        return load_files(db, paths, actor="测试", via="测试导入", bulk=bulk, **kw)
    finally:
        db.close()


def _state(db_dir):
    conn = sqlite3.connect(datadir.community_db(db_dir))
    out = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in audit.AUDITED}
    out["fts"] = {i.fts: conn.execute(f"SELECT rowid, * FROM {i.fts} ORDER BY rowid").fetchall()
                  for i in search.INDEXES}
    out["aggregates"] = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall()
                         for t in aggregates.AGG_TABLES}
    out["audit"] = Counter(conn.execute(
        "SELECT actor, via, table_name, row_id, action, before, after FROM audit_log"
        " WHERE table_name != 'imports'").fetchall())
    out["hits"] = {(t, q): search.ids(conn, t, q, limit=100_000)
                   for q in SEARCHES for t in ("persons", "disbursements", "visits")}
    out["problems"] = aggregates.check(conn)
    for index in search.INDEXES:
        conn.execute(f"INSERT INTO {index.fts} ({index.fts}) VALUES ('integrity-check')")
    conn.close()
    return out


def _indexes(db_dir):
    """The indexes, and the FTS settings (a bulk import changes both for a while)."""
    conn = sqlite3.connect(datadir.community_db(db_dir))
    try:
        return conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"
                            " UNION ALL SELECT 'fts', k, v FROM disbursements_fts_config"
                            " ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


def test_bulk_equals_row_by_row(ledgers, built_dir, tmp_path, monkeypatch):
    """The first payments import (3,000 rows into an empty table) is big enough to drop
    the indexes and build them again at the end; the later small ones write through them.
    The person cache holds 100 residents (of several hundred): it evicts all along."""
    from ingest import writers
    monkeypatch.setattr(writers, "REBUILD_MIN_ROWS", 1000)
    monkeypatch.setattr(writers, "PERSON_CACHE", 100)
    dropped = []
    monkeypatch.setattr(writers, "drop_indexes", lambda conn, table: dropped.append(table)
                        or _real_drop_indexes(conn, table))
    files = [ledgers / n for n in ("01_registry.csv", "02_disbursements.csv", "03_visits.csv")]
    update = ledgers / "06_registry_update.csv"
    bad = ledgers / "07_disbursements_bad.csv"
    results = {}
    for bulk in (True, False):
        db_dir = tmp_path / ("bulk" if bulk else "rows")
        (db_dir).mkdir()
        for name in ("community.db",):
            sqlite3.connect(built_dir / name).backup(sqlite3.connect(db_dir / name))
        reports = _load(db_dir, files, bulk)
        assert all(r.ok and r.written and not r.errors for r in reports), [r.summary() for r in reports]
        reports += _load(db_dir, [update], bulk, skip_bad=True)
        reports += _load(db_dir, [bad], bulk, skip_bad=True)
        summaries = [r.summary() for r in reports]
        errors = [(r.error_count, r.bad_lines, [str(e) for e in r.errors]) for r in reports]
        rejects = [_read(r.rejects_path) if r.rejects_path else None for r in reports]
        for r in reports:
            if r.rejects_path:
                r.rejects_path.unlink()
        results[bulk] = (summaries, errors, rejects, _state(db_dir))
    (summaries, errors, rejects, state), expected = results[True], results[False]
    assert sqlite3.connect(tmp_path / "bulk" / "community.db").execute(
        "SELECT count(DISTINCT person_id) FROM disbursements").fetchone()[0] > 300
    assert summaries == expected[0]
    assert "更新" in summaries[3] and "新增 40 行" in summaries[3] and "跳过错误行 2 行" in summaries[3]
    assert errors == expected[1] and errors[3][0] == 2 and errors[4][0] == 3
    assert rejects == expected[2]
    assert state["problems"] == [] and expected[3]["problems"] == []
    for key in state:
        assert state[key] == expected[3][key], key
    assert any(state["hits"][("persons", "长备注")]) and any(state["hits"][("disbursements", "春节慰问")])
    assert dropped == ["disbursements"]  # the bulk run's first payments import only
    assert _indexes(tmp_path / "bulk") == _indexes(tmp_path / "rows")
    conn = sqlite3.connect(datadir.community_db(tmp_path / "bulk"))
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    # FTS5 automerge was off while the payments and visits were indexed, and is back on
    assert conn.execute("SELECT k, v FROM disbursements_fts_config WHERE k = 'automerge'"
                        " UNION ALL SELECT k, v FROM visits_fts_config WHERE k = 'automerge'").fetchall() \
        == [("automerge", 4), ("automerge", 4)]


def test_big_import_that_fails_keeps_the_indexes(ledgers, data_dir, monkeypatch):
    """Dropping the indexes is part of the import's transaction: a refused file leaves them."""
    from ingest import loader, writers
    monkeypatch.setattr(writers, "REBUILD_MIN_ROWS", 10)
    monkeypatch.setattr(writers, "FLUSH_ROWS", 50)
    monkeypatch.setattr(loader, "CHUNK", 100)  # rows 1-300 are written (indexes dropped) first
    dropped = []
    monkeypatch.setattr(writers, "drop_indexes", lambda conn, table: dropped.append(table)
                        or _real_drop_indexes(conn, table))
    _load(data_dir, [ledgers / "01_registry.csv"], True)
    before = _indexes(data_dir)
    rows = _read(ledgers / "02_disbursements.csv")
    rows[400][rows[0].index("金额(元)")] = "abc"
    [report] = _load(data_dir, [_write(data_dir / "发放.csv", rows[:500])], True)
    assert not report.written and report.error_count == 1 and dropped == ["disbursements"]
    assert _indexes(data_dir) == before and any(t == "disbursements" for _, t, _ in before)


def test_every_imported_row_is_attributed_and_restorable(ledgers, data_dir):
    reports = _load(data_dir, [ledgers / "01_registry.csv", ledgers / "02_disbursements.csv"], True)
    assert all(r.written for r in reports)
    db = schema.connect(datadir.community_db(data_dir))
    conn = db.conn
    payment = conn.execute("SELECT max(id) FROM disbursements").fetchone()[0]
    person = conn.execute("SELECT max(id) FROM persons").fetchone()[0]
    for table, row_id, file_name in (("disbursements", payment, "02_disbursements.csv"),
                                     ("persons", person, "01_registry.csv")):
        [entry] = audit.history(conn, table, row_id)
        assert (entry["actor"], entry["via"], entry["action"]) == ("测试", "测试导入", "insert")
        assert entry["import"]["file_name"] == file_name and entry["at"]
    original = conn.execute("SELECT note FROM disbursements WHERE id = ?", [payment]).fetchone()[0]
    with db.atomic(), audit.acting(conn, "管理员", "测试"):
        conn.execute("UPDATE disbursements SET note = '改过' WHERE id = ?", [payment])
    insert, update = audit.history(conn, "disbursements", payment)
    assert "import" not in update
    with db.atomic(), audit.acting(conn, "管理员", "恢复"):
        audit.restore(conn, "disbursements", payment, insert["id"])
    assert conn.execute("SELECT note FROM disbursements WHERE id = ?", [payment]).fetchone()[0] == original
    assert aggregates.check(conn) == []
    db.close()


def _peak(db_dir, path):
    tracemalloc.start()
    try:
        [report] = _load(db_dir, [path], True)
        return tracemalloc.get_traced_memory()[1], report
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_rows(ledgers, built_dir, tmp_path, monkeypatch):
    """Small bounds for the caches, so that they are full well before 10,000 rows: then
    the peak is the same for 5 times the rows."""
    from ingest import loader, writers
    monkeypatch.setattr(loader, "MEMO_SIZE", 500)
    monkeypatch.setattr(search, "MEMO_SIZE", 500)
    monkeypatch.setattr(writers, "PERSON_CACHE", 500)
    monkeypatch.setattr(writers, "FLUSH_ROWS", 2000)
    rows = _read(ledgers / "02_disbursements.csv")
    peaks = {}
    for n in (10_000, 50_000):
        path = _write(tmp_path / f"发放{n}.csv", [rows[0], *(rows[1 + i % (len(rows) - 1)] for i in range(n))])
        db_dir = tmp_path / f"d{n}"
        db_dir.mkdir()
        sqlite3.connect(built_dir / "community.db").backup(sqlite3.connect(db_dir / "community.db"))
        _load(db_dir, [ledgers / "01_registry.csv"], True)
        peaks[n], report = _peak(db_dir, path)
        assert report.written and report.added == n
    assert peaks[50_000] < peaks[10_000] * 1.1, peaks


def test_errors_are_capped_in_memory_but_counted(ledgers, data_dir, tmp_path):
    _load(data_dir, [ledgers / "01_registry.csv"], True)
    rows = _read(ledgers / "02_disbursements.csv")
    at = rows[0].index("金额(元)")
    bad = [list(r) for r in rows[1:3001]]
    for r in bad[::2]:
        r[at] = "-5"  # 1,500 rows refused
    path = _write(tmp_path / "发放.csv", [rows[0], *bad])
    [report] = _load(data_dir, [path], True, skip_bad=True)
    assert report.written and report.added == 1500
    assert report.error_count == report.bad_lines == 1500 and len(report.errors) == MAX_KEPT_ERRORS
    assert str(report.errors[0]) == "第 2 行「金额(元)」：金额不能为负数"
    assert len(_read(report.rejects_path)) == 1 + 1500
    assert not list(tmp_path.glob(".*.partial"))
    result = CliRunner().invoke(main, ["ingest", "--db-dir", str(data_dir), str(path)])
    assert result.exit_code == 0 and "已于" in result.output  # already loaded
    strict = _write(tmp_path / "发放2.csv", [rows[0], *bad[:2000]])
    result = CliRunner().invoke(main, ["ingest", "--db-dir", str(data_dir), str(strict)])
    assert result.exit_code == 1
    assert "有 1000 行错误，整个文件未写入任何数据" in result.output
    assert "……另有 800 处错误" in result.output


class _Sheet:
    def __init__(self, path, size):
        self.path, self.name, self.size_hint = path, None, size


def test_progress_bar_reports_rows_per_second(tmp_path, capsys):
    update = _progress(_Sheet(tmp_path / "发放.csv", 10_000_000))
    update(5_000_000, 50_000)
    update(10_000_000, 100_000, done=True)
    update(10_000_000, 100_000, done=True)  # closed: nothing more
    err = capsys.readouterr().err
    assert err.count("导入 发放.csv：100,000 行，每秒") == 1 and "用时" in err
    assert _progress(_Sheet(tmp_path / "小.csv", 1000)) is None


def test_cli_progress_line_for_a_big_file(ledgers, data_dir):
    result = CliRunner().invoke(main, ["ingest", "--db-dir", str(data_dir),
                                       str(ledgers / "01_registry.csv"), str(ledgers / "02_disbursements.csv")])
    assert result.exit_code == 0, result.output
    assert "导入 02_disbursements.csv：3,000 行，每秒" in result.stderr
    assert "每秒" not in result.stdout


def test_bulk_dry_run_leaves_nothing(ledgers, data_dir):
    path = datadir.community_db(data_dir)
    conn = sqlite3.connect(path)
    before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in (*audit.AUDITED, "audit_log")}
    conn.close()
    reports = _load(data_dir, [ledgers / "01_registry.csv", ledgers / "02_disbursements.csv"], True,
                    dry_run=True)
    assert [r.would_write for r in reports] == [True, True] and reports[1].added == 3000
    conn = sqlite3.connect(path)
    assert {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in before} == before
    assert conn.execute("SELECT name FROM sqlite_temp_master").fetchall() == []
    conn.close()


def test_python_documents_are_the_sql_documents(data_dir):
    """The bulk writers' Python segmentation gives the triggers' text exactly."""
    conn = sqlite3.connect(datadir.community_db(data_dir))
    odd = ["", "a", "陈", " 陈 ", "ab-c －d", "🌟x", "长" * 600, None, "1 2  3"]
    for index in search.INDEXES:
        rows = conn.execute(index.select.format(where="1") + " ORDER BY b.id").fetchall()
        assert search.documents(conn, index.table, "1") == rows
    for value in odd:
        for limit in (1, 50, 500):
            [(sql,)] = conn.execute(f"SELECT {search.grams_sql('?', limit)}", [value]).fetchall()
            assert search.grams(value, limit) == sql, (value, limit)
        [(sql,)] = conn.execute(f"SELECT {search._code_sql('?')}", [value]).fetchall()
        assert search.code(value) == sql, value
    assert json.dumps(search.grams("陈世海", 50), ensure_ascii=False) == '"陈 世 海 陈世 世海"'


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.from_regex(r"\A[0-9]{1,10}(\.[0-9]{0,3})?\Z"), st.text(max_size=12)))
def test_amount_short_cut_is_parse_amount(text):
    """The loader's short cut for plain amounts gives what validators.parse_amount gives."""
    from ingest import loader
    from ingest.validators import Invalid, parse_amount
    try:
        expected = parse_amount(text)
    except Invalid as e:
        with pytest.raises(Invalid, match=re.escape(e.reason)):
            loader._amount(text)
        return
    got = loader._amount(text)
    assert (got, str(got)) == (expected, str(expected))


def test_memoized_parsers_refuse_and_accept_as_the_parsers_do():
    from ingest import loader
    from ingest.validators import Invalid, parse_date, parse_categories
    memo = loader._Memo(parse_date)
    for _ in range(2):
        assert memo("2012/1/5") == "2012-01-05" and memo(40913) == "2012-01-05"
        with pytest.raises(Invalid, match="日期不存在"):
            memo("2012-02-30")
        assert memo(None) is None
    cats = loader._Memo(parse_categories)
    first, second = cats("低保、残疾"), cats("低保、残疾")
    assert first == second == ["低保", "残疾"] and first is not second
