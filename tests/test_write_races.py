"""A write-API update of a row someone else deleted a moment earlier (after Datasette
looked it up, before the write) is refused in Chinese, not with an empty error."""
from __future__ import annotations

import importlib.util
import sqlite3

import pytest
from sqlite_utils.db import NotFoundError

from ingest import ROOT
from ingest.app import make_datasette

spec = importlib.util.spec_from_file_location("audit_plugin", ROOT / "plugins" / "audit.py")
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)


def test_a_row_deleted_meanwhile_is_refused_in_chinese(data_dir):
    ds = make_datasette(data_dir)
    wrapper = plugin.write_wrapper(ds, "community", None, True)
    conn = sqlite3.connect(data_dir / "community.db", isolation_level=None)
    conn.execute("BEGIN")
    steps = wrapper(conn)
    next(steps)
    with pytest.raises(plugin.WriteRefused) as refused:
        steps.throw(NotFoundError())
    conn.execute("ROLLBACK")
    assert str(refused.value) == "这条记录已不存在（可能刚被别人删除），没有写入"
    assert conn.execute("SELECT count(*) FROM _audit_context").fetchone()[0] == 0
