"""The staff ledger templates of shared/spec/import-templates.md, as data.

A template is recognised from its header row (order and brackets do not matter);
each column names the field it fills and the validator that reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from . import validators as v


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    parse: object
    required: bool = False


@dataclass(frozen=True)
class Template:
    kind: str  # table-ish key used by the loader
    title: str  # what staff call the sheet
    columns: tuple[Column, ...]

    @property
    def required(self) -> list[str]:
        return [c.header for c in self.columns if c.required]

    def column(self, header: str) -> Column | None:
        return next((c for c in self.columns if c.header == header), None)


def _c(header, field, parse=v.clean_text, required=False):
    return Column(header, field, parse, required)


_choice = lambda choices, what: partial(v.parse_choice, choices=choices, what=what)  # noqa: E731

# Listed in load order: a run loads its files registry-first whatever order they are named in.
TEMPLATES: tuple[Template, ...] = (
    Template("programs", "项目表", (
        _c("项目", "program", required=True),
        _c("类别", "category", required=True),
    )),
    Template("registry", "居民名册", (
        _c("社区", "community", required=True),
        _c("户号", "household_no", required=True),
        _c("姓名", "name", required=True),
        _c("性别", "gender", v.parse_gender),
        _c("身份证号", "id_number", v.parse_id_number, required=True),
        _c("出生日期", "birth_date", v.parse_date),
        _c("联系电话", "phone", v.parse_phone),
        _c("住址", "address"),
        _c("人员类别", "categories", v.parse_categories),
        _c("残疾等级", "disability_grade", _choice(v.DISABILITY_GRADES, "残疾等级")),
        _c("备注", "note"),
    )),
    Template("dibao", "低保名册", (
        _c("社区", "community", required=True),
        _c("户号", "household_no", required=True),
        _c("户主姓名", "name", required=True),
        _c("户主身份证号", "id_number", v.parse_id_number, required=True),
        _c("保障人数", "persons_covered", partial(v.parse_int, minimum=1), required=True),
        _c("月保障金(元)", "monthly_yuan", v.parse_amount, required=True),
        _c("起始月份", "start_month", v.parse_month, required=True),
        _c("终止月份", "end_month", v.parse_month),
        _c("状态", "status", _choice(v.DIBAO_STATUSES, "状态")),
        _c("备注", "note"),
    )),
    Template("disbursements", "救助发放", (
        _c("发放日期", "paid_on", v.parse_date, required=True),
        _c("社区", "community", required=True),
        _c("户号", "household_no"),
        _c("姓名", "name", required=True),
        _c("身份证号", "id_number", v.parse_id_number, required=True),
        _c("项目", "program", required=True),
        _c("方式", "method", _choice(v.PAY_METHODS, "发放方式")),
        _c("物品", "goods"),
        _c("金额(元)", "amount_yuan", v.parse_amount),
        _c("经办人", "handler"),
        _c("备注", "note"),
    )),
    Template("visits", "走访记录", (
        _c("走访日期", "visited_on", v.parse_date, required=True),
        _c("社区", "community", required=True),
        _c("户号", "household_no"),
        _c("姓名", "name", required=True),
        _c("身份证号", "id_number", v.parse_id_number, required=True),
        _c("走访人", "visitors"),
        _c("事由", "purpose"),
        _c("备注", "note"),
    )),
    Template("deaths", "殡葬", (
        _c("社区", "community", required=True),
        _c("姓名", "name", required=True),
        _c("身份证号", "id_number", v.parse_id_number, required=True),
        _c("死亡日期", "died_on", v.parse_date, required=True),
        _c("是否火化", "cremated", v.parse_yes_no, required=True),
        _c("备注", "note"),
    )),
    Template("elections", "选举", (
        _c("社区", "community", required=True),
        _c("届次", "term", v.parse_term, required=True),
        _c("选举日期", "held_on", v.parse_date, required=True),
        _c("选举方式", "method", _choice(v.ELECTION_METHODS, "选举方式"), required=True),
        _c("户数", "households", v.parse_int),
        _c("登记选民数", "registered_voters", partial(v.parse_int, minimum=1), required=True),
        _c("参加投票人数", "ballots_cast", v.parse_int, required=True),
        _c("有效票数", "valid_ballots", v.parse_int),
        _c("应选名额", "seats", partial(v.parse_int, minimum=1), required=True),
        _c("备注", "note"),
    )),
    Template("candidates", "候选人", (
        _c("社区", "community", required=True),
        _c("届次", "term", v.parse_term, required=True),
        _c("轮次", "round", partial(v.parse_int, minimum=1)),
        _c("姓名", "name", required=True),
        _c("性别", "gender", v.parse_gender, required=True),
        _c("出生日期", "birth_date", v.parse_date, required=True),
        _c("文化程度", "education", _choice(v.EDUCATION, "文化程度"), required=True),
        _c("政治面貌", "party", _choice(v.PARTY, "政治面貌"), required=True),
        _c("得票数", "votes", v.parse_int, required=True),
        _c("是否当选", "elected", v.parse_yes_no, required=True),
        _c("职务", "role", _choice(v.ROLES, "职务")),
    )),
)

LOAD_ORDER = {t.kind: i for i, t in enumerate(TEMPLATES)}


class NoTemplate(Exception):
    """The header row matches no template; the message lists what each one lacks."""


def identify(headers: list[str]) -> Template:
    """Pick the template whose required headers are all present, preferring the one that
    recognises most of the given headers (a 救助发放 sheet also carries 居民名册's keys)."""
    present = {v.normalize_header(h) for h in headers if h is not None} - {""}
    complete = [t for t in TEMPLATES if set(t.required) <= present]
    if complete:
        return max(complete, key=lambda t: (len(present & {c.header for c in t.columns}),
                                            len(t.required)))
    lacking = "；".join(
        f"{t.title}（缺少 {'、'.join(h for h in t.required if h not in present)}）"
        for t in TEMPLATES
    )
    raise NoTemplate(f"表头不符合任何模板。可用的模板及此表缺少的列：{lacking}")
