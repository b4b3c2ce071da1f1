"""The audit trail: every write path is recorded with actor, time, table, row key and the
changed values; records cannot be changed; admins restore earlier versions."""
from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from ingest import audit, schema
from ingest.app import make_datasette
from ingest.cli import main

from .conftest import login


@pytest.fixture
async def private(data_dir):
    ds = make_datasette(data_dir)
    jar = {role: await login(ds, f"{role}1") for role in ("viewer", "staff", "admin")}
    return ds, jar, data_dir


def last_audit(data_dir, n=1):
    conn = sqlite3.connect(data_dir / "community.db")
    rows = conn.execute("SELECT actor, via, table_name, row_id, action, before, after FROM audit_log"
                        " ORDER BY id DESC LIMIT ?", [n]).fetchall()
    return [(a, v, t, r, act, json.loads(b) if b else None, json.loads(af) if af else None)
            for a, v, t, r, act, b, af in rows]


async def test_api_update_is_audited_with_changed_columns_only(private):
    ds, jar, data_dir = private
    response = await ds.client.post("/community/persons/3/-/update",
                                    json={"update": {"phone": "13900001111"}}, cookies=jar["staff"])
    assert response.status_code == 200
    [(actor, via, table, row_id, action, before, after)] = last_audit(data_dir)
    assert (actor, via, table, row_id, action) == ("staff1", "写接口", "persons", 3, "update")
    assert list(before) == ["phone"] and after == {"phone": "13900001111"}


async def test_api_refusals_are_chinese_and_change_nothing(private):
    ds, jar, data_dir = private
    before = last_audit(data_dir)
    cases = [
        ({"amount_yuan": -5}, "「金额(元)」（amount_yuan）：金额不能为负数"),
        ({"paid_on": "2012/1/5"}, "救助发放 第 1 行 「发放日期」（paid_on）：应写成「2012-01-05」"),
        ({"paid_on": "2099-01-01"}, "救助发放 第 1 行 「发放日期」（paid_on）：日期晚于今天"),
        ({"amount_yuan": 1.234}, "救助发放 第 1 行 「金额(元)」（amount_yuan）：金额最多保留两位小数"),
        ({"program_id": 9999}, "引用的记录不存在（例如居民、项目、社区或户的编号有误），或仍有记录引用它"),
        ({"method": "支票"}, "救助发放 第 1 行 「方式」（method）：「支票」不是有效的发放方式（可选：现金、实物、购物券、转账）"),
    ]
    for update, message in cases:
        response = await ds.client.post("/community/disbursements/1/-/update",
                                        json={"update": update}, cookies=jar["staff"])
        assert response.status_code == 400
        assert response.json()["errors"] == [message]
    row = (await ds.client.get("/community/disbursements/1.json?_shape=objects",
                               cookies=jar["staff"])).json()["rows"][0]
    assert (row["amount_yuan"], row["paid_on"], row["method"]) == (10.0, "2012-01-18", "实物")
    assert last_audit(data_dir) == before


async def test_person_id_number_checked_by_api(private):
    ds, jar, _ = private
    response = await ds.client.post("/community/persons/3/-/update",
                                    json={"update": {"id_number": "500199195405267990"}},
                                    cookies=jar["staff"])
    assert response.status_code == 400
    assert response.json()["errors"][0].endswith("「身份证号」（id_number）：身份证号校验位错误（应为 2）")


async def test_audit_log_cannot_be_changed_by_any_route_or_sql(private):
    ds, jar, data_dir = private
    for path, body in (("/community/audit_log/1/-/delete", None),
                       ("/community/audit_log/1/-/update", {"update": {"actor": "x"}}),
                       ("/community/audit_log/-/insert", {"row": {"actor": "x"}})):
        response = await ds.client.post(path, json=body, cookies=jar["admin"])
        assert response.status_code == 403
    db = schema.connect(data_dir / "community.db")
    with pytest.raises(sqlite3.IntegrityError, match="审计记录不可删除"):
        db.execute("DELETE FROM audit_log WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="审计记录不可修改"):
        db.execute("UPDATE audit_log SET actor = 'x' WHERE id = 1")


def test_unattributed_writes_are_refused(data_dir):
    conn = sqlite3.connect(data_dir / "community.db")
    with pytest.raises(sqlite3.IntegrityError, match="未登记操作人，拒绝写入"):
        conn.execute("UPDATE persons SET note = 'x' WHERE id = 1")
    assert conn.execute("SELECT count(*) FROM _audit_context").fetchone() == (0,)


def test_cli_ingest_is_audited(data_dir, tmp_path):
    registry = tmp_path / "名册.csv"
    registry.write_text("社区,户号,姓名,身份证号\n跃华社区,YH9001,审计测试,500199198001010019\n",
                        encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", "--db-dir", str(data_dir), str(registry)])
    assert result.exit_code == 0, result.output
    # the person's insert, then one entry for the imported file naming the entries it wrote
    (*_, imported), (actor, via, table, person_id, action, before, after) = last_audit(data_dir, 2)
    assert actor.startswith("命令行:") and via == "命令行导入"
    assert (table, action, before, after["name"]) == ("persons", "insert", None, "审计测试")
    assert (imported["file_name"], imported["kind"]) == ("名册.csv", "registry")
    conn = sqlite3.connect(data_dir / "community.db")
    assert conn.execute("SELECT count(*) FROM _audit_context").fetchone() == (0,)
    [entry] = audit.history(conn, "persons", person_id)
    assert entry["import"]["file_name"] == "名册.csv" and entry["actor"] == actor


async def test_stored_write_query_is_audited_and_validated(private):
    ds, jar, data_dir = private
    bad = await ds.client.post("/community/stop_dibao?_json=1",
                               data={"enrolment_id": "1", "end_month": "2012-13"}, cookies=jar["staff"])
    assert bad.json()["ok"] is False
    good = await ds.client.post("/community/stop_dibao?_json=1",
                                data={"enrolment_id": "1", "end_month": "2012-10"}, cookies=jar["staff"])
    assert good.json()["ok"] is True and good.json()["message"] == "已停保"
    [(actor, via, table, row_id, action, before, after)] = last_audit(data_dir)
    assert (actor, via, table, row_id, action) == ("staff1", "存储查询", "dibao_enrolments", 1, "update")
    assert after["end_month"] == "2012-10"


async def test_history_page_and_restore(private):
    ds, jar, data_dir = private
    original = (await ds.client.get("/community/persons/5.json?_shape=objects",
                                    cookies=jar["staff"])).json()["rows"][0]["phone"]
    for phone in ("13900000001", "13900000002"):
        await ds.client.post("/community/persons/5/-/update", json={"update": {"phone": phone}},
                             cookies=jar["staff"])
    conn = sqlite3.connect(data_dir / "community.db")
    first_change = conn.execute("SELECT id FROM audit_log WHERE table_name = 'persons' AND row_id = 5"
                                " AND action = 'update' ORDER BY id").fetchone()[0]
    insert_entry = conn.execute("SELECT id FROM audit_log WHERE table_name = 'persons' AND row_id = 5"
                                " AND action = 'insert'").fetchone()[0]
    page = await ds.client.get("/-/shequ/history/persons/5", cookies=jar["staff"])
    assert page.status_code == 200
    assert "联系电话" in page.text and "13900000002" in page.text and "恢复为此版本" not in page.text
    # the insert came from the sample registry: the page names the file
    assert page.text.count("来自导入文件「02_registry.csv」") == 1
    page = await ds.client.get("/-/shequ/history/persons/5", cookies=jar["admin"])
    assert page.text.count("恢复为此版本") == 2  # not for the newest version
    row_page = await ds.client.get("/community/persons/5", cookies=jar["staff"])
    assert "/-/shequ/history/persons/5" in row_page.text and "修改记录" in row_page.text
    # Restore the version right after the insert: the original phone comes back.
    response = await ds.client.post("/-/shequ/restore", data={
        "table": "persons", "row_id": "5", "audit_id": str(insert_entry)}, cookies=jar["admin"])
    assert response.status_code == 302
    assert conn.execute("SELECT phone FROM persons WHERE id = 5").fetchone() == (original,)
    [(actor, via, *_rest, before, after)] = last_audit(data_dir)
    assert (actor, via, before, after) == ("admin1", "恢复", {"phone": "13900000002"}, {"phone": original})
    # And forward again: the version after the first change.
    await ds.client.post("/-/shequ/restore", data={
        "table": "persons", "row_id": "5", "audit_id": str(first_change)}, cookies=jar["admin"])
    assert conn.execute("SELECT phone FROM persons WHERE id = 5").fetchone() == ("13900000001",)


def test_version_after_undoes_later_changes(data_dir):
    db = schema.connect(data_dir / "community.db")
    original = db.execute("SELECT note FROM persons WHERE id = 7").fetchone()[0]
    for note in ("一", "二", "三"):
        with db.atomic(), audit.acting(db.conn, "测试", "测试"):
            db.execute("UPDATE persons SET note = ? WHERE id = 7", [note])
    entries = audit.history(db.conn, "persons", 7)
    assert [e["after"].get("note") for e in entries[-3:]] == ["一", "二", "三"]
    assert audit.version_after(db.conn, "persons", 7, entries[-2]["id"])["note"] == "二"
    assert audit.version_after(db.conn, "persons", 7, entries[0]["id"])["note"] == original
    with pytest.raises(audit.RestoreError, match="不属于"):
        audit.version_after(db.conn, "persons", 8, entries[-1]["id"])
