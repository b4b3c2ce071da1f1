"""Cell validators shared by file ingest, the browser edit forms and the JSON write API.

Every parser takes one raw cell value (None, str, int, float, bool, datetime.datetime or
datetime.date, as csv or openpyxl deliver them) and returns the normalised value, None for
a blank cell, or raises Invalid.  Invalid.reason is a short Chinese reason that does not
name the column; callers add the row and column.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
import operator
import re
import unicodedata
from decimal import Decimal
from typing import Sequence

CATEGORIES = ("低保", "特困", "残疾", "军属", "烈属", "现役军人", "军转干部", "空巢老人",
              "困难户", "重病", "刑满释放")
DISABILITY_GRADES = ("一级", "二级", "三级", "四级")
PAY_METHODS = ("现金", "实物", "购物券", "转账")
DIBAO_STATUSES = ("在保", "渐退", "停保")
ELECTION_METHODS = ("直接选举", "户代表选举", "居民代表选举")
EDUCATION = ("研究生", "大学本科", "大专", "中专", "高中", "初中", "小学")
PARTY = ("中共党员", "中共预备党员", "共青团员", "群众", "民主党派")
ROLES = ("主任", "副主任", "委员")
GENDERS = ("男", "女")
# 项目 -> 类别: the default programme list (staff can extend it in the database).
PROGRAMS = {
    **dict.fromkeys(("春节慰问", "低保慰问", "特困慰问", "助残慰问", "高龄慰问", "军烈属慰问",
                     "困难户慰问", "日常慰问"), "慰问"),
    **dict.fromkeys(("大病医疗救助", "临时救助", "日常医疗救助", "困难救助", "刑释人员救助"), "救助"),
    **dict.fromkeys(("爱心购物券", "廉租房补助", "再就业补助"), "补贴"),
    "低保金": "保障",
}

MAX_AMOUNT = Decimal("100000000")  # 1 亿元
MAX_INT = 100_000_000  # 1 亿: counts (户数, 选民数, 票数 …) and anything stored as INTEGER
MAX_TERM = 9999  # 届次, as `第9999届` is the longest spelling accepted
# Dates, months, amounts, whole numbers and 届次 longer than this are refused unread (their
# patterns backtrack on long runs of spaces); the value is echoed cut to _ECHO characters.
MAX_NUMERIC_CHARS = 100
_ECHO = 40
_CENT = Decimal("0.01")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_MAX = 2958465  # 9999-12-31
_MIN_DATE = dt.date(1900, 1, 1)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_EXCEL = "身份证号被 Excel 存成了数字，末几位已丢失，请把该列设为文本后重新录入"
_ID_LENGTH = "身份证号应为18位（或15位旧号码）"

# Full-width ASCII digits and letters only; other full-width characters stay as typed.
_FULLWIDTH = {cp: unicodedata.normalize("NFKC", chr(cp))
              for r in (range(0xFF10, 0xFF1A), range(0xFF21, 0xFF3B), range(0xFF41, 0xFF5B))
              for cp in r}
# What clean_text trims from both ends: Unicode whitespace (as regex \s), BOM, zero-width space.
# str.strip, not a regular expression: `[\s]+$` is quadratic on a long inner run of spaces.
_EDGE_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\ufeff\u200b"
_TIME = r"(?:\s*T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_DATE_RE = re.compile(r"(\d{4})\s*(?:([-/.])\s*(\d{1,2})\s*\2|年\s*(\d{1,2})\s*月)\s*(\d{1,2})\s*日?"
                      rf"(?:{_TIME})?", re.A)
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})", re.A)
_MONTH_RE = re.compile(r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?|(\d{4})(\d{2})", re.A)
_AMOUNT_RE = re.compile(r"(-?)\s*¥?\s*(-?)\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*元?", re.A)
_INT_RE = re.compile(r"(-?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?", re.A)
_TERM_RE = re.compile(r"第?\s*(\d{1,4}|[一二三四五六七八九十]{1,3})\s*届?", re.A)
_CN_RE = re.compile(r"([一二三四五六七八九]?)(十?)([一二三四五六七八九]?)")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
_YES = {"是", "Y", "YES", "1", "√", "✓", "✔", "TRUE"}
_NO = {"否", "N", "NO", "0", "×", "✗", "✘", "FALSE"}


class Invalid(ValueError):
    """A cell that cannot be accepted; .reason (= str(e)) is a short Chinese reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- text

def clean_text(value) -> str | None:
    """Trimmed text with full-width ASCII digits/letters made ASCII; '' -> None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.translate(_FULLWIDTH).strip(_EDGE_CHARS)
    return text or None


def normalize_header(value) -> str:
    """` 金额（元） ` -> `金额(元)`: cleaned, ASCII brackets, no whitespace at all."""
    text = (clean_text(value) or "").replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", text)


def _numeric(value) -> tuple[str, str] | None:
    """(text as shown, NFKC text for matching) or None when blank.

    Text longer than MAX_NUMERIC_CHARS comes back as (its first characters + "…", "\x00"):
    shown cut short, and a matching text no pattern accepts."""
    shown = clean_text(value)
    if shown is None:
        return None
    if len(shown) > MAX_NUMERIC_CHARS:
        return shown[:_ECHO] + "…", "\x00"
    return shown, unicodedata.normalize("NFKC", shown).replace("\u2212", "-")


def _shown(value) -> str | None:
    """clean_text(value), cut short (as _numeric does) when too long to be read."""
    texts = _numeric(value)
    return texts[0] if texts else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------- dates

def _excel_serial(number, shown: str) -> dt.date:
    if isinstance(number, float) and not math.isfinite(number):
        raise Invalid(f"无法识别的日期「{shown}」")
    n = math.floor(number)  # a fractional part is the time of day
    if not 1 <= n <= _EXCEL_MAX:
        raise Invalid(f"无法识别的日期「{shown}」")
    return _EXCEL_EPOCH + dt.timedelta(days=n)


def _ymd(y: int, m: int, d: int, shown: str) -> dt.date:
    if not (1 <= m <= 12 and d >= 1):
        raise Invalid(f"无法识别的日期「{shown}」")
    if y < 1900:
        raise Invalid("日期早于1900年")
    days = calendar.monthrange(y, m)[1]
    if d > days:
        raise Invalid(f"日期不存在「{shown}」（{y}年{m}月只有{days}天）")
    return dt.date(y, m, d)


def _to_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise Invalid(f"无法识别的日期「{value}」")
    if _is_number(value):
        return _excel_serial(value, clean_text(value))
    texts = _numeric(value)
    if texts is None:
        return None
    shown, s = texts
    if re.fullmatch(r"\d{4,5}", s, re.A):
        return _excel_serial(int(s), shown)
    if m := _DATE_RE.fullmatch(s):
        return _ymd(int(m[1]), int(m[3] or m[4]), int(m[5]), shown)
    if m := _COMPACT_DATE_RE.fullmatch(s):
        return _ymd(int(m[1]), int(m[2]), int(m[3]), shown)
    raise Invalid(f"无法识别的日期「{shown}」")


def parse_date(value, *, allow_future: bool = False, today: dt.date | None = None) -> str | None:
    """ISO `YYYY-MM-DD`; 1900-01-01 at the earliest and, unless allow_future, not after today."""
    d = _to_date(value)
    if d is None:
        return None
    if d < _MIN_DATE:
        raise Invalid("日期早于1900年")
    if not allow_future:
        today = today or dt.date.today()
        if isinstance(today, dt.datetime):
            today = today.date()
        if d > today:
            raise Invalid("日期晚于今天")
    return d.isoformat()


def parse_month(value) -> str | None:
    """`YYYY-MM` from `2012-01`, `2012/1`, `2012.1`, `2012年1月`, `201201`, a date cell or a date."""
    texts = _numeric(value)
    if texts is None:
        return None
    shown, s = texts
    if isinstance(value, str) and (m := _MONTH_RE.fullmatch(s)):
        y, mo = int(m[1] or m[3]), int(m[2] or m[4])
        if not 1 <= mo <= 12:
            raise Invalid(f"无法识别的月份「{shown}」")
        if y < 1900:
            raise Invalid("月份早于1900年")
        return f"{y:04d}-{mo:02d}"
    # date cells, Excel serials and full dates give their month; bare digit strings do not
    if not (isinstance(value, (str, bool)) and re.fullmatch(r"\d*", s, re.A)):
        try:
            return parse_date(value, allow_future=True)[:7]
        except Invalid as e:
            if not e.reason.startswith("无法识别"):
                raise
    raise Invalid(f"无法识别的月份「{shown}」")


# ---------------------------------------------------------------- numbers

def parse_amount(value) -> Decimal | None:
    """Exact yuan, quantized to 0.01; 0 ≤ amount ≤ 1 亿."""
    if value is None:
        return None
    shown = clean_text(value)
    if isinstance(value, bool):
        raise Invalid(f"无法识别的金额「{shown}」")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid(f"无法识别的金额「{shown}」")
        amount = Decimal(repr(round(value, 6)))  # drop binary drift such as 0.30000000000000004
    elif isinstance(value, (int, Decimal)):
        amount = Decimal(value)
        if not amount.is_finite():
            raise Invalid(f"无法识别的金额「{shown}」")
    else:
        texts = _numeric(value)
        if texts is None:
            return None
        m = _AMOUNT_RE.fullmatch(texts[1])
        if not m or (m[1] and m[2]):
            raise Invalid(f"无法识别的金额「{texts[0]}」")
        amount = Decimal(m[3].replace(",", ""))
        if m[1] or m[2]:
            amount = -amount
    if amount < 0:
        raise Invalid("金额不能为负数")
    if amount > MAX_AMOUNT:
        raise Invalid("金额超出合理范围")
    cents = amount.quantize(_CENT)
    if cents != amount:
        raise Invalid("金额最多保留两位小数")
    return abs(cents)  # abs() turns -0.00 into 0.00


def fen(amount: Decimal) -> int:
    """Exact number of fen (0.01 元) in an amount with at most two decimals."""
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise Invalid("金额最多保留两位小数")
    return int(cents)


def parse_int(value, *, minimum: int = 0) -> int | None:
    """Whole number from digits (full-width too), `1,200`, int cells or integral float cells."""
    if value is None:
        return None
    shown = clean_text(value)
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise Invalid(f"无法识别的整数「{shown}」")
    if isinstance(value, float):
        if not value.is_integer():
            raise Invalid(f"应为整数「{shown}」")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        texts = _numeric(value)
        if texts is None:
            return None
        shown, s = texts
        m = _INT_RE.fullmatch(s) if len(s) <= 30 else None
        if not m:
            if re.fullmatch(r"-?\d+\.\d+", s, re.A):
                raise Invalid(f"应为整数「{shown}」")
            raise Invalid(f"无法识别的整数「{shown}」")
        number = int(m[2].replace(",", "")) * (-1 if m[1] else 1)
    if number < minimum:
        raise Invalid("不能为负数" if minimum == 0 else f"不能小于{minimum}")
    if number > MAX_INT:
        raise Invalid("数值超出合理范围（最大 1 亿）")
    return number


def parse_term(value) -> int | None:
    """届次: `6`, `６`, `第6届`, `第六届`, `第十二届`, int cells -> 6, 12 …"""
    if value is None:
        return None
    shown = _shown(value)
    bad = Invalid(f"无法识别的届次「{shown}」（应填 6、第六届 或 第6届）")
    if isinstance(value, bool):
        raise bad
    if _is_number(value):
        if not (math.isfinite(value) and MAX_TERM >= value == int(value) >= 1):
            raise bad
        return int(value)
    texts = _numeric(value)
    if texts is None:
        return None
    m = _TERM_RE.fullmatch(texts[1])
    term = (int(m[1]) if m[1].isascii() else _chinese_number(m[1])) if m else None
    if not term:
        raise bad
    return term


def _chinese_number(s: str) -> int | None:
    """一 … 九十九; None if not such a numeral."""
    m = _CN_RE.fullmatch(s)
    if not s or not m or (m[3] and not m[2]):
        return None
    if not m[2]:
        return _CN_DIGITS[m[1]]
    return (_CN_DIGITS[m[1]] if m[1] else 1) * 10 + (_CN_DIGITS[m[3]] if m[3] else 0)


# ---------------------------------------------------------------- 身份证号

def _check_char(first17: str) -> str:
    return "10X98765432"[sum(map(operator.mul, map(int, first17), _ID_WEIGHTS)) % 11]


_ID_PLAIN = re.compile(r"\d{17}[\dX]|\d{15}", re.A)


def _id_birth(id_number: str) -> dt.date:
    if len(id_number) == 18:
        digits = id_number[6:14]
    elif len(id_number) == 15:
        digits = "19" + id_number[6:12]
    else:
        raise Invalid(_ID_LENGTH)
    try:
        birth = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        birth = None
    if birth is None or birth < _MIN_DATE:
        raise Invalid(f"身份证号中的出生日期无效「{digits}」")
    if birth > dt.date.today():
        raise Invalid("身份证号中的出生日期晚于今天")
    return birth


def parse_id_number(value) -> tuple[str, bool] | None:
    """(number with upper-case X, is_legacy_15); checksum and embedded birth date verified."""
    if value is None:
        return None
    if value.__class__ is str and _ID_PLAIN.fullmatch(value):  # the usual cell: as it is stored
        _id_birth(value)
        if len(value) == 18 and value[17] != (expected := _check_char(value[:17])):
            raise Invalid(f"身份证号校验位错误（应为 {expected}）")
        return value, len(value) == 15
    if isinstance(value, bool):
        raise Invalid(_ID_LENGTH)
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) >= 1e15:
            raise Invalid(_ID_EXCEL)
        if not value.is_integer():
            raise Invalid(_ID_LENGTH)
    text = clean_text(value)
    if text is None:
        return None
    s = re.sub(r"\s+", "", text).upper()
    if re.fullmatch(r"\d(?:\.\d+)?E\+?\d+", s, re.A):  # 1.10101E+17 from a CSV export
        raise Invalid(_ID_EXCEL)
    if len(s) not in (15, 18):
        raise Invalid(_ID_LENGTH)
    if not re.fullmatch(r"\d{17}[\dX]|\d{15}", s, re.A):
        raise Invalid("身份证号只能由数字组成，18位号码的最后一位可以是 X")
    _id_birth(s)
    if len(s) == 18 and s[17] != (expected := _check_char(s[:17])):
        raise Invalid(f"身份证号校验位错误（应为 {expected}）")
    return s, len(s) == 15


def id_birth_date(id_number: str) -> str:
    """ISO birth date embedded in an 18- or 15-digit number."""
    return _id_birth(str(id_number).strip().upper()).isoformat()


def id_gender(id_number: str) -> str:
    """男 for an odd sequence digit (17th, or 15th of a legacy number), else 女."""
    s = str(id_number).strip()
    if len(s) not in (15, 18):
        raise Invalid(_ID_LENGTH)
    return "男" if int(s[16 if len(s) == 18 else 14]) % 2 else "女"


def make_id_number(region: str, birth: str, seq: str) -> str:
    """An 18-character number with the right check character (for tests and samples)."""
    first17 = f"{region}{birth}{seq}"
    if not (len(region) == 6 and len(birth) == 8 and len(seq) == 3
            and re.fullmatch(r"\d{17}", first17, re.A)):
        raise ValueError("region must be 6 digits, birth 8 (YYYYMMDD), seq 3")
    return first17 + _check_char(first17)


# ---------------------------------------------------------------- vocabularies and misc

def parse_yes_no(value) -> bool:
    """是/否, Y/N, YES/NO, 1/0, TRUE/FALSE, √ ✓ / × ✗; blank = False."""
    if isinstance(value, bool):
        return value
    if _is_number(value) and value in (0, 1):
        return bool(value)
    s = clean_text(value)
    if s is None:
        return False
    if s.upper() in _YES:
        return True
    if s.upper() in _NO:
        return False
    raise Invalid(f"无法识别的是/否「{s}」（应填 是 或 否）")


def parse_choice(value, choices: Sequence[str], what: str) -> str | None:
    """Exact member of choices (after clean_text)."""
    s = clean_text(value)
    if s is None or s in choices:
        return s
    raise Invalid(f"「{s}」不是有效的{what}（可选：{'、'.join(choices)}）")


def parse_gender(value) -> str | None:
    s = clean_text(value)
    return parse_choice({"男性": "男", "女性": "女"}.get(s, s), GENDERS, "性别")


def parse_categories(value) -> list[str]:
    """人员类别 list (blank -> []); split on 、 , ， ; ； / and whitespace, deduplicated."""
    s = clean_text(value)
    found: list[str] = []
    for part in re.split(r"[、,，;；/／\s]+", s or ""):
        if not part or part in found:
            continue
        if part == "高龄":
            raise Invalid("高龄由出生日期自动判断，不要填写")
        if part not in CATEGORIES:
            raise Invalid(f"未知的人员类别「{part}」")
        found.append(part)
    return found


def parse_phone(value) -> str | None:
    """Digits with optional leading + and inner -, spaces removed, 7–20 characters."""
    if isinstance(value, bool):
        raise Invalid(f"无法识别的电话号码「{value}」")
    texts = _numeric(value)
    if texts is None:
        return None
    phone = re.sub(r"\s+", "", texts[1])
    if (7 <= len(phone) <= 20 and re.fullmatch(r"\+?\d[\d-]*\d", phone, re.A)
            and sum(c.isdigit() for c in phone) >= 7):
        return phone
    raise Invalid(f"无法识别的电话号码「{texts[0]}」")
