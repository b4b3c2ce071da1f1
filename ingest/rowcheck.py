"""Check rows written outside the ledger import (JSON write API, stored queries, restore)
with the same column validators as ingest, and say database refusals in Chinese."""
from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from functools import partial

from . import validators as v
from .templates import TEMPLATES, Column

# Tables whose columns carry the template's field names.
TABLE_TEMPLATE = {"persons": "registry", "disbursements": "disbursements", "visits": "visits",
                  "dibao_enrolments": "dibao", "elections": "elections",
                  "candidates": "candidates", "deaths": "deaths"}
EXTRA = {"person_categories": (Column("人员类别", "category", partial(
    v.parse_choice, choices=v.CATEGORIES, what="人员类别"), required=True),)}


def columns_for(table: str) -> tuple[Column, ...]:
    if table in EXTRA:
        return EXTRA[table]
    kind = TABLE_TEMPLATE.get(table)
    return next((t.columns for t in TEMPLATES if t.kind == kind), ())


def _stored(value):
    """The form a parsed value takes in the database."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple):  # (id number, is_legacy)
        return value[0]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return "、".join(value)
    return value


def check_row(table: str, row: dict) -> list[str]:
    """Problems with a stored row, each naming the column in Chinese and in the API."""
    problems = []
    for column in columns_for(table):
        if column.field not in row:
            continue
        value = row[column.field]
        name = f"「{column.header}」（{column.field}）"
        try:
            parsed = column.parse(value)
        except v.Invalid as e:
            problems.append(f"{name}：{e.reason}")
            continue
        if column.required and parsed is None and column.parse is not v.parse_yes_no:
            problems.append(f"{name}：不能为空")
        elif parsed is not None and _stored(parsed) != value:
            problems.append(f"{name}：应写成「{_stored(parsed)}」")
    return problems


CHECK_REASONS = {
    "amount_yuan": "金额不能为负数", "monthly_yuan": "月保障金不能为负数",
    "persons_covered": "保障人数至少为 1", "gender": "性别只能是 男 或 女",
    "status": "状态只能是 在保、渐退 或 停保", "elected": "是否当选只能是 0 或 1",
    "cremated": "是否火化只能是 0 或 1", "id_legacy": "只能是 0 或 1",
}


def _label(table: str, column: str) -> str:
    header = next((c.header for c in columns_for(table) if c.field == column), None)
    return f"「{header}」（{column}）" if header else f"「{column}」"


def translate(error: Exception, table: str | None = None) -> str:
    """A Chinese sentence for a constraint the database refused."""
    text = str(error)
    if not isinstance(error, sqlite3.IntegrityError):
        return text
    if m := re.match(r"CHECK constraint failed: (\w+)", text):
        return f"{_label(table or '', m.group(1))}：{CHECK_REASONS.get(m.group(1), '不符合规则')}"
    if m := re.match(r"NOT NULL constraint failed: (\w+)\.(\w+)", text):
        return f"{_label(m.group(1), m.group(2))}：不能为空"
    if m := re.match(r"UNIQUE constraint failed: (\w+)\.(\w+)", text):
        return f"{_label(m.group(1), m.group(2))}：与已有记录重复"
    if text.startswith("FOREIGN KEY constraint failed"):
        return "引用的记录不存在（例如居民、项目、社区或户的编号有误），或仍有记录引用它"
    return f"数据库拒绝了这次写入：{text}"
