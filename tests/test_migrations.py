"""Every schema change is a migration: a database made with the first released schema
(tests/fixtures/community_v1.sql, dumped from commit 7c9bca5 after `shequ sample`)
migrates to the current schema with every row and every summary unchanged."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest import app, schema
from ingest.live_summaries import LIVE

V1 = Path(__file__).parent / "fixtures" / "community_v1.sql"
V1_TABLES = ("communities", "households", "persons", "person_categories", "programs",
             "disbursements", "visits", "dibao_enrolments", "elections", "candidates", "deaths",
             "imports")
PARAMS = {"relief_by_category": [{"year": "2012", "community": ""}, {"year": "", "community": "跃华社区"}],
          "relief_by_program": [{"year": "2012", "community": ""}],
          "relief_by_month": [{"year": "2012", "community": "跃华社区"}],
          "relief_by_community": [{"year": ""}],
          "coverage": [{"year": "2012", "community": ""}],
          "election_turnout": [{"term": "", "community": ""}],
          "committee_composition": [{"term": "8", "community": ""}]}


def _state(path, live=False):
    """Rows and summaries; `live`: the summaries by their definitions over the raw rows
    (the v1 schema has no aggregate tables to read)."""
    conn = sqlite3.connect(path)
    rows = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in V1_TABLES}
    queries = {name: q["sql"] for name, q in
               app.load_yaml("datasette.yaml")["databases"]["community"]["queries"].items()}
    if live:
        queries.update(LIVE)
    summaries = {(name, tuple(p.items())): conn.execute(queries[name], {"year": "", "community": "",
                                                                        "term": "", **p}).fetchall()
                 for name, plist in PARAMS.items() for p in plist}
    conn.close()
    return rows, summaries


def test_first_released_schema_migrates_without_changing_data(tmp_path):
    path = tmp_path / "community.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1.read_text(encoding="utf-8"))
    conn.close()
    before_rows, before_summaries = _state(path, live=True)
    assert len(before_rows["disbursements"]) == 280
    db = schema.connect(path)
    applied = schema.migrate(db)
    assert applied == [m.__name__ for m in schema.MIGRATIONS[1:]]
    assert schema.migrate(db) == []
    db.close()
    after_rows, after_summaries = _state(path)
    assert after_rows == before_rows
    assert after_summaries == before_summaries
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migrated_database_takes_audited_writes(tmp_path):
    from ingest import audit
    path = tmp_path / "community.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1.read_text(encoding="utf-8"))
    conn.close()
    db = schema.connect(path)
    schema.migrate(db)
    with db.atomic(), audit.acting(db.conn, "迁移测试", "测试"):
        db.execute("UPDATE persons SET note = '迁移后' WHERE id = 1")
    assert audit.history(db.conn, "persons", 1)[-1]["actor"] == "迁移测试"
