"""Property tests for every parser (ingest/validators.py), the header matching
(ingest/templates.py), the reader and the two ways in - a ledger file through load_files
and a form through HTTP: whatever the input, the answer is a value or a refusal in
Chinese naming the field; never another exception, never a 500.

Round trips: every spelling staff may type of a valid date, month, amount, whole number,
届次, 身份证号 or yes/no parses back to the same value."""
from __future__ import annotations

import csv
import datetime as dt
import functools
import html
import io
import itertools
import re
import shutil
import time
import unicodedata
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from ingest import schema
from ingest import validators as v
from ingest.app import make_datasette
from ingest.loader import load_files
from ingest.reader import UnreadableFile, read_sheets
from ingest.templates import TEMPLATES, NoTemplate, identify
from ingest.validators import Invalid

from .conftest import login

TODAY = dt.date.today()
CJK = re.compile(r"[\u4e00-\u9fff]")
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
           "'; drop table persons; --", '=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0",
           "@SUM(1+1)", "-2+3", "\x00", "\ufeff", "\u202e", "\r\n", "第", "元", "¥", "-", "年月日"]
KNOWN_HEADERS = {c.header for t in TEMPLATES for c in t.columns}


def chinese(reason) -> bool:
    return bool(reason) and bool(CJK.search(str(reason)))


def fullwidth(text: str) -> str:
    """ASCII digits, letters and , . / - as their full-width forms (what a Chinese IME types)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and (c.isalnum() or c in ",./-") else c
                   for c in text)


# ---------------------------------------------------------------- inputs of every kind

def _decoded(raw: bytes):
    return st.sampled_from(["utf-8", "gb18030", "latin-1", "utf-16"]).map(
        lambda enc: raw.decode(enc, errors="replace"))


NEAR = "0123456789０１２３４５６７８９-/.:年月日元,，¥￥ 　\t第届十一二三四五六七八九零xXTE+e是否YN√×"
TEXT = st.one_of(
    st.text(),
    st.text(alphabet=NEAR, max_size=40),
    st.binary(max_size=64).flatmap(_decoded),
    st.sampled_from(HOSTILE),
    st.builds(lambda a, n, b: a + " " * n + b, st.text(NEAR, max_size=8),
              st.integers(0, 3000), st.text(NEAR, min_size=1, max_size=8)),
)
CELLS = st.one_of(
    st.none(), TEXT, st.booleans(),
    st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=dt.date(1, 1, 1)), st.datetimes(),
    st.decimals(allow_nan=True, allow_infinity=True),
)

PARSERS = {
    "clean_text": v.clean_text, "normalize_header": v.normalize_header,
    "parse_date": v.parse_date, "parse_date(allow_future)": functools.partial(v.parse_date, allow_future=True),
    "parse_month": v.parse_month, "parse_amount": v.parse_amount, "parse_int": v.parse_int,
    "parse_int(minimum=1)": functools.partial(v.parse_int, minimum=1), "parse_term": v.parse_term,
    "parse_id_number": v.parse_id_number, "parse_yes_no": v.parse_yes_no,
    "parse_gender": v.parse_gender, "parse_categories": v.parse_categories, "parse_phone": v.parse_phone,
    **{f"parse_choice({what})": functools.partial(v.parse_choice, choices=choices, what=what)
       for choices, what in ((v.PAY_METHODS, "发放方式"), (v.DIBAO_STATUSES, "状态"),
                             (v.ELECTION_METHODS, "选举方式"), (v.EDUCATION, "文化程度"),
                             (v.PARTY, "政治面貌"), (v.ROLES, "职务"),
                             (v.DISABILITY_GRADES, "残疾等级"))},
}


def _returns_or_refuses_in_chinese(value):
    for name, parse in PARSERS.items():
        started = time.perf_counter()
        try:
            parse(value)
        except Invalid as e:
            assert chinese(e.reason), (name, value, e.reason)
            assert e.reason == str(e)
        assert time.perf_counter() - started < 1, (name, value)  # no regex blow-up


@FAST
@given(CELLS)
def test_every_parser_returns_or_refuses_in_chinese(value):
    _returns_or_refuses_in_chinese(value)


@pytest.mark.parametrize("n", [100, 101, 5000, 200_000])
@pytest.mark.parametrize("template", [
    "2012-1-1{}x", "2012{}x", "-{}x", "¥{}-{}1", "第{}x", "1{}x", "{}", "a{}b", "低保{}x",
])
def test_long_runs_of_spaces_cost_nothing(template, n):
    """A cell may hold 1 MiB (the CSV limit). The date pattern used to be quadratic and
    the amount pattern cubic in a run of spaces ("-" + 4,000 spaces + "x" took minutes),
    and clean_text's trimming pattern quadratic, for every text column."""
    value = template.replace("{}", " " * n)
    started = time.perf_counter()
    _returns_or_refuses_in_chinese(value)
    assert time.perf_counter() - started < 10  # linear: ~25 parsers, up to 400,000 characters


def test_long_values_are_echoed_cut_short():
    with pytest.raises(Invalid) as info:
        v.parse_date("2012-01-01" + "x" * 5000)
    assert info.value.reason == f"无法识别的日期「{'2012-01-01' + 'x' * 30}…」"
    # up to MAX_NUMERIC_CHARS the value is read and echoed whole, as before
    with pytest.raises(Invalid) as info:
        v.parse_term("第" * 60)
    assert info.value.reason == f"无法识别的届次「{'第' * 60}」（应填 6、第六届 或 第6届）"


@FAST
@given(st.text())
def test_clean_text_trims_exactly_what_the_old_pattern_trimmed(text):
    old = re.compile(r"^[\s\ufeff\u200b]+|[\s\ufeff\u200b]+$")
    expected = old.sub("", text.translate(v._FULLWIDTH)) or None
    assert v.clean_text(text) == expected
    assert v.clean_text(expected) == expected  # idempotent


# ---------------------------------------------------------------- numbers too big to store

@pytest.mark.parametrize("raw", ["9" * 25, "１" * 20, "123,456,789,012", 10**19, 1e300, 2**63])
def test_whole_numbers_beyond_reason_are_refused(raw):
    """They used to pass and then crash the writer (OverflowError: SQLite INTEGER)."""
    with pytest.raises(Invalid) as info:
        v.parse_int(raw)
    assert info.value.reason == "数值超出合理范围（最大 1 亿）"
    assert v.parse_int(v.MAX_INT) == v.MAX_INT


@pytest.mark.parametrize("raw", [1e300, 10**19, 10000, 10000.0])
def test_terms_beyond_reason_are_refused(raw):
    with pytest.raises(Invalid) as info:
        v.parse_term(raw)
    assert info.value.reason.startswith("无法识别的届次")
    assert v.parse_term(9999) == 9999 == v.parse_term("第9999届")


# ---------------------------------------------------------------- round trips

DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)


def date_spellings(d: dt.date) -> list:
    y, m, day = d.year, d.month, d.day
    texts = [d.isoformat(), f"{y}-{m}-{day}", f"{y}/{m}/{day}", f"{y}.{m:02d}.{day:02d}",
             f"{y}年{m}月{day}日", f"{y}年{m:02d}月{day:02d}日", f"{y}年{m}月{day}", f"{y}{m:02d}{day:02d}",
             f"{y} 年 {m} 月 {day} 日", f"{y}-{m:02d}-{day:02d} 08:30", f"{y}-{m:02d}-{day:02d}T08:30:15",
             f"{y}/{m}/{day} 0:00:00", f" {d.isoformat()}\u3000", f"\ufeff{y}.{m}.{day}"]
    serial = (d - dt.date(1899, 12, 30)).days
    out = texts + [fullwidth(t) for t in texts] + [d, dt.datetime(y, m, day, 13, 5), serial,
                                                   float(serial), serial + 0.75]
    if 1000 <= serial <= 99999:
        out += [str(serial), fullwidth(str(serial))]
    return out


@FAST
@given(DATES)
def test_every_date_spelling_parses_back(d):
    for spelling in date_spellings(d):
        assert v.parse_date(spelling) == d.isoformat(), spelling
        assert v.parse_date(spelling, allow_future=True) == d.isoformat(), spelling
        if not (isinstance(spelling, str) and unicodedata.normalize("NFKC", spelling).isdigit()):
            # (bare digit strings are months only as YYYYMM, never as a date or a serial)
            assert v.parse_month(spelling) == d.isoformat()[:7], spelling


@FAST
@given(st.dates(min_value=TODAY + dt.timedelta(days=1), max_value=dt.date(9999, 12, 31)))
def test_future_dates_are_refused_unless_allowed(d):
    for spelling in (d.isoformat(), f"{d.year}年{d.month}月{d.day}日", d):
        with pytest.raises(Invalid) as info:
            v.parse_date(spelling)
        assert info.value.reason == "日期晚于今天"
        assert v.parse_date(spelling, allow_future=True) == d.isoformat()


@FAST
@given(st.integers(1900, 9999), st.integers(1, 12))
def test_every_month_spelling_parses_back(y, m):
    texts = [f"{y}-{m:02d}", f"{y}-{m}", f"{y}/{m}", f"{y}.{m}", f"{y}年{m}月", f"{y}年{m:02d}月",
             f"{y}{m:02d}", f" {y} 年 {m} 月 "]
    for spelling in texts + [fullwidth(t) for t in texts] + [dt.date(y, m, 28)]:
        assert v.parse_month(spelling) == f"{y:04d}-{m:02d}", spelling


AMOUNTS = st.integers(0, 10**10).map(lambda fen: Decimal(fen).scaleb(-2))


def amount_spellings(a: Decimal) -> list:
    plain, grouped = f"{a:.2f}", f"{a:,.2f}"
    texts = [plain, grouped, f"{grouped}元", f"￥{grouped}", f"¥{plain}", f"¥ {grouped} 元",
             f"{plain} 元", f"{a.normalize():f}", f" {grouped}\u3000"]
    out = texts + [fullwidth(t) for t in texts] + [float(a)]
    if a == a.to_integral_value():
        out += [int(a), f"{int(a)}", f"{int(a):,}元"]
    return out


@FAST
@given(AMOUNTS)
def test_every_amount_spelling_parses_back_exactly(a):
    for spelling in amount_spellings(a):
        parsed = v.parse_amount(spelling)
        assert parsed == a and parsed.as_tuple().exponent == -2, (spelling, parsed)
        assert v.fen(parsed) == int(a * 100)


def test_the_amount_spellings_of_the_issue():
    for spelling in ("1,234.50元", "￥1,234.50", "１，２３４．５０元", "¥1234.5", "1234.50"):
        assert v.parse_amount(spelling) == Decimal("1234.50"), spelling


@FAST
@given(st.integers(0, v.MAX_INT))
def test_every_whole_number_spelling_parses_back(n):
    for spelling in (n, float(n), str(n), f"{n:,}", fullwidth(f"{n:,}"), f"{n}.0", f" {n} "):
        assert v.parse_int(spelling) == n, spelling


def chinese_numeral(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return (digits[tens] if tens > 1 else "") + "十" + (digits[ones] if ones else "")


@FAST
@given(st.integers(1, 9999))
def test_every_term_spelling_parses_back(n):
    spellings = [n, float(n), str(n), f"第{n}届", f"{n}届", f"第 {n} 届", fullwidth(f"第{n}届")]
    if n < 100:
        spellings += [f"第{chinese_numeral(n)}届", chinese_numeral(n)]
    for spelling in spellings:
        assert v.parse_term(spelling) == n, spelling


@FAST
@given(st.sampled_from(sorted(v._YES | v._NO)), st.booleans(), st.sampled_from(["", " ", "\u3000"]))
def test_every_yes_no_spelling(word, lower, pad):
    expected = word in v._YES
    spelling = pad + (word.lower() if lower else word) + pad
    assert v.parse_yes_no(spelling) is expected
    assert v.parse_yes_no(fullwidth(spelling)) is expected


REGIONS = st.from_regex(r"[1-9][0-9]{5}", fullmatch=True)
SEQS = st.from_regex(r"[0-9]{3}", fullmatch=True)


@FAST
@given(REGIONS, DATES, SEQS, st.data())
def test_made_id_numbers_parse_back(region, birth, seq, data):
    number = v.make_id_number(region, birth.strftime("%Y%m%d"), seq)
    spellings = [number, number.lower(), f" {number} ", fullwidth(number),
                 f"{number[:6]} {number[6:14]} {number[14:]}"]
    if number[-1] != "X":
        spellings.append(int(number))
    for spelling in spellings:
        assert v.parse_id_number(spelling) == (number, False), spelling
    assert v.id_birth_date(number) == birth.isoformat()
    assert v.id_gender(number) == ("男" if int(seq[2]) % 2 else "女")
    # any one digit of the first 17 changed: the check character no longer fits
    at = data.draw(st.integers(0, 16))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != number[at]]))
    with pytest.raises(Invalid) as info:
        v.parse_id_number(number[:at] + digit + number[at + 1:])
    assert chinese(info.value.reason)


@FAST
@given(REGIONS, st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)), SEQS)
def test_legacy_15_digit_numbers_parse_back(region, birth, seq):
    number = f"{region}{birth.strftime('%y%m%d')}{seq}"
    assert v.parse_id_number(number) == (number, True)
    assert v.id_birth_date(number) == birth.isoformat()


# ---------------------------------------------------------------- headers and templates

def header_spellings(header: str, data) -> str:
    text = header.replace("(", data.draw(st.sampled_from(["(", "（"]))).replace(
        ")", data.draw(st.sampled_from([")", "）"])))
    gaps = data.draw(st.lists(st.sampled_from([" ", "\u3000", "\t", "\u00a0"]),
                              min_size=len(text) + 1, max_size=len(text) + 1))
    spaced = "".join(g + c for g, c in zip(gaps, text)) + gaps[-1]
    return data.draw(st.sampled_from(["", "\ufeff", "\u200b"])) + spaced


JUNK_HEADERS = st.text(min_size=1, max_size=12).filter(
    lambda h: v.normalize_header(h) not in KNOWN_HEADERS)


@FAST
@given(st.sampled_from(TEMPLATES), st.data())
def test_any_spelling_and_order_of_a_templates_headers_finds_it(template, data):
    optional = [c.header for c in template.columns if not c.required]
    chosen = template.required + data.draw(st.lists(st.sampled_from(optional), unique=True)
                                           if optional else st.just([]))
    junk = data.draw(st.lists(JUNK_HEADERS, max_size=3))
    spelled = [header_spellings(h, data) for h in chosen]
    assert [v.normalize_header(h) for h in spelled] == chosen
    assert identify(data.draw(st.permutations(spelled + junk))) is template


@FAST
@given(st.lists(st.one_of(st.none(), TEXT), max_size=15))
def test_any_header_row_finds_a_template_or_says_what_is_missing(headers):
    try:
        template = identify(headers)
    except NoTemplate as e:
        assert chinese(e) and "缺少" in str(e)
    else:
        present = {v.normalize_header(h) for h in headers if h is not None}
        assert set(template.required) <= present


# ---------------------------------------------------------------- the reader

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A fresh community.db with a small registry, and a directory for generated files."""
    path = tmp_path_factory.mktemp("property")
    db = schema.connect(path / "community.db")
    schema.migrate(db)
    registry = path / "registry.csv"
    with open(registry, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["社区", "户号", "姓名", "身份证号", "出生日期"])
        for community, household, name, number in PEOPLE:
            w.writerow([community, household, name, number, ""])
    [report] = load_files(db, [registry], actor="测试", via="测试导入")
    assert report.ok and report.added == len(PEOPLE), report.summary()
    return {"db": db, "dir": path, "n": itertools.count()}


PEOPLE = [("跃华社区", "YH01", "张晓明", v.make_id_number("500199", "19500305", "011")),
          ("跃华社区", "YH02", "李秀英", v.make_id_number("500199", "19620715", "022")),
          ("煤港社区", "MG01", "王建国", v.make_id_number("500199", "19781120", "031"))]


def _real_xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["社区", "户号", "姓名", "身份证号"])
    for person in PEOPLE:
        book.active.append(list(person))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


REAL_XLSX = _real_xlsx()
REAL_CSV = "社区,户号,姓名,身份证号\r\n".encode() + "".join(
    ",".join(p) + "\r\n" for p in PEOPLE).encode()


@st.composite
def damaged(draw, original: bytes):
    """The bytes of a real file, cut short and/or with a few bytes overwritten."""
    data = bytearray(original)
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 8))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


FILE_BYTES = st.one_of(st.binary(max_size=2000), damaged(REAL_XLSX), damaged(REAL_CSV))


def _loaded_or_refused_in_chinese(work, path):
    reports = load_files(work["db"], [path], actor="测试", via="测试导入", dry_run=True)
    for report in reports:
        if report.refused:
            assert chinese(report.refused), report.refused
            assert "Traceback" not in report.refused
        for error in report.errors:
            assert chinese(error.reason), error
    return reports


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILE_BYTES, st.sampled_from([".csv", ".xlsx"]))
def test_any_bytes_are_read_or_refused_in_chinese(work, data, suffix):
    path = work["dir"] / f"junk{next(work['n'])}{suffix}"
    path.write_bytes(data)
    try:
        for sheet in read_sheets(path):
            for line, cells in sheet.rows:
                assert isinstance(line, int) and isinstance(cells, list)
    except (UnreadableFile, NoTemplate) as e:
        assert chinese(e), e
    _loaded_or_refused_in_chinese(work, path)


CELL_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=30)


@FAST
@given(st.lists(st.lists(CELL_TEXT, min_size=4, max_size=4), max_size=5),
       st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_csv_cells_read_back_as_written(work, rows, encoding):
    header = ["社区", "户号", "姓名", "身份证号"]
    path = work["dir"] / f"round{next(work['n'])}.csv"
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows([header, *rows])
    [sheet] = read_sheets(path)
    assert sheet.headers == header and sheet.header_line == 1
    read = list(sheet.rows)
    assert [cells for _, cells in read] == [r for r in rows]


# ---------------------------------------------------------------- a row through load_files

def near_valid(column):
    """Values a staff member might type in this column - valid, nearly valid and wrong."""
    p = column.parse
    fn = getattr(p, "func", p)
    if fn is v.parse_date:
        return DATES.flatmap(lambda d: st.sampled_from(date_spellings(d)[:16]))
    if fn is v.parse_month:
        return st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(1990, 2030), st.integers(1, 12))
    if fn is v.parse_amount:
        return AMOUNTS.flatmap(lambda a: st.sampled_from(amount_spellings(a)[:9]))
    if fn is v.parse_int:
        return st.one_of(st.integers(1, 500), st.integers(-5, 10**12)).map(str)
    if fn is v.parse_term:
        return st.one_of(st.integers(1, 12), st.integers(0, 12000)).map(lambda n: f"第{n}届")
    if fn is v.parse_phone:
        return st.from_regex(r"1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}", fullmatch=True)
    if fn is v.parse_id_number:
        return st.one_of(st.sampled_from([p[3] for p in PEOPLE]),
                         st.builds(lambda r, d, s: v.make_id_number(r, d.strftime("%Y%m%d"), s),
                                   REGIONS, DATES, SEQS))
    if fn is v.parse_yes_no:
        return st.sampled_from(sorted(v._YES | v._NO))
    if fn is v.parse_choice:
        return st.sampled_from(p.keywords["choices"])
    if fn is v.parse_gender:
        return st.sampled_from(["男", "女", "男性"])
    if fn is v.parse_categories:
        return st.lists(st.sampled_from(v.CATEGORIES + ("高龄",)), max_size=3).map("、".join)
    if column.header == "社区":
        return st.sampled_from(["跃华社区", "煤港社区", "不存在社区"])
    if column.header in ("姓名", "户主姓名"):
        return st.sampled_from([p[2] for p in PEOPLE])
    if column.header == "项目":
        return st.sampled_from(sorted(v.PROGRAMS))
    if column.header == "户号":
        return st.sampled_from([p[1] for p in PEOPLE])
    return st.sampled_from(HOSTILE[:7])


PERSON_COLUMNS = {"社区": 0, "户号": 1, "姓名": 2, "户主姓名": 2, "身份证号": 3, "户主身份证号": 3}


@st.composite
def ledgers(draw):
    """A template and 1-3 rows: each row a plausible record (one resident's community,
    household, name and number together) with up to three cells replaced by anything."""
    template = draw(st.sampled_from(TEMPLATES))
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        person = draw(st.sampled_from(PEOPLE))
        same = draw(st.sampled_from([True, True, True, False]))  # one resident's details
        row = [person[PERSON_COLUMNS[c.header]] if c.header in PERSON_COLUMNS and same
               else draw(near_valid(c)) for c in template.columns]
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
            row[draw(st.integers(0, len(row) - 1))] = draw(st.one_of(st.just(""), TEXT))
        rows.append(row)
    return template, rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_a_generated_ledger_row_loads_or_is_refused_by_column_in_chinese(work, ledger):
    template, rows = ledger
    headers = [c.header for c in template.columns]
    path = work["dir"] / f"ledger{next(work['n'])}.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([headers, *rows])
    [report] = _loaded_or_refused_in_chinese(work, path)
    if report.refused:  # only a NUL or an over-long cell refuses a whole file
        assert any("\x00" in c for r in rows for c in r), report.refused
        return
    assert report.title == template.title
    for error in report.errors:
        assert error.column in headers, error
        assert 2 <= error.line <= len(rows) + 1
    assert report.would_write or report.errors
    event("would load" if report.would_write and not report.errors else "row errors")
    assert report.added + report.updated + report.unchanged + report.bad_lines <= len(rows)


def test_the_bugs_this_found_no_longer_crash_the_loader(work):
    """Numbers SQLite cannot hold used to escape as OverflowError (a 500 on upload, a
    traceback from `shequ ingest`)."""
    headers = ["社区", "届次", "选举日期", "选举方式", "户数", "登记选民数", "参加投票人数", "应选名额"]
    for term, households in (("8", "9" * 25), ("第9999届", "1" + "0" * 20)):
        path = work["dir"] / f"election{next(work['n'])}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([headers, ["跃华社区", term, "2012-03-01", "直接选举",
                                               households, "100", "90", "5"]])
        [report] = _loaded_or_refused_in_chinese(work, path)
        assert [str(e) for e in report.errors] == ["第 2 行「户数」：数值超出合理范围（最大 1 亿）"]
    book = openpyxl.Workbook()
    book.active.append(headers)
    book.active.append(["跃华社区", 1e300, "2012-03-01", "直接选举", 100, 100, 90, 5])
    path = work["dir"] / "term.xlsx"
    book.save(path)
    [report] = _loaded_or_refused_in_chinese(work, path)
    [error] = report.errors
    assert (error.line, error.column) == (2, "届次")
    assert error.reason.startswith("无法识别的届次「10000000000") and len(error.reason) < 80


# ---------------------------------------------------------------- a form through HTTP

@pytest.fixture(scope="module")
async def form_site(built_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("forms") / "data"
    shutil.copytree(built_dir, path)
    ds = make_datasette(path)
    cookies = await login(ds, "staff1")
    db = ds.get_database("community")
    ids = [r[0] for r in (await db.execute("SELECT id FROM persons ORDER BY id LIMIT 5")).rows]
    return ds, cookies, ids


VISIT_LABELS = {"居民": "被走访人", "走访日期": "走访日期", "走访人": "走访人", "事由": "事由", "备注": "备注"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
async def test_the_visit_form_answers_302_or_400_naming_the_field(form_site, data):
    ds, cookies, ids = form_site
    form = {
        "person_id": data.draw(st.sampled_from([str(i) for i in ids]) if data.draw(st.booleans())
                               else st.one_of(st.sampled_from([str(i) for i in ids]), TEXT)),
        "走访日期": data.draw(DATES.flatmap(lambda d: st.sampled_from(date_spellings(d)[:14]))
                          if data.draw(st.booleans()) else st.one_of(TEXT, st.just(""))),
        "走访人": data.draw(TEXT), "事由": data.draw(TEXT), "备注": data.draw(TEXT),
    }
    form = {k: val.replace("\x00", "") for k, val in form.items()}  # a browser never sends NUL
    response = await ds.client.post("/-/shequ/form/visit", data=form, cookies=cookies)
    assert response.status_code in (302, 400), (response.status_code, form, response.text[-2000:])
    if response.status_code == 400:
        errors = [html.unescape(e) for e in
                  re.findall(r'class="field-error" role="alert">([^<]*)<', response.text)]
        assert errors, response.text[-2000:]
        for error in errors:
            label, _, reason = error.partition("：")
            assert label in VISIT_LABELS.values() and chinese(reason), error
    else:
        assert response.headers["location"].startswith("/community/persons/")
    event(f"HTTP {response.status_code}")


def test_fullwidth_helper():
    assert fullwidth("2012-01-23") == "２０１２－０１－２３"
    assert unicodedata.normalize("NFKC", fullwidth("1,234.50")) == "1,234.50"
    assert zipfile.is_zipfile(io.BytesIO(REAL_XLSX))
