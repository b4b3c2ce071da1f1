"""The staff entry forms (登记发放, 登记走访, 新增/修改居民, 低保登记, 录入选举结果).

A form is a view of an import template: its fields are template columns, a submission
becomes one template record and goes through exactly the ingest pipeline (the same
validators, the same writers and cross-table checks), inside one transaction.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import sqlite_utils

from . import validators as v
from .loader import _parse_row
from .report import Report
from .templates import TEMPLATES
from .writers import WRITERS

TEMPLATE = {t.kind: t for t in TEMPLATES}
CANDIDATE_ROWS = 12


@dataclass(frozen=True)
class Field:
    header: str  # the template column (or a form-only name such as 受助人)
    label: str
    widget: str = "text"  # text, date, month, number, select, person, textarea, categories
    hint: str = ""
    required: bool = False
    choices: tuple = ()


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    kind: str  # template kind
    table: str
    fields: tuple[Field, ...]
    person_role: str | None = None  # label of the person picker, if the form has one
    intro: str = ""
    extra: dict = field(default_factory=dict)


def _person(label):
    return Field("居民", label, "person", "输入姓名中的两个字，或身份证号后几位，再从列表中选择", True)


FORMS = {f.name: f for f in (
    Form("disbursement", "登记发放", "disbursements", "disbursements", (
        _person("受助人"),
        Field("发放日期", "发放日期", "date", "不能晚于今天", True),
        Field("项目", "项目", "select", "项目决定类别（慰问、救助、补贴、保障）", True),
        Field("方式", "方式", "select", choices=v.PAY_METHODS),
        Field("物品", "物品", hint="实物发放时填写，如：米、油"),
        Field("金额(元)", "金额（元）", "text", "精确到分，如 170 或 170.50；实物未记价值可留空"),
        Field("经办人", "经办人"),
        Field("备注", "备注", "textarea"),
    ), person_role="受助人"),
    Form("visit", "登记走访", "visits", "visits", (
        _person("被走访人"),
        Field("走访日期", "走访日期", "date", "不能晚于今天", True),
        Field("走访人", "走访人", hint="多人用顿号分隔"),
        Field("事由", "事由"),
        Field("备注", "备注", "textarea"),
    ), person_role="被走访人"),
    Form("dibao", "低保登记", "dibao", "dibao_enrolments", (
        _person("户主"),
        Field("保障人数", "保障人数", "number", "本户享受低保的人数", True),
        Field("月保障金(元)", "月保障金（元）", "text", "全户每月合计", True),
        Field("起始月份", "起始月份", "month", "", True),
        Field("终止月份", "终止月份", "month", "仍在保则留空"),
        Field("状态", "状态", "select", "渐退：家庭成员再就业，低保金逐步减少", choices=v.DIBAO_STATUSES),
        Field("备注", "备注", "textarea"),
    ), person_role="户主"),
    Form("person", "新增/修改居民", "registry", "persons", (
        Field("社区", "社区", "text", "如：跃华社区", True),
        Field("户号", "户号", "text", "同一户的人户号相同", True),
        Field("姓名", "姓名", "text", "", True),
        Field("身份证号", "身份证号", "text", "18 位，最后一位可以是 X；会核对校验位", True),
        Field("性别", "性别", "select", "留空则按身份证号", choices=("男", "女")),
        Field("出生日期", "出生日期", "date", "留空则按身份证号"),
        Field("联系电话", "联系电话"),
        Field("住址", "住址", hint="小区/楼栋/单元/室"),
        Field("人员类别", "人员类别", "categories", "可多选；高龄由出生日期自动判断", choices=v.CATEGORIES),
        Field("残疾等级", "残疾等级", "select", choices=v.DISABILITY_GRADES),
        Field("备注", "备注", "textarea"),
    )),
    Form("election", "录入选举结果", "elections", "elections", (
        Field("社区", "社区", "text", "", True),
        Field("届次", "届次", "text", "如 8、第8届、第八届", True),
        Field("选举日期", "选举日期", "date", "", True),
        Field("选举方式", "选举方式", "select", "", True, v.ELECTION_METHODS),
        Field("户数", "户数", "number", "选举时社区的户数"),
        Field("登记选民数", "登记选民数", "number", "户代表选举填登记的户代表数，居民代表选举填代表数", True),
        Field("参加投票人数", "参加投票人数", "number", "", True),
        Field("有效票数", "有效票数", "number"),
        Field("应选名额", "应选名额", "number", "", True),
        Field("备注", "备注", "textarea"),
    ), intro="先填选举情况，再在下表逐行填写候选人（空行会被忽略）。"),
)}

CANDIDATE_FIELDS = (
    Field("姓名", "姓名"), Field("性别", "性别", "select", choices=("男", "女")),
    Field("出生日期", "出生日期", "date"), Field("文化程度", "文化程度", "select", choices=v.EDUCATION),
    Field("政治面貌", "政治面貌", "select", choices=v.PARTY), Field("得票数", "得票数", "number"),
    Field("是否当选", "是否当选", "select", choices=("是", "否")),
    Field("职务", "职务", "select", choices=v.ROLES), Field("轮次", "轮次", "number"),
)


class FormErrors(Exception):
    """Raised inside the write transaction so nothing of a bad submission is written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(f"{k}：{m}" for k, m in errors.items()))
        self.errors = errors


def person_summary(conn, person_id) -> dict | None:
    row = conn.execute(
        "SELECT p.id, p.name, p.id_number, c.name, h.household_no, p.birth_date"
        " FROM persons p JOIN communities c ON c.id = p.community_id"
        " LEFT JOIN households h ON h.id = p.household_id WHERE p.id = ?", [person_id]).fetchone()
    keys = ("id", "name", "id_number", "community", "household_no", "birth_date")
    return dict(zip(keys, row)) if row else None


def search_persons(conn, q: str, limit: int = 20) -> list[dict]:
    """The person picker: the staff search index (name, 身份证号 ending, phone, address)."""
    from .search import persons
    return persons(conn, q, limit)


def choices(conn, form: Form) -> dict[str, tuple]:
    out = {f.header: f.choices for f in form.fields if f.choices}
    if form.name == "disbursement":
        out["项目"] = tuple(n for (n,) in conn.execute("SELECT name FROM programs ORDER BY category, name"))
    if form.name in ("person", "election"):
        out["社区"] = tuple(n for (n,) in conn.execute("SELECT name FROM communities ORDER BY name"))
    return out


def _record(form: Form, data: dict, person: dict | None) -> dict:
    record = {f.header: data.get(f.header) for f in form.fields if f.widget != "person"}
    if form.name == "person":
        record["人员类别"] = "、".join(data.get("人员类别") or [])
    if person:
        id_header = "户主身份证号" if form.kind == "dibao" else "身份证号"
        name_header = "户主姓名" if form.kind == "dibao" else "姓名"
        record.update({"社区": person["community"], "户号": person["household_no"],
                       name_header: person["name"], id_header: person["id_number"]})
    return record


def _run(db, kind, record: dict, prefix: str = "") -> tuple[Report, dict[str, str]]:
    """One record through the ingest pipeline: parse with the template, then its writer."""
    template = TEMPLATE[kind]
    report = Report(path=None, title=template.title)
    cells = [record.get(c.header) for c in template.columns]
    values = _parse_row(1, cells, list(enumerate(template.columns)),
                        dict.fromkeys(c.field for c in template.columns), report)
    if values is not None:
        WRITERS[kind](db, report).write([(1, values)])
    return report, {prefix + e.column: e.reason for e in report.errors}


def _check_new_person(conn, record, edit_id):
    """A form may not create communities, nor silently overwrite another resident."""
    community = v.clean_text(record.get("社区"))
    if community and not conn.execute("SELECT 1 FROM communities WHERE name = ?", [community]).fetchone():
        raise FormErrors({"社区": f"未知的社区「{community}」"})
    if edit_id is None:
        try:
            number = (v.parse_id_number(record.get("身份证号")) or (None,))[0]
        except v.Invalid:
            return  # the pipeline reports it
        taken = conn.execute("SELECT name FROM persons WHERE id_number = ?", [number]).fetchone()
        if taken:
            raise FormErrors({"身份证号": f"该身份证号已登记为居民「{taken[0]}」，请到该居民的页面修改"})


def person_version(conn, person_id) -> tuple[dict, str]:
    """A person's editable values and a fingerprint of them, for optimistic concurrency."""
    p = conn.execute(
        "SELECT p.name, p.id_number, p.gender, p.birth_date, p.phone, p.address,"
        " p.disability_grade, p.note, c.name, h.household_no FROM persons p"
        " JOIN communities c ON c.id = p.community_id LEFT JOIN households h ON h.id = p.household_id"
        " WHERE p.id = ?", [person_id]).fetchone()
    if p is None:
        return None, None
    cats = [c for (c,) in conn.execute(
        "SELECT category FROM person_categories WHERE person_id = ? ORDER BY category", [person_id])]
    values = dict(zip(("姓名", "身份证号", "性别", "出生日期", "联系电话", "住址", "残疾等级", "备注",
                       "社区", "户号"), p), 人员类别=cats)
    digest = hashlib.sha256(json.dumps(values, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return values, digest


class Conflict(Exception):
    """The record changed since the form was opened; carries (field, then, now) rows."""

    def __init__(self, changes):
        super().__init__("记录已被他人修改")
        self.changes = changes


def submit(conn, form_name: str, data: dict, candidates: list[dict] = (), *,
           edit_id: int | None = None, version: str | None = None, original: dict | None = None):
    """Write one form submission on `conn` (inside the caller's transaction).

    Returns the new or edited row's id; raises FormErrors (nothing written) or Conflict."""
    form = FORMS[form_name]
    db = sqlite_utils.Database(conn)
    person = None
    if form.person_role:
        person = person_summary(conn, data.get("person_id") or 0)
        if person is None:
            raise FormErrors({"居民": f"请从列表中选择{form.person_role}"})
    record = _record(form, data, person)
    if form_name == "person":
        _check_new_person(conn, record, edit_id)
    with db.atomic():
        if form_name == "person" and edit_id is not None:
            current, digest = person_version(conn, edit_id)
            if digest != version:
                then = original or {}
                raise Conflict([(k, then.get(k), current[k]) for k in current if then.get(k) != current[k]])
            new_id = v.clean_text(record["身份证号"])
            if new_id and new_id.upper() != current["身份证号"]:
                try:
                    number, _ = v.parse_id_number(new_id)
                except v.Invalid as e:
                    raise FormErrors({"身份证号": e.reason}) from None
                taken = conn.execute("SELECT name FROM persons WHERE id_number = ? AND id != ?",
                                     [number, edit_id]).fetchone()
                if taken:
                    raise FormErrors({"身份证号": f"已是居民「{taken[0]}」的身份证号"})
                conn.execute("UPDATE persons SET id_number = ? WHERE id = ?", [number, edit_id])
        report, errors = _run(db, form.kind, record)
        if form.person_role and "身份证号" in errors:
            errors["居民"] = errors.pop("身份证号")
        for header in ("社区", "户号", "姓名", "户主姓名", "户主身份证号"):
            if form.person_role and header in errors:
                errors["居民"] = errors.pop(header)
        if form_name == "election" and not errors:
            for i, row in enumerate(candidates):
                if not any(v.clean_text(x) for x in row.values()):
                    continue
                _, more = _run(db, "candidates", {**row, "社区": record["社区"], "届次": record["届次"]},
                               prefix=f"候选人{i + 1}·")
                errors.update(more)
        if errors:
            raise FormErrors(errors)
        if form_name == "person":
            return edit_id if edit_id is not None else conn.execute(
                "SELECT id FROM persons WHERE id_number = ?", [v.parse_id_number(record["身份证号"])[0]]).fetchone()[0]
        if form_name == "election":
            return conn.execute(
                "SELECT e.id FROM elections e JOIN communities c ON c.id = e.community_id"
                " WHERE c.name = ? AND e.term = ?", [record["社区"], v.parse_term(record["届次"])]).fetchone()[0]
        if form_name == "dibao":
            return conn.execute(
                "SELECT id FROM dibao_enrolments WHERE head_person_id = ? AND start_month = ?",
                [person["id"], v.parse_month(record["起始月份"])]).fetchone()[0]
        return conn.execute("SELECT last_insert_rowid()").fetchone()[0]
