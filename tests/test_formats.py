"""Every cell spelling and file form of shared/spec/import-templates.md, loaded from real
files (CSV in each encoding, .xlsx written with openpyxl) into a fresh community.db."""
from __future__ import annotations

import codecs
import csv
import datetime as dt

import openpyxl
import pytest

from ingest import schema
from ingest.loader import load_files
from ingest.report import RowError
from ingest.validators import make_id_number


REGION = "500199"  # fictional region code
ZHANG = ("跃华社区", "YH01", "张晓明", make_id_number(REGION, "19500305", "011"))  # 男
LI = ("跃华社区", "YH02", "李秀英", make_id_number(REGION, "19620715", "022"))  # 女
WANG = ("煤港社区", "MG01", "王建国", make_id_number(REGION, "19781120", "031"))  # 男
PEOPLE = (ZHANG, LI, WANG)
REG_HEADER = ["社区", "户号", "姓名", "身份证号"]
DISB_HEADER = ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "物品", "金额(元)",
               "经办人", "备注"]


def test_fixture_ids_are_what_the_messages_below_expect():
    assert [p[3] for p in PEOPLE] == ["500199195003050117", "500199196207150229",
                                      "500199197811200311"]


# ---------------------------------------------------------------- helpers

def load(db, paths, **kw):
    return load_files(db, list(paths), actor="测试", via="测试导入", **kw)


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path, sheets: dict):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def disb_row(person, paid_on="2012-01-23", program="春节慰问", amount="170", method="现金",
             goods=None, handler="刘芳", note=None):
    community, household, name, id_number = person
    return [paid_on, community, household, name, id_number, program, method, goods, amount,
            handler, note]


@pytest.fixture
def db(tmp_path):
    db = schema.connect(tmp_path / "community.db")
    schema.migrate(db)
    yield db
    db.close()


def load_ok(db, *paths):
    reports = load(db, list(paths))
    assert all(r.ok and r.written and not r.errors for r in reports), (
        [r.summary() for r in reports] + [str(e) for r in reports for e in r.errors])
    return reports


def q(db, sql, params=()):
    return db.execute(sql, params).fetchall()


@pytest.fixture
def registry(db, tmp_path):
    """张晓明, 李秀英 (跃华社区) and 王建国 (煤港社区) in the registry."""
    load_ok(db, write_csv(tmp_path / "registry.csv", [REG_HEADER, *map(list, PEOPLE)]))
    return db


# ---------------------------------------------------------------- CSV encodings

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encoding_is_detected(db, tmp_path, encoding):
    names = ["张晓明", "李秀英", "欧阳娜娜", "龚淑贞"]
    if encoding != "gbk":
        names += ["刘䶮", "王㐀"]  # outside GBK: GB18030 (and UTF-8) only
    people = [("跃华社区", f"YH{i:02d}", name, make_id_number(REGION, "19700101", f"{i:02d}1"))
              for i, name in enumerate(names)]
    header = [*REG_HEADER, "住址", "备注"]
    path = write_csv(tmp_path / "名册.csv",
                     [header, *[[*p, "跃华小区8栋3单元101号", "独居，子女在外地"] for p in people]],
                     encoding=encoding)
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) == (encoding == "utf-8-sig")
    if encoding.startswith("gb"):
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")

    [report] = load_ok(db, path)

    assert report.summary() == f"居民名册 名册.csv：新增 {len(names)} 行，更新 0 行，未变 0 行"
    assert report.ignored_headers == []
    assert q(db, "SELECT name, id_number, address, note FROM persons ORDER BY id") == [
        (name, p[3], "跃华小区8栋3单元101号", "独居，子女在外地") for name, p in zip(names, people)]
    assert q(db, "SELECT name FROM communities") == [("跃华社区",)]


def test_gb18030_name_outside_gbk_round_trips_into_disbursements(registry, tmp_path):
    db = registry
    rare = ("跃华社区", "YH09", "刘䶮", make_id_number(REGION, "19400202", "051"))
    load_ok(db, write_csv(tmp_path / "r.csv", [REG_HEADER, list(rare)], encoding="gb18030"))
    load_ok(db, write_csv(tmp_path / "d.csv", [DISB_HEADER, disb_row(rare)], encoding="gb18030"))
    assert q(db, "SELECT p.name FROM disbursements d JOIN persons p ON p.id = d.person_id") == [
        ("刘䶮",)]


# ---------------------------------------------------------------- .xlsx

def test_xlsx_date_cells_number_cells_and_text_id(db, tmp_path):
    path = write_xlsx(tmp_path / "台账.xlsx", {
        "名册": [["社区", "户号", "姓名", "性别", "身份证号", "出生日期"],
                 ["跃华社区", "YH01", "张晓明", "男", ZHANG[3], dt.datetime(1950, 3, 5)],
                 ["跃华社区", "YH02", "李秀英", "女", LI[3], dt.datetime(1962, 7, 15)]],
        "发放": [DISB_HEADER,
                 disb_row(ZHANG, paid_on=dt.datetime(2012, 1, 23), amount=170),
                 disb_row(LI, paid_on=dt.datetime(2012, 2, 1), amount=170.5)],
    })
    check = openpyxl.load_workbook(path)
    assert check["名册"]["F2"].is_date and check["发放"]["A3"].is_date
    assert check["名册"]["E2"].data_type == "s"
    assert check["发放"]["I2"].data_type == check["发放"]["I3"].data_type == "n"

    load_ok(db, path)

    assert q(db, "SELECT name, id_number, gender, birth_date FROM persons ORDER BY id") == [
        ("张晓明", ZHANG[3], "男", "1950-03-05"), ("李秀英", LI[3], "女", "1962-07-15")]
    assert q(db, "SELECT paid_on, amount_yuan, amount_fen FROM disbursements ORDER BY id") == [
        ("2012-01-23", 170.0, 17000), ("2012-02-01", 170.5, 17050)]


def test_xlsx_two_matching_sheets_load_registry_first(db, tmp_path):
    path = write_xlsx(tmp_path / "2012台账.xlsx", {
        "发放": [DISB_HEADER, disb_row(ZHANG), disb_row(LI, program="低保慰问", amount=200)],
        "名册": [REG_HEADER, list(ZHANG), list(LI)],
    })
    reports = load_ok(db, path)
    assert [(r.title, r.sheet) for r in reports] == [("居民名册", "名册"), ("救助发放", "发放")]
    assert [r.summary() for r in reports] == [
        "居民名册 2012台账.xlsx［名册］：新增 2 行，更新 0 行，未变 0 行",
        "救助发放 2012台账.xlsx［发放］：新增 2 行，更新 0 行，未变 0 行",
    ]
    assert q(db, "SELECT p.name, g.name, d.amount_yuan FROM disbursements d"
                 " JOIN persons p ON p.id = d.person_id JOIN programs g ON g.id = d.program_id"
                 " ORDER BY d.id") == [("张晓明", "春节慰问", 170.0), ("李秀英", "低保慰问", 200.0)]


def test_xlsx_cover_sheet_first_then_matching_sheet(db, tmp_path):
    path = write_xlsx(tmp_path / "居民名册2012.xlsx", {
        "填表说明": [["跃华社区居民名册"], ["身份证号一列请设为文本格式"], [None], ["填表人：刘芳"]],
        "名册": [REG_HEADER, list(ZHANG), list(LI), list(WANG)],
    })
    [report] = load_ok(db, path)
    assert report.sheet == "名册"
    assert report.summary() == "居民名册 居民名册2012.xlsx［名册］：新增 3 行，更新 0 行，未变 0 行"
    assert q(db, "SELECT name FROM persons ORDER BY id") == [("张晓明",), ("李秀英",), ("王建国",)]


@pytest.mark.parametrize("form", ["xlsx", "csv"])
def test_title_row_above_header_and_line_numbers_as_in_excel(registry, tmp_path, form):
    db = registry
    rows = [["2012年救助发放台账"], DISB_HEADER,
            disb_row(ZHANG),                           # row 3
            disb_row(LI, paid_on="2012-13-45"),        # row 4
            disb_row(WANG, amount="-5"),               # row 5
            disb_row(LI, program="端午慰问")]          # row 6
    path = (write_xlsx(tmp_path / "发放.xlsx", {"2012": rows}) if form == "xlsx"
            else write_csv(tmp_path / "发放.csv", rows))
    [report] = load(db, [path])
    assert report.errors == [
        RowError(4, "发放日期", "无法识别的日期「2012-13-45」"),
        RowError(5, "金额(元)", "金额不能为负数"),
        RowError(6, "项目", "未知的项目「端午慰问」（项目表中没有，请先在项目表中添加）"),
    ]
    assert not report.written and not report.ok
    label = "发放.xlsx［2012］" if form == "xlsx" else "发放.csv"
    assert report.summary() == f"救助发放 {label}：有 3 行错误，整个文件未写入任何数据"
    assert q(db, "SELECT count(*) FROM disbursements") == [(0,)]

    good = rows[:3] + [disb_row(LI, note="第4行")]
    path = (write_xlsx(tmp_path / "好.xlsx", {"2012": good}) if form == "xlsx"
            else write_csv(tmp_path / "好.csv", good))
    load_ok(db, path)
    assert q(db, "SELECT note FROM disbursements ORDER BY id") == [(None,), ("第4行",)]


def test_xlsx_id_number_stored_as_number_is_refused(db, tmp_path):
    path = write_xlsx(tmp_path / "名册.xlsx", {"Sheet1": [
        REG_HEADER, list(ZHANG), ["跃华社区", "YH02", "李秀英", float(LI[3])]]})
    assert openpyxl.load_workbook(path)["Sheet1"]["D3"].data_type == "n"
    [report] = load(db, [path])
    assert report.errors == [RowError(
        3, "身份证号", "身份证号被 Excel 存成了数字，末几位已丢失，请把该列设为文本后重新录入")]
    assert report.summary() == "居民名册 名册.xlsx［Sheet1］：有 1 行错误，整个文件未写入任何数据"
    assert q(db, "SELECT count(*) FROM persons") == [(0,)]


# ---------------------------------------------------------------- dates and months

DATE_SPELLINGS = ["2012-01-23", "2012/1/23", "2012.1.23", "2012年1月23日", "40931",
                  "２０１２－０１－２３"]


def test_every_date_spelling_in_csv(registry, tmp_path):
    db = registry
    path = write_csv(tmp_path / "发放.csv",
                     [DISB_HEADER, *[disb_row(ZHANG, paid_on=s, note=f"第{i}种")
                                      for i, s in enumerate(DATE_SPELLINGS)]])
    load_ok(db, path)
    assert q(db, "SELECT note, paid_on FROM disbursements ORDER BY id") == [
        (f"第{i}种", "2012-01-23") for i in range(len(DATE_SPELLINGS))]


def test_every_date_spelling_in_xlsx_including_serial_and_date_cells(registry, tmp_path):
    db = registry
    cells = [*DATE_SPELLINGS, 40931, 40931.0, dt.datetime(2012, 1, 23), dt.date(2012, 1, 23)]
    path = write_xlsx(tmp_path / "发放.xlsx", {
        "发放": [DISB_HEADER, *[disb_row(LI, paid_on=c, note=f"第{i}种") for i, c in enumerate(cells)]]})
    sheet = openpyxl.load_workbook(path)["发放"]
    assert sheet["A8"].data_type == "n" and not sheet["A8"].is_date and sheet["A10"].is_date
    load_ok(db, path)
    assert q(db, "SELECT note, paid_on FROM disbursements ORDER BY id") == [
        (f"第{i}种", "2012-01-23") for i in range(len(cells))]


def test_birth_date_spellings_match_the_id_number(db, tmp_path):
    spellings = ["1950-03-05", "1950/3/5", "1950.3.5", "1950年3月5日", "18327", "１９５０－０３－０５"]
    rows = [[*REG_HEADER, "出生日期"]]
    for i, s in enumerate(spellings):
        rows.append(["跃华社区", f"YH{i}", f"居民{i}", make_id_number(REGION, "19500305", f"{i}01"), s])
    load_ok(db, write_csv(tmp_path / "名册.csv", rows))
    assert q(db, "SELECT DISTINCT birth_date FROM persons") == [("1950-03-05",)]
    assert q(db, "SELECT count(*) FROM persons") == [(len(spellings),)]


DIBAO_HEADER = ["社区", "户号", "户主姓名", "户主身份证号", "保障人数", "月保障金(元)", "起始月份",
                "终止月份", "状态"]


def test_month_spellings_and_full_width_whole_numbers(registry, tmp_path):
    db = registry
    path = write_csv(tmp_path / "低保.csv", [
        DIBAO_HEADER,
        [*ZHANG, "3", "724.00", "2012-01", "", ""],
        [*LI, "３", "１７０", "2012/1", "2012年12月", ""],
        [*WANG, "2", "312", "2012年1月", "", "渐退"],
    ])
    load_ok(db, path)
    assert q(db, "SELECT p.name, e.persons_covered, e.monthly_yuan, e.monthly_fen, e.start_month,"
                 " e.end_month, e.status FROM dibao_enrolments e"
                 " JOIN persons p ON p.id = e.head_person_id ORDER BY e.id") == [
        ("张晓明", 3, 724.0, 72400, "2012-01", None, "在保"),
        ("李秀英", 3, 170.0, 17000, "2012-01", "2012-12", "停保"),
        ("王建国", 2, 312.0, 31200, "2012-01", None, "渐退"),
    ]


# ---------------------------------------------------------------- amounts

def test_amount_spellings_stored_exactly(registry, tmp_path):
    db = registry
    amounts = ["170", "170.00", "1,200", "170元", "￥170", "¥170", "１７０", "12.35", "0.1", ""]
    path = write_csv(tmp_path / "发放.csv", [DISB_HEADER, *[
        disb_row(ZHANG, amount=a, note=f"#{i}", method="实物" if not a else "现金",
                 goods="米、油" if not a else None) for i, a in enumerate(amounts)]])
    [report] = load_ok(db, path)
    assert report.summary() == "救助发放 发放.csv：新增 10 行，更新 0 行，未变 0 行"
    assert q(db, "SELECT note, amount_yuan, amount_fen FROM disbursements ORDER BY id") == [
        ("#0", 170.0, 17000), ("#1", 170.0, 17000), ("#2", 1200.0, 120000),
        ("#3", 170.0, 17000), ("#4", 170.0, 17000), ("#5", 170.0, 17000),
        ("#6", 170.0, 17000), ("#7", 12.35, 1235), ("#8", 0.1, 10), ("#9", None, None)]
    # the goods-only row is a payment (counted) but not part of the totals
    assert q(db, "SELECT count(*), count(amount_yuan), sum(amount_fen) FROM disbursements") == [
        (10, 9, 17000 * 6 + 120000 + 1235 + 10)]
    assert q(db, "SELECT method, goods FROM disbursements WHERE amount_yuan IS NULL") == [
        ("实物", "米、油")]


# ---------------------------------------------------------------- 身份证号

def test_id_numbers_valid_lowercase_x_and_legacy(db, tmp_path):
    path = write_csv(tmp_path / "名册.csv", [
        [*REG_HEADER, "性别"],
        [*ZHANG, "男"],
        ["跃华社区", "YH03", "陈伟", "50019919850612007x", "男"],
        ["跃华社区", "YH04", "赵德明", "500199451001017", "男"],
    ])
    load_ok(db, path)
    assert q(db, "SELECT name, id_number, id_legacy, birth_date, gender FROM persons ORDER BY id") == [
        ("张晓明", "500199195003050117", 0, "1950-03-05", "男"),
        ("陈伟", "50019919850612007X", 0, "1985-06-12", "男"),
        ("赵德明", "500199451001017", 1, "1945-10-01", "男"),
    ]


def test_id_number_bad_checksum_refused(db, tmp_path):
    path = write_csv(tmp_path / "名册.csv", [
        REG_HEADER, list(LI), ["跃华社区", "YH01", "张晓明", "500199195003050118"]])
    [report] = load(db, [path])
    assert report.errors == [RowError(3, "身份证号", "身份证号校验位错误（应为 7）")]
    assert str(report.errors[0]) == "第 3 行「身份证号」：身份证号校验位错误（应为 7）"
    assert q(db, "SELECT count(*) FROM persons") == [(0,)]


# ---------------------------------------------------------------- 是/否

def test_yes_no_spellings(db, tmp_path):
    names = ["赵德明", "钱桂英", "孙志强", "李淑珍", "周国华", "吴秀兰", "郑永福", "冯玉梅"]
    people = [("跃华社区", f"YH{i}", n, make_id_number(REGION, f"193{i}0101", "001"))
              for i, n in enumerate(names)]
    load_ok(db, write_csv(tmp_path / "名册.csv", [REG_HEADER, *map(list, people)]))
    spellings = ["是", "否", "Y", "N", "1", "0", "√", ""]
    load_ok(db, write_csv(tmp_path / "殡葬.csv", [
        ["社区", "姓名", "身份证号", "死亡日期", "是否火化", "备注"],
        *[[p[0], p[2], p[3], "2012-02-14", s, s] for p, s in zip(people, spellings)]]))
    assert q(db, "SELECT p.name, d.cremated, d.died_on FROM deaths d"
                 " JOIN persons p ON p.id = d.person_id ORDER BY d.id") == [
        (n, c, "2012-02-14") for n, c in zip(names, [1, 0, 1, 0, 1, 0, 1, 0])]


def test_yes_no_number_cells_in_xlsx(db, tmp_path):
    load_ok(db, write_csv(tmp_path / "名册.csv", [REG_HEADER, list(ZHANG), list(LI)]))
    load_ok(db, write_xlsx(tmp_path / "殡葬.xlsx", {"殡葬": [
        ["社区", "姓名", "身份证号", "死亡日期", "是否火化"],
        ["跃华社区", "张晓明", ZHANG[3], dt.datetime(2012, 3, 1), 1],
        ["跃华社区", "李秀英", LI[3], dt.datetime(2012, 4, 1), 0]]}))
    assert q(db, "SELECT died_on, cremated FROM deaths ORDER BY id") == [
        ("2012-03-01", 1), ("2012-04-01", 0)]


# ---------------------------------------------------------------- headers and text

def test_header_spaces_full_width_brackets_and_any_order(registry, tmp_path):
    db = registry
    header = [" 金额（元） ", "姓名 ", "\u3000身份证号", "项目", "序号", "发放日期", " 社区", "物品"]
    path = write_csv(tmp_path / "发放.csv", [
        header,
        ["170.5", "张晓明", ZHANG[3], "春节慰问", "1", "2012-01-23", "跃华社区", "米"],
        ["", "王建国", WANG[3], "临时救助", "2", "2012-02-01", "煤港社区", "油"],
    ])
    [report] = load_ok(db, path)
    assert report.title == "救助发放"
    assert report.ignored_headers == ["序号"]
    assert q(db, "SELECT d.paid_on, c.name, p.name, g.name, d.goods, d.amount_yuan, d.household_no"
                 " FROM disbursements d JOIN persons p ON p.id = d.person_id"
                 " JOIN programs g ON g.id = d.program_id JOIN communities c ON c.id = d.community_id"
                 " ORDER BY d.id") == [
        ("2012-01-23", "跃华社区", "张晓明", "春节慰问", "米", 170.5, None),
        ("2012-02-01", "煤港社区", "王建国", "临时救助", "油", None, None)]


def test_text_trimmed_and_full_width_letters_digits_normalised(db, tmp_path):
    load_ok(db, write_csv(tmp_path / "名册.csv", [
        [*REG_HEADER, "联系电话", "住址"],
        ["\u3000跃华社区 ", "ＹＨ０１", " 张晓明\u3000", f" {ZHANG[3]}\u3000", " １３８００００１２３４ ",
         "\u3000跃华小区８栋３单元１０１号 "],
    ]))
    assert q(db, "SELECT name FROM communities") == [("跃华社区",)]
    assert q(db, "SELECT household_no, address FROM households") == [("YH01", "跃华小区8栋3单元101号")]
    assert q(db, "SELECT name, id_number, phone, address FROM persons") == [
        ("张晓明", ZHANG[3], "13800001234", "跃华小区8栋3单元101号")]
    load_ok(db, write_csv(tmp_path / "走访.csv", [
        ["走访日期", "社区", "户号", "姓名", "身份证号", "走访人", "事由"],
        ["2012-01-09", " 跃华社区\u3000", "ｙｈ０１", "\u3000张晓明", ZHANG[3], " 刘芳、张娟 ", "春节走访"],
    ]))
    assert q(db, "SELECT visited_on, household_no, visitors, purpose FROM visits") == [
        ("2012-01-09", "yh01", "刘芳、张娟", "春节走访")]


# ---------------------------------------------------------------- reading edge cases

def test_csv_line_numbers_count_rows_not_physical_lines(db, tmp_path):
    path = write_csv(tmp_path / "名册.csv", [
        [*REG_HEADER, "备注"],
        [*ZHANG, "独居\n子女在外地\n每月走访"],              # Excel row 2, text lines 2-4
        ["跃华社区", "YH02", "李秀英", "500199196207150220", ""],  # Excel row 3
    ])
    assert path.read_text(encoding="utf-8").count("\n") == 5
    [report] = load(db, [path])
    assert report.errors == [RowError(3, "身份证号", "身份证号校验位错误（应为 9）")]

    path.write_text(path.read_text(encoding="utf-8").replace("500199196207150220", LI[3]),
                    encoding="utf-8")
    load_ok(db, path)
    assert q(db, "SELECT name, note FROM persons ORDER BY id") == [
        ("张晓明", "独居\n子女在外地\n每月走访"), ("李秀英", None)]


def test_utf8_detected_when_a_character_straddles_the_read_chunk(tmp_path):
    from ingest.reader import detect_encoding, read_sheets

    mib = 1 << 20  # detection reads the file in chunks of this size
    data = (",".join([*REG_HEADER, "备注"]) + "\r\n").encode()
    row = f"跃华社区,YH01,张晓明,{ZHANG[3]},".encode()
    count = 0
    while len(data) + len(row) + 400 < mib:
        data += row + b"x" * 200 + b"\r\n"
        count += 1
    gap = mib - 1 - len(data) - len(row)
    data += row + b"x" * gap + "龚独居\r\n".encode()  # 龚 = 3 bytes, split 1 | 2 at 1 MiB
    assert data[mib - 1:mib + 2] == "龚".encode()
    path = tmp_path / "大.csv"
    path.write_bytes(data)

    assert detect_encoding(path) == "utf-8"
    [sheet] = read_sheets(path)
    assert sheet.template.title == "居民名册"
    rows = list(sheet.rows)
    assert len(rows) == count + 1
    assert rows[-1] == (count + 2, ["跃华社区", "YH01", "张晓明", ZHANG[3], "x" * gap + "龚独居"])
