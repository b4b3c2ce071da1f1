import datetime as dt
import functools
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from ingest import validators as v
from ingest.validators import Invalid

TODAY = dt.date(2024, 6, 1)
REGION = "500199"  # fictional region code
ID_M = v.make_id_number(REGION, "19800101", "013")  # 17th digit 3 -> 男
ID_F = v.make_id_number(REGION, "19450228", "024")  # 1945-02-28, 女


def refused(fn, value, **kw):
    with pytest.raises(Invalid) as info:
        fn(value, **kw)
    return info.value.reason


# ---------------------------------------------------------------- Invalid

def test_invalid_carries_reason():
    e = Invalid("金额不能为负数")
    assert isinstance(e, ValueError)
    assert e.reason == str(e) == "金额不能为负数"


# ---------------------------------------------------------------- text

@pytest.mark.parametrize("raw, expected", [
    (None, None), ("", None), ("   ", None), ("\u3000\u00a0 \t", None),
    ("  跃华社区 ", "跃华社区"), ("\u3000张三\u3000", "张三"), ("\u00a0李四\u00a0", "李四"),
    ("\ufeff姓名", "姓名"), ("１２３", "123"), ("ＡＢｃ１", "ABc1"),
    ("米、油，（备注）", "米、油，（备注）"), ("王\u3000五", "王\u3000五"),
    (12, "12"), (3.0, "3"), (2.5, "2.5"), (0, "0"),
    (dt.date(2012, 1, 23), "2012-01-23"), (dt.datetime(2012, 1, 23), "2012-01-23"),
])
def test_clean_text(raw, expected):
    assert v.clean_text(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (" 金额（元） ", "金额(元)"), ("金额(元)", "金额(元)"), ("月保障金 （元）", "月保障金(元)"),
    ("身 份 证 号", "身份证号"), ("\ufeff社区", "社区"), ("\u3000户号\u3000", "户号"),
    (None, ""), ("", ""),
])
def test_normalize_header(raw, expected):
    assert v.normalize_header(raw) == expected


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize("raw, expected", [
    ("2012-01-23", "2012-01-23"), ("2012-1-23", "2012-01-23"), ("2012/1/23", "2012-01-23"),
    ("2012.1.23", "2012-01-23"), ("2012年1月23日", "2012-01-23"), ("2012年1月23", "2012-01-23"),
    ("２０１２年１月２３日", "2012-01-23"), ("２０１２／１／２３", "2012-01-23"),
    (" 2012-01-23 ", "2012-01-23"), ("2012-01-23 00:00:00", "2012-01-23"),
    ("2012/1/23 8:30", "2012-01-23"), ("2012-01-23T00:00:00", "2012-01-23"),
    ("20120123", "2012-01-23"), ("2012-02-29", "2012-02-29"), ("1900-01-01", "1900-01-01"),
    (dt.datetime(2012, 1, 23, 15, 30), "2012-01-23"), (dt.date(2012, 1, 23), "2012-01-23"),
    (40931, "2012-01-23"), (40931.75, "2012-01-23"), ("40931", "2012-01-23"),
    (None, None), ("", None), ("\u3000", None),
])
def test_parse_date_accepts(raw, expected):
    assert v.parse_date(raw, today=TODAY) == expected


@pytest.mark.parametrize("raw, reason", [
    ("2012-13-01", "无法识别的日期「2012-13-01」"),
    ("2012-02-30", "日期不存在「2012-02-30」（2012年2月只有29天）"),
    ("2011-02-29", "日期不存在「2011-02-29」（2011年2月只有28天）"),
    ("2012-04-31", "日期不存在「2012-04-31」（2012年4月只有30天）"),
    ("2012-01-00", "无法识别的日期「2012-01-00」"),
    ("abc", "无法识别的日期「abc」"), ("2012-1/23", "无法识别的日期「2012-1/23」"),
    ("12-1-23", "无法识别的日期「12-1-23」"), ("2012年1月", "无法识别的日期「2012年1月」"),
    ("1899-12-31", "日期早于1900年"), ("0", "无法识别的日期「0」"),
    (0, "无法识别的日期「0」"), (-5, "无法识别的日期「-5」"), (3000000, "无法识别的日期「3000000」"),
    (float("nan"), "无法识别的日期「nan」"), (True, "无法识别的日期「True」"),
    ("2024-06-02", "日期晚于今天"), (dt.date(2030, 1, 1), "日期晚于今天"),
    (dt.datetime(2024, 6, 2, 0, 0), "日期晚于今天"),
])
def test_parse_date_refuses(raw, reason):
    assert refused(v.parse_date, raw, today=TODAY) == reason


def test_parse_date_future():
    assert v.parse_date("2024-06-01", today=TODAY) == "2024-06-01"
    assert v.parse_date("2099-01-01", allow_future=True, today=TODAY) == "2099-01-01"
    assert v.parse_date("2999-01-01", allow_future=True) == "2999-01-01"
    assert refused(v.parse_date, "2999-01-01") == "日期晚于今天"  # default today = real today
    assert v.parse_date("2024-06-01", today=dt.datetime(2024, 6, 1, 9)) == "2024-06-01"


@pytest.mark.parametrize("raw, expected", [
    ("2012-01", "2012-01"), ("2012-1", "2012-01"), ("2012/1", "2012-01"), ("2012.1", "2012-01"),
    ("2012年1月", "2012-01"), ("2012年12月", "2012-12"), ("２０１２年１月", "2012-01"),
    ("201201", "2012-01"), ("2012-01-23", "2012-01"), ("2012年1月23日", "2012-01"),
    ("2012-01-23 00:00:00", "2012-01"), (dt.date(2012, 1, 23), "2012-01"),
    (dt.datetime(2012, 3, 1), "2012-03"), (40931, "2012-01"), ("2099-12", "2099-12"),
    (None, None), (" ", None),
])
def test_parse_month_accepts(raw, expected):
    assert v.parse_month(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("2012-13", "无法识别的月份「2012-13」"), ("2012", "无法识别的月份「2012」"),
    ("abc", "无法识别的月份「abc」"), ("1899-12", "月份早于1900年"),
    ("2012-02-30", "日期不存在「2012-02-30」（2012年2月只有29天）"),
    (True, "无法识别的月份「True」"), (-1, "无法识别的月份「-1」"),
])
def test_parse_month_refuses(raw, reason):
    assert refused(v.parse_month, raw) == reason


# ---------------------------------------------------------------- amounts

@pytest.mark.parametrize("raw, expected", [
    ("170", "170.00"), ("170.00", "170.00"), ("170.5", "170.50"), ("1,200", "1200.00"),
    ("1,200.50", "1200.50"), ("12,345,678.9", "12345678.90"), ("170元", "170.00"),
    ("170 元", "170.00"), ("￥170", "170.00"), ("¥170", "170.00"), ("￥ 1,200.50元", "1200.50"),
    ("１７０", "170.00"), ("１，２００．５０", "1200.50"), ("  170  ", "170.00"),
    ("\u3000170\u3000", "170.00"), ("0", "0.00"), ("0.00", "0.00"), ("-0", "0.00"),
    ("170.500", "170.50"), ("100000000", "100000000.00"),
    (170, "170.00"), (0, "0.00"), (170.0, "170.00"), (170.5, "170.50"),
    (0.1 + 0.2, "0.30"), (1200.1, "1200.10"), (Decimal("3.1"), "3.10"),
])
def test_parse_amount_accepts(raw, expected):
    result = v.parse_amount(raw)
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize("raw", [None, "", "  ", "\u3000"])
def test_parse_amount_blank(raw):
    assert v.parse_amount(raw) is None


@pytest.mark.parametrize("raw, reason", [
    ("-5", "金额不能为负数"), ("-1,200.50", "金额不能为负数"), ("￥-5", "金额不能为负数"),
    ("－５", "金额不能为负数"), ("\u22125", "金额不能为负数"), (-5, "金额不能为负数"),
    (-0.5, "金额不能为负数"),
    ("abc", "无法识别的金额「abc」"), ("RMB170", "无法识别的金额「RMB170」"),
    ("170美元", "无法识别的金额「170美元」"), ("1,20", "无法识别的金额「1,20」"),
    ("1.2.3", "无法识别的金额「1.2.3」"), ("nan", "无法识别的金额「nan」"),
    ("inf", "无法识别的金额「inf」"), ("1e3", "无法识别的金额「1e3」"),
    (float("nan"), "无法识别的金额「nan」"), (float("inf"), "无法识别的金额「inf」"),
    (Decimal("NaN"), "无法识别的金额「NaN」"), (True, "无法识别的金额「True」"),
    ("170.005", "金额最多保留两位小数"), ("0.001", "金额最多保留两位小数"),
    (1.234, "金额最多保留两位小数"), (2.675, "金额最多保留两位小数"),
    ("100000000.01", "金额超出合理范围"), (10**9, "金额超出合理范围"), (1e300, "金额超出合理范围"),
])
def test_parse_amount_refuses(raw, reason):
    assert refused(v.parse_amount, raw) == reason


def test_amount_sums_are_exact_in_fen():
    total = sum(v.fen(Decimal("0.10")) for _ in range(1_000_000))
    assert total == 10_000_000
    assert Decimal(total) / 100 == Decimal("100000.00")
    assert sum(v.fen(v.parse_amount(x)) for x in (0.1, 0.2)) == v.fen(v.parse_amount(0.1 + 0.2)) == 30


@pytest.mark.parametrize("amount, expected", [
    (Decimal("0"), 0), (Decimal("0.01"), 1), (Decimal("170.00"), 17000), (Decimal("1200.5"), 120050),
    (Decimal("100000000.00"), 10_000_000_000),
])
def test_fen(amount, expected):
    assert v.fen(amount) == expected
    assert isinstance(v.fen(amount), int)


def test_fen_refuses_fractional_fen():
    assert refused(v.fen, Decimal("0.001")) == "金额最多保留两位小数"


# ---------------------------------------------------------------- whole numbers

@pytest.mark.parametrize("raw, kw, expected", [
    ("3", {}, 3), ("０", {}, 0), ("１２", {}, 12), ("1,200", {}, 1200), ("１，２００", {}, 1200),
    (" 42 ", {}, 42), ("3.0", {}, 3), (3, {}, 3), (3.0, {}, 3), (0, {}, 0),
    ("-3", {"minimum": -5}, -3), ("1", {"minimum": 1}, 1), (None, {}, None), ("", {}, None),
])
def test_parse_int_accepts(raw, kw, expected):
    assert v.parse_int(raw, **kw) == expected


@pytest.mark.parametrize("raw, kw, reason", [
    (3.5, {}, "应为整数「3.5」"), ("3.5", {}, "应为整数「3.5」"),
    ("abc", {}, "无法识别的整数「abc」"), ("3人", {}, "无法识别的整数「3人」"),
    ("1,20", {}, "无法识别的整数「1,20」"), (True, {}, "无法识别的整数「True」"),
    (float("nan"), {}, "无法识别的整数「nan」"), ("9" * 40, {}, f"无法识别的整数「{'9' * 40}」"),
    ("-1", {}, "不能为负数"), (-1, {}, "不能为负数"), (0, {"minimum": 1}, "不能小于1"),
    ("-6", {"minimum": -5}, "不能小于-5"),
])
def test_parse_int_refuses(raw, kw, reason):
    assert refused(v.parse_int, raw, **kw) == reason


@pytest.mark.parametrize("raw, expected", [
    ("6", 6), ("６", 6), ("第六届", 6), ("第6届", 6), ("第６届", 6), ("第 6 届", 6), ("六", 6),
    ("6届", 6), ("第十届", 10), ("第十二届", 12), ("第二十届", 20), ("第九十九届", 99), ("第一届", 1),
    (6, 6), (6.0, 6), (None, None), ("", None),
])
def test_parse_term_accepts(raw, expected):
    assert v.parse_term(raw) == expected


@pytest.mark.parametrize("raw", ["第届", "第六三届", "0", "第零届", "abc", "6.5", 0, 6.5, -1, True, "第一百届"])
def test_parse_term_refuses(raw):
    shown = v.clean_text(raw)
    assert refused(v.parse_term, raw) == f"无法识别的届次「{shown}」（应填 6、第六届 或 第6届）"


# ---------------------------------------------------------------- 身份证号

def test_make_id_number_matches_known_checksum():
    # the examples printed in GB 11643-1999
    assert v.make_id_number("440524", "18800101", "001") == "440524188001010014"
    assert v.make_id_number("110105", "19491231", "002") == "11010519491231002X"
    with pytest.raises(ValueError):
        v.make_id_number("5001", "19800101", "013")


@pytest.mark.parametrize("seq", [f"{n:03d}" for n in range(0, 40)])
def test_parse_id_number_checksums(seq):
    number = v.make_id_number(REGION, "19800101", seq)
    assert v.parse_id_number(number) == (number, False)
    assert v.parse_id_number(number.lower()) == (number, False)


def test_parse_id_number_variants():
    x_id = next(n for n in (v.make_id_number(REGION, "19760315", f"{s:03d}") for s in range(100))
                if n.endswith("X"))
    assert v.parse_id_number(x_id.lower()) == (x_id, False)
    assert v.parse_id_number(x_id[:-1] + "Ｘ") == (x_id, False)
    assert v.parse_id_number(f" {ID_M[:6]} {ID_M[6:14]} {ID_M[14:]}\u3000") == (ID_M, False)
    assert v.parse_id_number(ID_M.translate(str.maketrans("0123456789", "０１２３４５６７８９"))) == (ID_M, False)
    assert v.parse_id_number(int(ID_M)) == (ID_M, False)
    assert v.parse_id_number("500199800101013") == ("500199800101013", True)
    assert v.parse_id_number(500199800101013) == ("500199800101013", True)
    assert v.parse_id_number(500199800101013.0) == ("500199800101013", True)
    assert v.parse_id_number(None) is None
    assert v.parse_id_number("  ") is None


def test_parse_id_number_wrong_check_char():
    right = ID_M[-1]
    wrong = "0" if right != "0" else "1"
    assert refused(v.parse_id_number, ID_M[:-1] + wrong) == f"身份证号校验位错误（应为 {right}）"


@pytest.mark.parametrize("raw, reason", [
    (float(ID_M), v._ID_EXCEL), (1.10101199003078e17, v._ID_EXCEL), ("1.10101E+17", v._ID_EXCEL),
    ("5.00199E+17", v._ID_EXCEL),
    ("5001991980010101", "身份证号应为18位（或15位旧号码）"), ("12345", "身份证号应为18位（或15位旧号码）"),
    (True, "身份证号应为18位（或15位旧号码）"), (12.5, "身份证号应为18位（或15位旧号码）"),
    ("50019919800101001Y", "身份证号只能由数字组成，18位号码的最后一位可以是 X"),
    ("50019919800101X013", "身份证号只能由数字组成，18位号码的最后一位可以是 X"),
    ("50019980010101X", "身份证号只能由数字组成，18位号码的最后一位可以是 X"),
    (v.make_id_number(REGION, "19800230", "013"), "身份证号中的出生日期无效「19800230」"),
    (v.make_id_number(REGION, "18991231", "013"), "身份证号中的出生日期无效「18991231」"),
    ("500199801301013", "身份证号中的出生日期无效「19801301」"),
    (v.make_id_number(REGION, "20991231", "013"), "身份证号中的出生日期晚于今天"),
])
def test_parse_id_number_refuses(raw, reason):
    assert refused(v.parse_id_number, raw) == reason


def test_excel_message_text():
    assert v._ID_EXCEL == "身份证号被 Excel 存成了数字，末几位已丢失，请把该列设为文本后重新录入"


def test_id_birth_date_and_gender():
    assert v.id_birth_date(ID_M) == "1980-01-01"
    assert v.id_gender(ID_M) == "男"
    assert v.id_birth_date(ID_F) == "1945-02-28"
    assert v.id_gender(ID_F) == "女"
    assert v.id_birth_date("500199800101013") == "1980-01-01"
    assert v.id_gender("500199800101013") == "男"
    assert v.id_gender("500199800101024") == "女"
    assert v.id_birth_date(ID_M.lower()) == "1980-01-01"


# ---------------------------------------------------------------- 是/否

@pytest.mark.parametrize("raw, expected", [
    ("是", True), ("否", False), ("Y", True), ("N", False), ("y", True), ("n", False),
    ("YES", True), ("no", False), ("Yes", True), ("1", True), ("0", False), ("１", True),
    ("√", True), ("✓", True), ("×", False), ("✗", False), ("TRUE", True), ("false", False),
    (" 是 ", True), (1, True), (0, False), (1.0, True), (True, True), (False, False),
    (None, False), ("", False), ("\u3000", False),
])
def test_parse_yes_no_accepts(raw, expected):
    assert v.parse_yes_no(raw) is expected


@pytest.mark.parametrize("raw, shown", [("已火化", "已火化"), ("2", "2"), (2, "2"), ("x", "x"), ("是否", "是否")])
def test_parse_yes_no_refuses(raw, shown):
    assert refused(v.parse_yes_no, raw) == f"无法识别的是/否「{shown}」（应填 是 或 否）"


# ---------------------------------------------------------------- vocabularies

def test_parse_choice():
    assert v.parse_choice(" 现金 ", v.PAY_METHODS, "发放方式") == "现金"
    assert v.parse_choice("", v.PAY_METHODS, "发放方式") is None
    assert v.parse_choice("春节慰问", v.PROGRAMS, "项目") == "春节慰问"
    assert refused(v.parse_choice, "支票", choices=v.PAY_METHODS, what="发放方式") == \
        "「支票」不是有效的发放方式（可选：现金、实物、购物券、转账）"
    assert refused(v.parse_choice, "三级残疾", choices=v.DISABILITY_GRADES, what="残疾等级") == \
        "「三级残疾」不是有效的残疾等级（可选：一级、二级、三级、四级）"


@pytest.mark.parametrize("raw, expected", [("男", "男"), ("女", "女"), (" 男性 ", "男"), ("女性", "女"), ("", None), (None, None)])
def test_parse_gender_accepts(raw, expected):
    assert v.parse_gender(raw) == expected


def test_parse_gender_refuses():
    assert refused(v.parse_gender, "M") == "「M」不是有效的性别（可选：男、女）"


@pytest.mark.parametrize("raw, expected", [
    ("低保", ["低保"]), ("低保、残疾", ["低保", "残疾"]), ("低保,残疾", ["低保", "残疾"]),
    ("低保，残疾；军属;烈属/重病", ["低保", "残疾", "军属", "烈属", "重病"]),
    ("低保 残疾\u3000空巢老人", ["低保", "残疾", "空巢老人"]), ("低保、低保、特困", ["低保", "特困"]),
    ("、低保、", ["低保"]), ("", []), (None, []),
])
def test_parse_categories_accepts(raw, expected):
    assert v.parse_categories(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("低保、高龄", "高龄由出生日期自动判断，不要填写"), ("低保户", "未知的人员类别「低保户」"),
    ("残疾、老党员", "未知的人员类别「老党员」"),
])
def test_parse_categories_refuses(raw, reason):
    assert refused(v.parse_categories, raw) == reason


@pytest.mark.parametrize("raw, expected", [
    ("13800138000", "13800138000"), ("138 0013 8000", "13800138000"), ("023-12345678", "023-12345678"),
    ("+86 138 0013 8000", "+8613800138000"), ("１３８００１３８０００", "13800138000"),
    ("０２３－１２３４５６７８", "023-12345678"), ("1234567", "1234567"), (13800138000, "13800138000"),
    (13800138000.0, "13800138000"), (None, None), ("", None),
])
def test_parse_phone_accepts(raw, expected):
    assert v.parse_phone(raw) == expected


@pytest.mark.parametrize("raw", ["123456", "abc", "138-0013-800a", "(023)12345678", "1" * 21, "1-2-3-4", "12345678-", True])
def test_parse_phone_refuses(raw):
    assert refused(v.parse_phone, raw) == f"无法识别的电话号码「{v.clean_text(raw)}」"


def test_vocabularies():
    assert v.CATEGORIES == ("低保", "特困", "残疾", "军属", "烈属", "现役军人", "军转干部",
                            "空巢老人", "困难户", "重病", "刑满释放")
    assert len(v.PROGRAMS) == 17
    assert [p for p, c in v.PROGRAMS.items() if c == "救助"] == [
        "大病医疗救助", "临时救助", "日常医疗救助", "困难救助", "刑释人员救助"]
    assert v.PROGRAMS["低保金"] == "保障" and v.PROGRAMS["再就业补助"] == "补贴"
    assert v.PROGRAMS["军烈属慰问"] == "慰问"


# ---------------------------------------------------------------- never anything but Invalid

PARSERS = [
    v.clean_text, v.normalize_header, v.parse_date, functools.partial(v.parse_date, allow_future=True),
    v.parse_month, v.parse_amount, v.parse_int, v.parse_id_number, v.parse_yes_no, v.parse_term,
    functools.partial(v.parse_choice, choices=v.PAY_METHODS, what="发放方式"), v.parse_gender,
    v.parse_categories, v.parse_phone,
]
CELLS = st.one_of(
    st.none(), st.text(), st.text(alphabet="0123456789０１２３-/.年月日元,，¥￥ 第届十六xX\u3000", max_size=24),
    st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.dates(), st.datetimes(), st.decimals(allow_nan=True),
)


def _returns_or_invalid(value):
    for parse in PARSERS:
        try:
            parse(value)
        except Invalid as e:
            assert e.reason and e.reason == str(e)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_any_text_returns_or_invalid(text):
    _returns_or_invalid(text)


@settings(max_examples=400, deadline=None)
@given(CELLS)
def test_any_cell_returns_or_invalid(value):
    _returns_or_invalid(value)


def _outcome(parse, value):
    try:
        return parse(value)
    except Invalid as e:
        return e.reason


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.from_regex(r"\A[0-9]{17}[0-9X]\Z"), st.from_regex(r"\A[0-9]{15}\Z"),
                 st.builds(lambda d: v.make_id_number("110101", d.strftime("%Y%m%d"), "123"),
                           st.dates(dt.date(1890, 1, 1), dt.date(2030, 1, 1)))))
def test_id_number_short_cut_is_the_full_parse(number):
    """A plain stored-form number takes a short cut; with a space around it, the full
    path: the same value or the same refusal."""
    assert _outcome(v.parse_id_number, number) == _outcome(v.parse_id_number, f" {number} ")
