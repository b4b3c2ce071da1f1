"""The Chinese entry forms: the ingest validators and writers behind every field,
nothing written on a refusal, optimistic concurrency on edits."""
from __future__ import annotations

import html
import json
import re
import sqlite3

import pytest

from ingest.app import make_datasette

from .conftest import login


@pytest.fixture
async def private(data_dir):
    ds = make_datasette(data_dir)
    jar = {role: await login(ds, f"{role}1") for role in ("viewer", "staff", "admin")}
    return ds, jar, sqlite3.connect(data_dir / "community.db")


def field_errors(page_html):
    return [html.unescape(e) for e in re.findall(r'class="field-error" role="alert">([^<]*)<', page_html)]


def person_id(conn, name):
    return conn.execute("SELECT id FROM persons WHERE name = ?", [name]).fetchone()[0]


@pytest.mark.parametrize("form,title", [("disbursement", "登记发放"), ("visit", "登记走访"),
                                        ("person", "新增/修改居民"), ("dibao", "低保登记"),
                                        ("election", "录入选举结果")])
async def test_forms_are_chinese_and_for_staff(private, form, title):
    ds, jar, _ = private
    page = await ds.client.get(f"/-/shequ/form/{form}", cookies=jar["staff"])
    assert page.status_code == 200 and f"<h1>{title}</h1>" in page.text and "保存" in page.text
    assert (await ds.client.get(f"/-/shequ/form/{form}", cookies=jar["viewer"])).status_code == 403


async def test_person_search_by_name_id_suffix_and_phone(private):
    ds, jar, conn = private
    search = lambda q: ds.client.get("/-/shequ/persons.json", params={"q": q}, cookies=jar["staff"])  # noqa
    assert sorted(p["name"] for p in (await search("陈")).json()["rows"]) == ["陈世海", "陈宸"]
    number, phone = conn.execute("SELECT id_number, phone FROM persons WHERE name = '高中良'").fetchone()
    assert [p["name"] for p in (await search(number[-4:])).json()["rows"]] == ["高中良"]
    assert [p["name"] for p in (await search(phone)).json()["rows"]] == ["高中良"]
    assert (await search("%")).json()["rows"] == []
    assert (await ds.client.get("/-/shequ/persons.json?q=陈", cookies=jar["viewer"])).status_code == 403


async def test_disbursement_refusals_name_the_field_and_write_nothing(private):
    ds, jar, conn = private
    pid = person_id(conn, "陈宸")
    count = conn.execute("SELECT count(*) FROM disbursements").fetchone()
    base = {"person_id": str(pid), "发放日期": "2012-12-01", "项目": "临时救助", "方式": "现金"}
    cases = [
        ({"金额(元)": "-5"}, ["金额（元）：金额不能为负数"]),
        ({"金额(元)": "12.345"}, ["金额（元）：金额最多保留两位小数"]),
        ({"发放日期": "2099-01-01", "金额(元)": "5"}, ["发放日期：日期晚于今天"]),
        ({"项目": "不存在的项目", "金额(元)": "5"}, ["项目：未知的项目「不存在的项目」（项目表中没有，请先在项目表中添加）"]),
        ({"person_id": "", "金额(元)": "5"}, ["受助人：请从列表中选择受助人"]),
    ]
    for change, errors in cases:
        page = await ds.client.post("/-/shequ/form/disbursement", data={**base, **change},
                                    cookies=jar["staff"])
        assert page.status_code == 400 and field_errors(page.text) == errors
        assert "什么都没有保存" in page.text
    assert conn.execute("SELECT count(*) FROM disbursements").fetchone() == count


async def test_disbursement_saved_audited_and_counted(private):
    ds, jar, conn = private
    pid = person_id(conn, "陈世海")
    before = (await ds.client.get("/community/relief_by_category.json?year=2012&_shape=array",
                                  cookies=jar["staff"])).json()
    response = await ds.client.post("/-/shequ/form/disbursement", data={
        "person_id": str(pid), "发放日期": "2012-12-20", "项目": "春节慰问", "方式": "现金",
        "金额(元)": "¥1,200.50", "经办人": "张娟"}, cookies=jar["staff"])
    assert response.status_code == 302 and response.headers["location"] == f"/community/persons/{pid}"
    row = conn.execute("SELECT paid_on, amount_yuan, amount_fen, handler FROM disbursements"
                       " ORDER BY id DESC LIMIT 1").fetchone()
    assert row == ("2012-12-20", 1200.5, 120050, "张娟")
    page = await ds.client.get(f"/community/persons/{pid}", cookies=jar["staff"])
    assert "发放记录" in page.text and "1,200.50" in page.text and "春节慰问" in page.text
    after = (await ds.client.get("/community/relief_by_category.json?year=2012&_shape=array",
                                 cookies=jar["staff"])).json()
    total = lambda rows: {r["category"]: r["total_yuan"] for r in rows}["慰问"]  # noqa: E731
    assert round(total(after) - total(before), 2) == 1200.50
    actor, via, action, after_json = conn.execute(
        "SELECT actor, via, action, after FROM audit_log WHERE table_name = 'disbursements'"
        " ORDER BY id DESC LIMIT 1").fetchone()
    assert (actor, via, action) == ("staff1", "表单", "insert")
    assert json.loads(after_json)["amount_yuan"] == 1200.5


async def test_visit_and_dibao_forms(private):
    ds, jar, conn = private
    pid = person_id(conn, "高中良")
    response = await ds.client.post("/-/shequ/form/visit", data={
        "person_id": str(pid), "走访日期": "2012年11月3日", "走访人": "渝蓉", "事由": "回访"},
        cookies=jar["staff"])
    assert response.status_code == 302
    assert conn.execute("SELECT visited_on, purpose FROM visits ORDER BY id DESC LIMIT 1").fetchone() == \
        ("2012-11-03", "回访")
    response = await ds.client.post("/-/shequ/form/dibao", data={
        "person_id": str(pid), "保障人数": "1", "月保障金(元)": "210", "起始月份": "2012-09",
        "状态": "在保"}, cookies=jar["staff"])
    assert response.status_code == 302
    assert conn.execute("SELECT persons_covered, monthly_yuan, start_month, status FROM dibao_enrolments"
                        " WHERE head_person_id = ? ORDER BY id DESC", [pid]).fetchone() == (1, 210.0, "2012-09", "在保")


async def test_new_person_checks_id_number_and_duplicates(private):
    ds, jar, conn = private
    data = {"社区": "跃华社区", "户号": "YH9100", "姓名": "新居民", "身份证号": "500199199001010010",
            "人员类别": ["低保", "残疾"], "残疾等级": "二级"}
    page = await ds.client.post("/-/shequ/form/person", data=data, cookies=jar["staff"])
    assert field_errors(page.text) == ["身份证号：身份证号校验位错误（应为 3）"]
    existing = conn.execute("SELECT id_number, name FROM persons WHERE id = 1").fetchone()
    page = await ds.client.post("/-/shequ/form/person", data={**data, "身份证号": existing[0]},
                                cookies=jar["staff"])
    assert field_errors(page.text) == [f"身份证号：该身份证号已登记为居民「{existing[1]}」，请到该居民的页面修改"]
    page = await ds.client.post("/-/shequ/form/person", data={**data, "社区": "不存在社区",
                                "身份证号": "500199199001010013"}, cookies=jar["staff"])
    assert field_errors(page.text) == ["社区：未知的社区「不存在社区」"]
    response = await ds.client.post("/-/shequ/form/person", data={**data, "身份证号": "500199199001010013"},
                                    cookies=jar["staff"])
    assert response.status_code == 302
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert conn.execute("SELECT name, gender, birth_date FROM persons WHERE id = ?", [new_id]).fetchone() == \
        ("新居民", "男", "1990-01-01")
    assert [c for (c,) in conn.execute("SELECT category FROM person_categories WHERE person_id = ?"
                                       " ORDER BY category", [new_id])] == ["低保", "残疾"]


async def _edit_page(ds, cookies, pid):
    page = await ds.client.get(f"/-/shequ/form/person?id={pid}", cookies=cookies)
    hidden = dict(re.findall(r'name="(version|original|edit_id)" value="([^"]*)"', page.text))
    original = json.loads(html.unescape(hidden["original"]))
    data = [(k, v) for k, v in original.items() if k != "人员类别" and v is not None]
    data += [("人员类别", c) for c in original["人员类别"]]
    data += [("edit_id", hidden["edit_id"]), ("version", hidden["version"]),
             ("original", html.unescape(hidden["original"]))]
    return data


def _with(data, **changes):
    return [(k, changes.get(k, v)) for k, v in data]


async def test_second_concurrent_edit_is_refused_with_the_difference(private):
    ds, jar, conn = private
    pid = person_id(conn, "刘健")
    first, second = await _edit_page(ds, jar["staff"], pid), await _edit_page(ds, jar["admin"], pid)
    ok = await ds.client.post("/-/shequ/form/person", content=_form(_with(first, 联系电话="13911112222")),
                              headers=FORM, cookies=jar["staff"])
    assert ok.status_code == 302
    refused = await ds.client.post("/-/shequ/form/person", content=_form(_with(second, 住址="跃华小区1栋")),
                                   headers=FORM, cookies=jar["admin"])
    assert refused.status_code == 409
    assert "这条记录在您打开编辑页面之后已被他人修改，您的修改没有保存。" in refused.text
    diff = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td></tr>",
                      refused.text)
    assert [d[0] for d in diff] == ["联系电话"] and diff[0][2] == "13911112222"
    assert conn.execute("SELECT phone, address FROM persons WHERE id = ?", [pid]).fetchone()[0] == "13911112222"
    assert conn.execute("SELECT address FROM persons WHERE id = ?", [pid]).fetchone()[0] != "跃华小区1栋"


async def test_edit_fixes_a_typo_in_the_id_number(private):
    ds, jar, conn = private
    pid = person_id(conn, "龚世和")
    old = conn.execute("SELECT id_number FROM persons WHERE id = ?", [pid]).fetchone()[0]
    from ingest.validators import make_id_number
    fixed = make_id_number(old[:6], old[6:14], "777")
    data = await _edit_page(ds, jar["staff"], pid)
    response = await ds.client.post("/-/shequ/form/person", content=_form(_with(data, 身份证号=fixed)),
                                    headers=FORM, cookies=jar["staff"])
    assert response.status_code == 302
    assert conn.execute("SELECT id_number FROM persons WHERE id = ?", [pid]).fetchone()[0] == fixed
    payments = conn.execute("SELECT count(*) FROM disbursements WHERE person_id = ?", [pid]).fetchone()[0]
    assert payments > 0  # the payments still point at the same person


async def test_election_form_writes_election_and_candidates_together(private):
    ds, jar, conn = private
    data = {"社区": "跃华社区", "届次": "第九届", "选举日期": "2012-10-08", "选举方式": "直接选举",
            "户数": "1200", "登记选民数": "900", "参加投票人数": "700", "应选名额": "3"}
    people = [("甲委员", "男", "1970-01-01", "大专", "中共党员", "600", "是", "主任"),
              ("乙委员", "女", "1980-05-05", "高中", "群众", "500", "是", "委员"),
              ("丙委员", "女", "1985-05-05", "初中", "群众", "800", "是", "委员")]
    fields = ("姓名", "性别", "出生日期", "文化程度", "政治面貌", "得票数", "是否当选", "职务")
    for i, person in enumerate(people):
        data.update({f"c{i}-{f}": v for f, v in zip(fields, person)})
    page = await ds.client.post("/-/shequ/form/election", data=data, cookies=jar["staff"])
    assert page.status_code == 400
    assert field_errors(page.text) == ["得票数：大于参加投票人数 700"]
    assert conn.execute("SELECT count(*) FROM elections WHERE term = 9").fetchone() == (0,)
    data["c2-得票数"] = "450"
    response = await ds.client.post("/-/shequ/form/election", data=data, cookies=jar["staff"])
    assert response.status_code == 302
    eid = int(response.headers["location"].rsplit("/", 1)[1])
    assert conn.execute("SELECT count(*), sum(elected) FROM candidates WHERE election_id = ?",
                        [eid]).fetchone() == (3, 3)
    turnout = (await ds.client.get("/community/election_turnout.json?term=9&_shape=array",
                                   cookies=jar["staff"])).json()
    assert turnout == [{"community": "跃华社区", "term": 9, "election_date": "2012-10-08",
                        "method": "直接选举", "registered_voters": 900, "ballots_cast": 700,
                        "turnout": 0.7778, "valid": 1, "seats": 3, "elected": 3}]


async def test_menus_and_row_actions(private):
    ds, jar, conn = private
    pid = person_id(conn, "陈宸")
    staff_page = await ds.client.get(f"/community/persons/{pid}", cookies=jar["staff"])
    for link in (f"/-/shequ/form/disbursement?person={pid}", f"/-/shequ/form/visit?person={pid}",
                 f"/-/shequ/form/person?id={pid}", "/-/shequ/form/election"):
        assert link in staff_page.text
    viewer_page = await ds.client.get(f"/community/persons/{pid}", cookies=jar["viewer"])
    assert "/-/shequ/form/" not in viewer_page.text
    table_page = await ds.client.get("/community/disbursements", cookies=jar["staff"])
    assert 'href="/-/shequ/form/disbursement"' in table_page.text


FORM = {"content-type": "application/x-www-form-urlencoded"}


def _form(pairs):
    from urllib.parse import urlencode
    return urlencode(pairs)
