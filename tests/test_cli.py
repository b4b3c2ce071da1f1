"""The `shequ` command line: help with examples, accounts, the data directory, serve."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import click
import pytest
from click.testing import CliRunner

from ingest import accounts, datadir, schema
from ingest.cli import main


def _all_commands(group=main, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*prefix, name))


ALL_COMMANDS = sorted(_all_commands())


def test_the_command_list_is_what_we_document():
    assert ALL_COMMANDS == [("backup",), ("check",), ("ingest",), ("migrate",), ("publish",), ("restore",), ("sample",),
                            ("serve",), ("token",),
                            ("token", "create"), ("user",), ("user", "add"), ("user", "list"),
                            ("user", "passwd")]


@pytest.mark.parametrize("command", [(), *ALL_COMMANDS])
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "示例：" in result.output
    assert "shequ " + " ".join(command) in result.output


def _run(args, **kw):
    return CliRunner().invoke(main, args, catch_exceptions=False, **kw)


def test_user_add_list_passwd(tmp_path):
    d = str(tmp_path)
    result = _run(["user", "add", "李娟", "--role", "staff", "--password-stdin", "--db-dir", d],
                  input="a-long-password\n")
    assert result.exit_code == 0 and "已创建账号「李娟」（工作人员）" in result.output
    result = _run(["user", "add", "李娟", "--role", "viewer", "--password-stdin", "--db-dir", d],
                  input="a-long-password\n")
    assert result.exit_code == 1 and "用户「李娟」已存在" in result.output
    result = _run(["user", "add", "王强", "--role", "viewer", "--password-stdin", "--db-dir", d],
                  input="short\n")
    assert result.exit_code == 1 and "密码至少需要 8 个字符" in result.output
    result = _run(["user", "list", "--db-dir", d])
    assert "李娟\t工作人员（staff）" in result.output and "王强" not in result.output
    result = _run(["user", "passwd", "李娟", "--password-stdin", "--db-dir", d],
                  input="another-password\n")
    assert result.exit_code == 0 and "已修改「李娟」的密码" in result.output
    conn = accounts.connect(datadir.accounts_db(tmp_path))
    assert accounts.authenticate(conn, "李娟", "another-password") == {"id": "李娟", "role": "staff"}
    assert accounts.authenticate(conn, "李娟", "a-long-password") is None


def test_user_add_prompts_twice_without_stdin(tmp_path):
    result = _run(["user", "add", "赵敏", "--role", "admin", "--db-dir", str(tmp_path)],
                  input="a-long-password\na-long-password\n")
    assert result.exit_code == 0 and "已创建账号「赵敏」（管理员）" in result.output


def test_db_dir_from_environment(tmp_path):
    result = _run(["migrate"], env={"SHEQU_DB_DIR": str(tmp_path / "d")})
    assert result.output.strip() == "已执行迁移：" + "、".join(m.__name__ for m in schema.MIGRATIONS)
    assert (tmp_path / "d" / "community.db").exists()
    assert _run(["migrate"], env={"SHEQU_DB_DIR": str(tmp_path / "d")}).output.strip() == "表结构已是最新"


def test_secret_generated_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("SHEQU_SECRET", raising=False)
    first = datadir.secret(tmp_path)
    assert len(first) == 64 and datadir.secret(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600
    monkeypatch.setenv("SHEQU_SECRET", "from-the-environment")
    assert datadir.secret(tmp_path) == "from-the-environment"


def test_sample_builds_community_db(tmp_path):
    result = _run(["sample", "--db-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert f"已建立 {tmp_path / 'community.db'}" in result.output
    assert not list(tmp_path.glob("*.building*"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db_dir, port):
    return subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", "serve", "--port", str(port), "--db-dir", str(db_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(url, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            return urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError as e:
            return e
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {deadline}s")


def test_serve_builds_sample_then_never_touches_it(tmp_path):
    port = _free_port()
    proc = _serve(tmp_path, port)
    try:
        response = _wait_for(f"http://127.0.0.1:{port}/-/login")
        assert response.status == 200 and "工作人员登录" in response.read().decode()
        denied = _wait_for(f"http://127.0.0.1:{port}/community/persons.json")
        assert denied.code == 403
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert "正在用示例台账建立" in output
    assert "shequ user add 管理员 --role admin" in output
    db = tmp_path / "community.db"
    before = (db.stat().st_mtime_ns, db.read_bytes())
    port = _free_port()
    proc = _serve(tmp_path, port)
    try:
        _wait_for(f"http://127.0.0.1:{port}/-/login")
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert "正在用示例台账建立" not in output
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before


def test_ingest_waits_for_a_write_lock_longer_than_a_web_request_would(tmp_path):
    """Another writer holds the lock for 6 s (the web's busy timeout is 5 s): the import
    waits for it instead of failing with "database is locked"."""
    import sqlite3
    import threading
    from ingest import ROOT

    db_dir = tmp_path / "d"
    assert _run(["migrate"], env={"SHEQU_DB_DIR": str(db_dir)}).exit_code == 0
    holder = sqlite3.connect(db_dir / "community.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(6.0, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        result = _run(["ingest", str(ROOT / "sample" / "02_registry.csv")], env={"SHEQU_DB_DIR": str(db_dir)})
    finally:
        release.join()
        holder.close()
    assert result.exit_code == 0, result.output
    assert "新增" in result.output and time.monotonic() - started >= 5.9
