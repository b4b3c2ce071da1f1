"""The rules of `shequ ingest` (shared/spec/import-templates.md, "Bad input"): strict by
default, --skip-bad with a rejects file, idempotent re-import, dependency order, refusals,
cross-table checks and the progress bar — each driven through a real file."""
from __future__ import annotations

import codecs
import csv
import re
import sqlite3

import openpyxl
import pytest
from click.testing import CliRunner

from ingest import schema
from ingest.cli import main
from ingest.loader import load_files
from ingest.report import RowError
from ingest.validators import make_id_number


REGION = "500199"  # fictional region code
ZHANG = ("跃华社区", "YH01", "张晓明", make_id_number(REGION, "19500305", "011"))
LI = ("跃华社区", "YH02", "李秀英", make_id_number(REGION, "19620715", "022"))
WANG = ("煤港社区", "MG01", "王建国", make_id_number(REGION, "19781120", "031"))
PEOPLE = (ZHANG, LI, WANG)
BAD_CHECKSUM = ZHANG[3][:-1] + "8"  # right check character is 7
REG_HEADER = ["社区", "户号", "姓名", "身份证号", "联系电话"]
DISB_HEADER = ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "金额(元)", "备注"]
ELECTION_HEADER = ["社区", "届次", "选举日期", "选举方式", "户数", "登记选民数", "参加投票人数",
                   "有效票数", "应选名额"]
CANDIDATE_HEADER = ["社区", "届次", "轮次", "姓名", "性别", "出生日期", "文化程度", "政治面貌",
                    "得票数", "是否当选", "职务"]
TABLES = ("communities", "households", "persons", "person_categories", "disbursements",
          "visits", "deaths", "dibao_enrolments", "elections", "candidates", "imports")
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def test_fixture_ids():
    assert ZHANG[3] == "500199195003050117"


# ---------------------------------------------------------------- helpers

def load(db, paths, **kw):
    return load_files(db, list(paths), actor="测试", via="测试导入", **kw)


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def reg_row(person, phone="13800000001"):
    return [*person, phone]


def disb_row(person, paid_on="2012-01-23", program="春节慰问", amount="170", note=""):
    community, household, name, id_number = person
    return [paid_on, community, household, name, id_number, program, "现金", amount, note]


def ingest(db_dir, *files, skip_bad=False):
    args = ["ingest", "--db-dir", str(db_dir), *(["--skip-bad"] if skip_bad else []),
            *map(str, files)]
    return CliRunner().invoke(main, args)


def lines(result):
    return result.stdout.splitlines()


@pytest.fixture
def db_dir(tmp_path):
    return tmp_path / "data"


def open_db(db_dir):
    return sqlite3.connect(db_dir / "community.db")


def counts(db_dir):
    conn = open_db(db_dir)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def dump(db_dir):
    conn = open_db(db_dir)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def q(db_dir, sql, params=()):
    conn = open_db(db_dir)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def registered(db_dir, tmp_path):
    """A data directory whose registry holds 张晓明, 李秀英 (跃华社区), 王建国 (煤港社区)."""
    result = ingest(db_dir, write_csv(tmp_path / "registry.csv",
                                      [REG_HEADER, *map(reg_row, PEOPLE)]))
    assert result.exit_code == 0, result.output
    return db_dir


# ---------------------------------------------------------------- strict / --skip-bad

def bad_disbursements(tmp_path):
    return write_csv(tmp_path / "2012发放.csv", [
        DISB_HEADER,
        disb_row(ZHANG, note="好1"),                                            # line 2
        disb_row(("跃华社区", "YH01", "张晓明", BAD_CHECKSUM), note="坏1"),     # line 3
        disb_row(LI, note="好2"),                                               # line 4
        disb_row(WANG, amount="-170", note="坏2"),                              # line 5
    ])


def test_strict_default_writes_nothing_and_names_every_bad_row(registered, tmp_path):
    before, snapshot = counts(registered), dump(registered)
    result = ingest(registered, bad_disbursements(tmp_path))
    assert result.exit_code == 1
    assert lines(result) == [
        "救助发放 2012发放.csv：有 2 行错误，整个文件未写入任何数据",
        "  第 3 行「身份证号」：身份证号校验位错误（应为 7）",
        "  第 5 行「金额(元)」：金额不能为负数",
    ]
    assert "Traceback" not in result.output
    assert counts(registered) == before
    assert dump(registered) == snapshot
    assert not (tmp_path / "2012发放.rejects.csv").exists()


def test_skip_bad_loads_good_rows_and_writes_rejects_that_can_be_fixed_and_reimported(
        registered, tmp_path):
    path = bad_disbursements(tmp_path)
    stale = tmp_path / ".2012发放.rejects.csv.0badf00d.partial"  # left by an import that was killed
    stale.write_text("half a file")
    result = ingest(registered, path, skip_bad=True)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob(".*.partial")) == []
    assert lines(result) == [
        "救助发放 2012发放.csv：新增 2 行，更新 0 行，未变 0 行，跳过错误行 2 行（见 2012发放.rejects.csv）",
        "  第 3 行「身份证号」：身份证号校验位错误（应为 7）",
        "  第 5 行「金额(元)」：金额不能为负数",
    ]
    assert q(registered, "SELECT note FROM disbursements ORDER BY id") == [("好1",), ("好2",)]

    rejects = tmp_path / "2012发放.rejects.csv"
    assert rejects.read_bytes().startswith(codecs.BOM_UTF8)
    with open(rejects, encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table == [
        ["行号", "错误原因", *DISB_HEADER],
        ["3", "「身份证号」身份证号校验位错误（应为 7）",
         *disb_row(("跃华社区", "YH01", "张晓明", BAD_CHECKSUM), note="坏1")],
        ["5", "「金额(元)」金额不能为负数", *disb_row(WANG, amount="-170", note="坏2")],
    ]

    # staff correct the two cells in the rejects file and import it as it is
    table[1][2 + DISB_HEADER.index("身份证号")] = ZHANG[3]
    table[2][2 + DISB_HEADER.index("金额(元)")] = "170"
    with open(rejects, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(table)
    result = ingest(registered, rejects)
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "救助发放 2012发放.rejects.csv：新增 2 行，更新 0 行，未变 0 行",
        "  已忽略不认识的列：行号、错误原因",
    ]
    assert q(registered, "SELECT d.note, p.name, d.amount_yuan FROM disbursements d"
                         " JOIN persons p ON p.id = d.person_id ORDER BY d.id") == [
        ("好1", "张晓明", 170.0), ("好2", "李秀英", 170.0),
        ("坏1", "张晓明", 170.0), ("坏2", "王建国", 170.0)]


def test_all_or_nothing_when_the_last_row_is_bad(db_dir, tmp_path):
    rows = [REG_HEADER] + [
        ["跃华社区", f"YH{i:04d}", f"居民{i}",
         make_id_number(REGION, f"19{60 + i // 1000}0101", f"{i % 1000:03d}"), "13800000001"]
        for i in range(1, 1201)]  # more than one write chunk
    rows.append(["跃华社区", "YH9999", "居民重复", rows[1][3], ""])  # line 1202: same id as line 2
    result = ingest(db_dir, write_csv(tmp_path / "名册.csv", rows))
    assert result.exit_code == 1
    assert lines(result) == ["居民名册 名册.csv：有 1 行错误，整个文件未写入任何数据",
                             "  第 1202 行「身份证号」：与第 2 行重复"]
    assert counts(db_dir) == dict.fromkeys(TABLES, 0)

    # a cell that cannot be read in the last row: same outcome
    rows[-1] = ["跃华社区", "YH9999", "居民末行", make_id_number(REGION, "19700101", "001"), "电话"]
    db = schema.connect(db_dir / "community.db")
    [report] = load(db, [write_csv(tmp_path / "名册2.csv", rows)])
    db.close()
    assert report.errors == [RowError(1202, "联系电话", "无法识别的电话号码「电话」")]
    assert not report.written
    assert counts(db_dir) == dict.fromkeys(TABLES, 0)


# ---------------------------------------------------------------- idempotence and order

def test_same_files_twice_change_nothing(db_dir, tmp_path):
    registry = write_csv(tmp_path / "名册.csv", [REG_HEADER, *map(reg_row, PEOPLE)])
    disb = write_csv(tmp_path / "发放.csv", [DISB_HEADER, disb_row(ZHANG), disb_row(WANG)])
    first = ingest(db_dir, registry, disb)
    assert first.exit_code == 0, first.output
    assert lines(first) == ["居民名册 名册.csv：新增 3 行，更新 0 行，未变 0 行",
                            "救助发放 发放.csv：新增 2 行，更新 0 行，未变 0 行"]
    before, snapshot = counts(db_dir), dump(db_dir)

    second = ingest(db_dir, registry, disb)
    assert second.exit_code == 0, second.output
    out = lines(second)
    assert len(out) == 2
    assert re.fullmatch(f"居民名册 名册.csv：已于 {STAMP} 导入过，本次未做任何修改", out[0])
    assert re.fullmatch(f"救助发放 发放.csv：已于 {STAMP} 导入过，本次未做任何修改", out[1])
    assert counts(db_dir) == before
    assert dump(db_dir) == snapshot
    assert before["disbursements"] == 2 and before["imports"] == 2


def test_dependency_order_disbursements_named_before_registry(db_dir, tmp_path):
    disb = write_csv(tmp_path / "a_发放.csv", [DISB_HEADER, disb_row(ZHANG), disb_row(LI)])
    registry = write_csv(tmp_path / "z_名册.csv", [REG_HEADER, *map(reg_row, PEOPLE)])
    result = ingest(db_dir, disb, registry)
    assert result.exit_code == 0, result.output
    assert lines(result) == ["居民名册 z_名册.csv：新增 3 行，更新 0 行，未变 0 行",
                             "救助发放 a_发放.csv：新增 2 行，更新 0 行，未变 0 行"]
    assert q(db_dir, "SELECT p.name FROM disbursements d JOIN persons p ON p.id = d.person_id"
                     " ORDER BY d.id") == [("张晓明",), ("李秀英",)]


def test_registry_reimport_with_one_changed_phone(registered, tmp_path):
    rows = [REG_HEADER, reg_row(ZHANG), reg_row(LI, phone="023-68001234"), reg_row(WANG)]
    result = ingest(registered, write_csv(tmp_path / "名册（更新）.csv", rows))
    assert result.exit_code == 0, result.output
    assert lines(result) == ["居民名册 名册（更新）.csv：新增 0 行，更新 1 行，未变 2 行"]
    assert q(registered, "SELECT name, phone FROM persons ORDER BY id") == [
        ("张晓明", "13800000001"), ("李秀英", "023-68001234"), ("王建国", "13800000001")]
    assert counts(registered)["persons"] == 3


# ---------------------------------------------------------------- references to the registry

def test_rows_that_do_not_match_the_registry_are_bad(registered, tmp_path):
    stranger = make_id_number(REGION, "19700101", "051")
    result = ingest(registered, write_csv(tmp_path / "发放.csv", [
        DISB_HEADER,
        disb_row(ZHANG),                                             # 2: fine
        disb_row(("幸福社区", "XF01", "李秀英", LI[3])),             # 3: unknown 社区
        disb_row(LI, program="端午慰问"),                            # 4: unknown 项目
        disb_row(("跃华社区", "YH05", "孙丽", stranger)),            # 5: not in the registry
        disb_row(("跃华社区", "YH01", "张小明", ZHANG[3])),          # 6: name differs
        disb_row(("煤港社区", "YH01", "张晓明", ZHANG[3])),          # 7: other community
    ]))
    assert result.exit_code == 1
    assert lines(result) == [
        "救助发放 发放.csv：有 5 行错误，整个文件未写入任何数据",
        "  第 3 行「社区」：未知的社区「幸福社区」（居民名册中没有这个社区）",
        "  第 4 行「项目」：未知的项目「端午慰问」（项目表中没有，请先在项目表中添加）",
        f"  第 5 行「身份证号」：身份证号 {stranger} 不在居民名册中：请先导入该居民",
        "  第 6 行「姓名」：姓名「张小明」与居民名册不符（名册中为「张晓明」）",
        "  第 7 行「社区」：该居民在居民名册中属于「跃华社区」，不是「煤港社区」",
    ]
    assert counts(registered)["disbursements"] == 0


def test_unknown_community_in_visits_and_dibao(registered, tmp_path):
    visits = write_csv(tmp_path / "走访.csv", [
        ["走访日期", "社区", "姓名", "身份证号", "走访人"],
        ["2012-01-09", "跃华社区", "张晓明", ZHANG[3], "刘芳"],
        ["2012-01-09", "幸福社区", "李秀英", LI[3], "刘芳"]])
    dibao = write_csv(tmp_path / "低保.csv", [
        ["社区", "户号", "户主姓名", "户主身份证号", "保障人数", "月保障金(元)", "起始月份"],
        ["幸福社区", "YH01", "张晓明", ZHANG[3], "3", "724", "2012-01"]])
    [dibao_report, visits_report] = load(
        db := schema.connect(registered / "community.db"), [visits, dibao])
    db.close()
    assert dibao_report.errors == [RowError(2, "社区", "未知的社区「幸福社区」（居民名册中没有这个社区）")]
    assert visits_report.errors == [RowError(3, "社区", "未知的社区「幸福社区」（居民名册中没有这个社区）")]
    assert counts(registered)["visits"] == counts(registered)["dibao_enrolments"] == 0


# ---------------------------------------------------------------- headers

def test_header_matching_no_template_is_refused_with_every_template(db_dir, tmp_path):
    result = ingest(db_dir, write_csv(tmp_path / "杂项.csv", [["日期", "名字", "钱"],
                                                             ["2012-01-23", "张晓明", "170"]]))
    assert result.exit_code == 1
    assert lines(result) == [
        "杂项.csv：拒绝导入。表头不符合任何模板。可用的模板及此表缺少的列："
        "项目表（缺少 项目、类别）；"
        "居民名册（缺少 社区、户号、姓名、身份证号）；"
        "低保名册（缺少 社区、户号、户主姓名、户主身份证号、保障人数、月保障金(元)、起始月份）；"
        "救助发放（缺少 发放日期、社区、姓名、身份证号、项目）；"
        "走访记录（缺少 走访日期、社区、姓名、身份证号）；"
        "殡葬（缺少 社区、姓名、身份证号、死亡日期、是否火化）；"
        "选举（缺少 社区、届次、选举日期、选举方式、登记选民数、参加投票人数、应选名额）；"
        "候选人（缺少 社区、届次、姓名、性别、出生日期、文化程度、政治面貌、得票数、是否当选）"
    ]


def test_disbursements_without_id_column_is_refused_naming_it(registered, tmp_path):
    header = [h for h in DISB_HEADER if h != "身份证号"]
    [report] = load(db := schema.connect(registered / "community.db"), [
        write_csv(tmp_path / "发放.csv", [header, ["2012-01-23", "跃华社区", "YH01", "张晓明",
                                                   "春节慰问", "现金", "170", ""]])])
    db.close()
    assert not report.ok and not report.written
    assert report.refused.startswith("表头不符合任何模板。")
    assert "救助发放（缺少 身份证号）" in report.refused
    assert "居民名册（缺少 身份证号）" in report.refused
    assert report.summary() == f"发放.csv：拒绝导入。{report.refused}"
    assert counts(registered)["disbursements"] == 0


# ---------------------------------------------------------------- elections

def test_elections_terms_and_candidate_checks(db_dir, tmp_path):
    elections = write_csv(tmp_path / "选举.csv", [
        ELECTION_HEADER,
        ["煤港社区", "6", "2012-03-29", "直接选举", "1500", "3537", "2181", "2159", "3"],
        ["九里山社区", "第六届", "2012-03-11", "户代表选举", "1148", "1090", "837", "836", "3"],
        ["跃华社区", "第6届", "2012-03-20", "居民代表选举", "", "６０", "５８", "", "５"],
    ])
    candidates = write_csv(tmp_path / "候选人.csv", [
        CANDIDATE_HEADER,
        ["煤港社区", "第六届", "1", "孔友伟", "男", "1959-08-19", "初中", "群众", "2029", "是", "主任"],
        ["跃华社区", "6", "", "蒋娟玉", "女", "1971-04-04", "高中", "中共党员", "50", "否", ""],
    ])
    # candidates named first: elections still load before them
    result = ingest(db_dir, candidates, elections)
    assert result.exit_code == 0, result.output
    assert lines(result) == ["选举 选举.csv：新增 3 行，更新 0 行，未变 0 行",
                             "候选人 候选人.csv：新增 2 行，更新 0 行，未变 0 行"]
    assert q(db_dir, "SELECT c.name, e.term, e.registered_voters, e.ballots_cast, e.seats"
                     " FROM elections e JOIN communities c ON c.id = e.community_id"
                     " ORDER BY e.id") == [
        ("煤港社区", 6, 3537, 2181, 3), ("九里山社区", 6, 1090, 837, 3), ("跃华社区", 6, 60, 58, 5)]
    assert q(db_dir, "SELECT name, round, elected, role FROM candidates ORDER BY id") == [
        ("孔友伟", 1, 1, "主任"), ("蒋娟玉", 1, 0, None)]

    before = counts(db_dir)
    bad_candidates = write_csv(tmp_path / "候选人2.csv", [
        CANDIDATE_HEADER,
        ["煤港社区", "第七届", "1", "王海", "男", "1960-01-01", "大专", "群众", "100", "是", "委员"],
    ])
    bad_elections = write_csv(tmp_path / "选举2.csv", [
        ELECTION_HEADER,
        ["煤港社区", "第7届", "2015-03-29", "直接选举", "1500", "3537", "3600", "", "3"],
    ])
    result = ingest(db_dir, bad_elections, bad_candidates)
    assert result.exit_code == 1
    assert lines(result) == [
        "选举 选举2.csv：有 1 行错误，整个文件未写入任何数据",
        "  第 2 行「参加投票人数」：大于登记选民数",
        "候选人 候选人2.csv：有 1 行错误，整个文件未写入任何数据",
        "  第 2 行「届次」：找不到「煤港社区」第7届的选举记录：请先导入选举表",
    ]
    assert counts(db_dir) == before


# ---------------------------------------------------------------- unreadable files

def test_unsupported_and_corrupt_files_are_refused_without_traceback(db_dir, tmp_path):
    text = tmp_path / "名册.txt"
    text.write_text("社区,户号,姓名,身份证号\n", encoding="utf-8")
    broken = tmp_path / "名册.xlsx"
    broken.write_bytes(bytes(range(256)) * 8)
    result = ingest(db_dir, text, broken)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert lines(result) == [
        "名册.txt：拒绝导入。不支持的文件类型「.txt」：请上传 .csv 或 .xlsx",
        "名册.xlsx：拒绝导入。无法打开 Excel 文件（BadZipFile），文件可能已损坏",
    ]
    assert "Traceback" not in result.output
    assert counts(db_dir) == dict.fromkeys(TABLES, 0)


def test_empty_csv_and_workbook_without_a_template_sheet_are_refused(db_dir, tmp_path):
    empty = tmp_path / "空.csv"
    empty.write_bytes(b"")
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["跃华社区2012年台账"])
    book.create_sheet("空白")
    book.save(tmp_path / "说明.xlsx")
    result = ingest(db_dir, empty, tmp_path / "说明.xlsx")
    assert result.exit_code == 1
    out = lines(result)
    assert out[0] == "空.csv：拒绝导入。文件是空的：没有找到表头行"
    assert out[1].startswith("说明.xlsx：拒绝导入。表头不符合任何模板。可用的模板及此表缺少的列："
                             "项目表（缺少 项目、类别）；居民名册（缺少 社区、户号、姓名、身份证号）；")
    assert len(out) == 2


def test_skip_bad_on_a_workbook_writes_a_rejects_file_per_sheet(registered, tmp_path):
    import datetime as dt

    newcomer = ("跃华社区", "YH07", "周丽", make_id_number(REGION, "19880808", "062"))
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("发放")
    for row in [DISB_HEADER,
                [dt.datetime(2012, 1, 23), *ZHANG[:3], ZHANG[3], "春节慰问", "现金", 170, "好"],
                [dt.datetime(2012, 1, 24), *newcomer[:3], newcomer[3], "春节慰问", "现金", 170.5,
                 "未登记"]]:
        sheet.append(row)
    sheet = book.create_sheet("名册")
    for row in [REG_HEADER, reg_row(LI), [*newcomer[:3], float(newcomer[3]), "13800000002"]]:
        sheet.append(row)
    path = tmp_path / "一月.xlsx"
    book.save(path)

    result = ingest(registered, path, skip_bad=True)
    assert result.exit_code == 0, result.output
    excel_number = "身份证号被 Excel 存成了数字，末几位已丢失，请把该列设为文本后重新录入"
    assert lines(result) == [
        "居民名册 一月.xlsx［名册］：新增 0 行，更新 0 行，未变 1 行，跳过错误行 1 行（见 一月.名册.rejects.csv）",
        f"  第 3 行「身份证号」：{excel_number}",
        "救助发放 一月.xlsx［发放］：新增 1 行，更新 0 行，未变 0 行，跳过错误行 1 行（见 一月.发放.rejects.csv）",
        f"  第 3 行「身份证号」：身份证号 {newcomer[3]} 不在居民名册中：请先导入该居民",
    ]
    with open(tmp_path / "一月.名册.rejects.csv", encoding="utf-8-sig", newline="") as f:
        registry_rejects = list(csv.reader(f))
    assert registry_rejects[0] == ["行号", "错误原因", *REG_HEADER]
    assert registry_rejects[1][:2] == ["3", f"「身份证号」{excel_number}"]
    assert registry_rejects[1][2:5] == list(newcomer[:3])
    with open(tmp_path / "一月.发放.rejects.csv", encoding="utf-8-sig", newline="") as f:
        disb_rejects = list(csv.reader(f))
    assert disb_rejects[1][0] == "3"
    assert disb_rejects[1][3:] == ["跃华社区", "YH07", "周丽", newcomer[3], "春节慰问", "现金",
                                   "170.5", "未登记"]

    # retype the number as text, then import both corrected rejects files in one run
    registry_rejects[1][2 + REG_HEADER.index("身份证号")] = newcomer[3]
    with open(tmp_path / "一月.名册.rejects.csv", "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(registry_rejects)
    result = ingest(registered, tmp_path / "一月.发放.rejects.csv", tmp_path / "一月.名册.rejects.csv")
    assert result.exit_code == 0, result.output
    assert [line for line in lines(result) if not line.startswith("  ")] == [
        "居民名册 一月.名册.rejects.csv：新增 1 行，更新 0 行，未变 0 行",
        "救助发放 一月.发放.rejects.csv：新增 1 行，更新 0 行，未变 0 行",
    ]
    assert q(registered, "SELECT d.paid_on, p.name, d.amount_yuan, d.note FROM disbursements d"
                         " JOIN persons p ON p.id = d.person_id ORDER BY d.id") == [
        ("2012-01-23", "张晓明", 170.0, "好"), ("2012-01-24", "周丽", 170.5, "未登记")]


# ---------------------------------------------------------------- progress and summaries

def test_progress_bar_for_a_big_csv_only_and_one_summary_per_file(db_dir, tmp_path):
    big_rows = [REG_HEADER] + [
        ["跃华社区", f"YH{i:05d}", f"居民{i}",
         make_id_number(REGION, f"19{20 + i // 100:02d}0101", f"{i % 100:03d}"), "13800000001"]
        for i in range(4999)]  # 5,000 lines with the header; the last chunk is a short one
    big = write_csv(tmp_path / "大名册.csv", big_rows)
    assert big.stat().st_size > 300_000
    small = write_csv(tmp_path / "发放.csv",
                      [DISB_HEADER, disb_row(big_rows[1][:4]), disb_row(big_rows[2][:4])])

    result = ingest(db_dir, small, big)
    assert result.exit_code == 0, result.output
    assert lines(result) == ["居民名册 大名册.csv：新增 4999 行，更新 0 行，未变 0 行",
                             "救助发放 发放.csv：新增 2 行，更新 0 行，未变 0 行"]
    assert "导入 大名册.csv" in result.stderr
    assert "发放.csv" not in result.stderr
    assert "导入" not in result.stdout

    tiny = write_csv(tmp_path / "小名册.csv", [REG_HEADER, *map(reg_row, PEOPLE[:2])])
    result = ingest(db_dir, tiny)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert lines(result) == ["居民名册 小名册.csv：新增 2 行，更新 0 行，未变 0 行"]
