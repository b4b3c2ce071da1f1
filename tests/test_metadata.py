"""Every table and column people can see has a Chinese label in metadata.yml."""
from __future__ import annotations

import re
import sqlite3

import pytest

from ingest import app, datadir

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("database,filename", [("community", "community.db"), ("public", "public.db")])
def test_every_table_and_column_has_a_chinese_label(built_dir, database, filename):
    tables = app.load_yaml("metadata.yml")["databases"][database]["tables"]
    conn = sqlite3.connect(built_dir / filename)
    names = [n for (n,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    missing = []
    for table in names:
        meta = tables.get(table)
        if meta is None or not CJK.search(meta.get("title", "")):
            missing.append(table)
            continue
        # hidden = 1 marks the internal columns of FTS virtual tables (rank, the table name)
        for column in [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{table}")') if r[6] != 1]:
            label = (meta.get("columns") or {}).get(column)
            if not label or not CJK.search(label):
                missing.append(f"{table}.{column}")
    assert missing == []


def test_every_stored_query_has_chinese_title_and_description():
    config = app.load_yaml("datasette.yaml")
    for database in ("community", "public"):
        for name, query in config["databases"][database]["queries"].items():
            assert CJK.search(query["title"]) and CJK.search(query["description"]), (database, name)


def test_public_db_path_helper(built_dir):
    assert datadir.public_db(built_dir).exists()
