"""The sample ledgers reproduce the figures of shared/spec/seed-figures.md.

Uses only tests/independent.py and the CSV files in sample/ (no database, no project
module), so a failure here is a sample-data problem, not a query problem.
"""
from __future__ import annotations

import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent as ind  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample"
COMMUNITY = "跃华社区"

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643_ok(idn: str) -> bool:
    idn = idn.strip().upper()
    if len(idn) != 18 or not idn[:17].isdigit():
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(idn[:17], WEIGHTS)) % 11] == idn[17]


@pytest.fixture(scope="module")
def data():
    return ind.load(SAMPLE)


@pytest.fixture(scope="module")
def person(data):
    return {r["身份证号"]: r for r in data["registry"]}


def rows_of(data, program, year=2012):
    return [r for r in data["disbursements"]
            if r["项目"] == program and ind.parse_date(r["发放日期"]).year == year]


def by_name(rows):
    out = defaultdict(list)
    for r in rows:
        out[r["姓名"]].append(ind.parse_amount(r["金额(元)"]))
    return out


def D(x):
    return Decimal(x)


# ------------------------------------------------------------------ files & identity
def test_all_files_present(data):
    for kind, rows in data.items():
        assert rows, f"{kind} is empty"
    assert data["programs"] == [{"项目": "双拥慰问", "类别": "双拥"}]


def test_checksums_everywhere(data):
    ids = [(k, r[col]) for k, col in (("registry", "身份证号"), ("disbursements", "身份证号"),
                                      ("visits", "身份证号"), ("dibao", "户主身份证号"),
                                      ("deaths", "身份证号")) for r in data[k]]
    assert len(ids) > 500
    bad = [(k, i) for k, i in ids if not gb11643_ok(i)]
    assert not bad


def test_registry_identity(data):
    reg = data["registry"]
    assert 250 <= len(reg) <= 350
    assert len({r["身份证号"] for r in reg}) == len(reg)
    assert len({r["姓名"] for r in reg}) == len(reg)
    assert len({r["联系电话"] for r in reg if r["联系电话"]}) == sum(1 for r in reg if r["联系电话"])
    for r in reg:
        idn = r["身份证号"]
        assert idn.startswith("500199")
        assert r["社区"] == COMMUNITY
        assert r["性别"] == ("男" if int(idn[16]) % 2 else "女")
        if r["出生日期"]:
            assert r["出生日期"].replace("-", "") == idn[6:14]
    assert any(not r["出生日期"] for r in reg)
    households = defaultdict(set)
    for r in reg:
        households[r["户号"]].add(r["住址"])
    assert all(len(a) == 1 for a in households.values())


def test_only_two_chen(data):
    chen = {r["姓名"] for r in data["registry"] if "陈" in r["姓名"]}
    assert chen == {"陈宸", "陈世海"}


def test_references_resolve(data, person):
    for kind in ("disbursements", "visits", "deaths"):
        for r in data[kind]:
            p = person[r["身份证号"]]
            assert p["姓名"] == r["姓名"]
            if r.get("户号"):
                assert p["户号"] == r["户号"]
    for r in data["dibao"]:
        p = person[r["户主身份证号"]]
        assert (p["姓名"], p["户号"]) == (r["户主姓名"], r["户号"])
        n = sum(1 for q in data["registry"]
                if q["户号"] == r["户号"] and "低保" in ind.categories(q["人员类别"]))
        assert int(r["保障人数"]) == n


def test_programs_known(data):
    known = ind.program_categories(data)
    assert {r["项目"] for r in data["disbursements"]} <= set(known)


# ------------------------------------------------------------------ report 1: 慰问
def test_condolence_total():
    cats = {r["category"]: r for r in ind.relief_by_category(SAMPLE, "2012", "")}
    assert cats["慰问"]["total_yuan"] == D("18940.00")
    assert ind.relief_by_category(SAMPLE, "2012", COMMUNITY) == list(cats.values())
    assert [r["category"] for r in cats.values()] == sorted(cats)


def test_condolence_lines():
    progs = {r["program"]: r for r in ind.relief_by_program(SAMPLE, "2012", "")}
    assert (progs["低保慰问"]["recipients"], progs["低保慰问"]["total_yuan"]) == (70, D("11900.00"))
    assert (progs["困难户慰问"]["recipients"], progs["困难户慰问"]["total_yuan"]) == (19, D("1900.00"))
    assert (progs["军烈属慰问"]["recipients"], progs["军烈属慰问"]["total_yuan"]) == (13, D("0.00"))
    assert (progs["高龄慰问"]["recipients"], progs["高龄慰问"]["total_yuan"]) == (39, D("390.00"))
    assert (progs["特困慰问"]["recipients"], progs["特困慰问"]["total_yuan"]) == (5, D("1000.00"))
    assert progs["助残慰问"]["total_yuan"] == D("2250.00")  # 900 (5月) + 1350 (7月)
    assert (progs["日常慰问"]["payments"], progs["日常慰问"]["total_yuan"]) == (30, D("1500.00"))
    assert progs["日常慰问"]["recipients"] == 10
    assert progs["双拥慰问"]["category"] == "双拥"
    assert [r["program"] for r in progs.values()] == sorted(progs)


def test_condolence_groups(data, person):
    dibao_hh = {person[r["身份证号"]]["户号"] for r in rows_of(data, "低保慰问")}
    assert len(dibao_hh) == 45
    assert "陈宸" in by_name(rows_of(data, "特困慰问")) and "高中良" in by_name(rows_of(data, "特困慰问"))
    may = [r for r in rows_of(data, "助残慰问") if r["发放日期"].startswith("2012-05")]
    july = [r for r in rows_of(data, "助残慰问") if r["发放日期"].startswith("2012-07")]
    assert len(may) == 6 and sum(ind.parse_amount(r["金额(元)"]) for r in may) == D("900")
    assert all({"特困", "残疾"} <= ind.categories(person[r["身份证号"]]["人员类别"]) for r in may)
    assert len(july) == 9 and sum(ind.parse_amount(r["金额(元)"]) for r in july) == D("1350")
    assert all({"低保", "残疾"} <= ind.categories(person[r["身份证号"]]["人员类别"]) for r in july)
    monthly = Counter(r["发放日期"][:7] for r in rows_of(data, "日常慰问"))
    assert monthly == {"2012-09": 10, "2012-10": 10, "2012-11": 10}
    for r in rows_of(data, "高龄慰问"):
        b = ind.birth_date(person[r["身份证号"]])
        assert ind.age_on(b, ind.parse_date("2012-12-31")) >= 80
    assert all(r["金额(元)"] == "" for r in rows_of(data, "军烈属慰问"))


def test_by_month_consistent():
    months = ind.relief_by_month(SAMPLE, "2012", "")
    wei = sum(r["total_yuan"] for r in months if r["category"] == "慰问")
    assert wei == D("18940.00")
    assert [(r["month"], r["category"]) for r in months] == sorted(
        (r["month"], r["category"]) for r in months)
    comm = ind.relief_by_community(SAMPLE, "2012")
    assert [r["community"] for r in comm] == [COMMUNITY]
    assert comm[0]["total_yuan"] == sum(r["total_yuan"] for r in months)
    assert comm[0]["payments"] == sum(r["payments"] for r in months)


# ------------------------------------------------------------------ report 1: 救助
def test_major_illness_and_temporary_relief(data):
    named = {"樊国建": ("大病医疗救助", "3200.00"), "王俊杰": ("临时救助", "450.00"),
             "何萍": ("大病医疗救助", "1500.00"), "张永凤": ("大病医疗救助", "2600.00"),
             "邓华兵": ("临时救助", "400.00"), "夏光碧": ("大病医疗救助", "1200.00"),
             "邹康容": ("临时救助", "700.00")}
    rows = rows_of(data, "大病医疗救助") + rows_of(data, "临时救助")
    got = {}
    for r in rows:
        if r["姓名"] in named:
            got.setdefault(r["姓名"], []).append((r["项目"], r["金额(元)"]))
    assert got == {k: [v] for k, v in named.items()}
    assert sum(D(v[1]) for v in named.values()) == D("10050")
    months = {r["发放日期"][:7] for r in rows if r["姓名"] in named}
    assert len(months) >= 5  # spread over the year


def test_hardship_relief(data, person):
    rows = rows_of(data, "困难救助")
    assert len(rows) == 13 and len({r["身份证号"] for r in rows}) == 13
    assert sum(ind.parse_amount(r["金额(元)"]) for r in rows) == D("1350")
    assert sorted(r["金额(元)"] for r in rows) == ["100.00"] * 12 + ["150.00"]
    assert all(r["发放日期"] < "2012-07-01" for r in rows)
    assert all({"低保", "残疾"} <= ind.categories(person[r["身份证号"]]["人员类别"]) for r in rows)
    assert {r["身份证号"] for r in rows} == {
        r["身份证号"] for r in data["registry"]
        if {"低保", "残疾"} <= ind.categories(r["人员类别"])}


def test_daily_medical_relief(data, person):
    rows = rows_of(data, "日常医疗救助")
    assert len({r["身份证号"] for r in rows}) == 15 == len(rows)
    assert len({person[r["身份证号"]]["户号"] for r in rows}) == 15
    assert {r["金额(元)"] for r in rows} <= {"500.00", "600.00"}


def test_ex_prisoner_relief(data, person):
    rows = rows_of(data, "刑释人员救助")
    assert sum(ind.parse_amount(r["金额(元)"]) for r in rows) == D("500")
    assert {r["姓名"] for r in rows} == {"曾秀荣", "侯正林", "黄觊"}
    assert all("刑满释放" in ind.categories(person[r["身份证号"]]["人员类别"]) for r in rows)


def test_mosh_brothers(data, person):
    rows = [r for r in rows_of(data, "临时救助") if r["姓名"] in ("莫什哈布", "莫什伟书")]
    assert sorted(r["姓名"] for r in rows) == ["莫什伟书", "莫什哈布"]
    assert sum(ind.parse_amount(r["金额(元)"]) for r in rows) == D("200")
    assert all(r["发放日期"].startswith("2012-05") for r in rows)
    a, b = (person[r["身份证号"]] for r in rows)
    assert a["户号"] == b["户号"]
    for p, r in zip((a, b), rows):
        assert ind.birth_date(p).year == 1998
        assert ind.age_on(ind.birth_date(p), ind.parse_date(r["发放日期"])) == 14


# ------------------------------------------------------------------ report 1: 补贴
def test_love_vouchers(data):
    rows = rows_of(data, "爱心购物券")
    assert {r["金额(元)"] for r in rows} == {"50.00"}
    names = {r["姓名"] for r in rows}
    assert len(names) == 10
    assert {"陈宸", "陈世海", "刘健", "谢业琴", "何兴顺", "龚世和"} <= names
    per_month = Counter(r["发放日期"][:7] for r in rows)
    assert min(per_month) == "2012-08"
    assert set(per_month.values()) == {10}
    assert sorted(per_month) == ["2012-08", "2012-09", "2012-10", "2012-11"]


def test_housing_and_reemployment(data, person):
    for prog in ("廉租房补助", "再就业补助"):
        rows = rows_of(data, prog)
        assert len({person[r["身份证号"]]["户号"] for r in rows}) == 3
        assert all(r["金额(元)"] == "" for r in rows)


# ------------------------------------------------------------------ report 1: 低保, 双拥, 殡葬
def test_dibao_roster():
    s = ind.dibao_at_year_end(SAMPLE, "2012")
    assert s == {"households": 18, "persons": 25, "monthly_yuan": D("4660.00"),
                 "jiantui": 5, "reduction_yuan": D("1527.00")}


def test_dibao_roster_matches_registry(data):
    households = {r["户号"] for r in data["dibao"]}
    assert len(households) == 45
    latest = {}
    for r in sorted(data["dibao"], key=lambda r: ind.parse_month(r["起始月份"])):
        latest[r["户号"]] = r
    assert sum(int(r["保障人数"]) for r in latest.values()) == 70
    ended = [r for r in latest.values() if r["终止月份"]]
    assert len(ended) == 27 and sum(int(r["保障人数"]) for r in ended) == 45
    assert all(r["状态"] == "停保" and r["终止月份"].startswith("2012-") for r in ended)
    assert sum(1 for r in data["registry"] if "低保" in ind.categories(r["人员类别"])) == 70


def test_military_families(data):
    mil = [r for r in data["registry"] if ind.categories(r["人员类别"]) & {"军属", "烈属"}]
    assert len(mil) == 13 and len({r["户号"] for r in mil}) == 13
    assert not [r for r in data["registry"] if "现役军人" in ind.categories(r["人员类别"])]
    cov = {r["group_name"]: r for r in ind.coverage(SAMPLE, "2012", "")}
    assert cov["军烈属"]["registered"] == 13
    regs = {r["姓名"]: ind.categories(r["人员类别"]) for r in data["registry"]}
    assert "烈属" in regs["曾治庸"] and "军转干部" in regs["李富仁"]
    assert not regs["李富仁"] & {"军属", "烈属", "现役军人"}


def test_shuangyong_payments(data):
    rows = [r for r in data["disbursements"] if r["姓名"] in ("曾治庸", "李富仁")
            and r["项目"] == "双拥慰问"]
    got = sorted((r["姓名"], r["发放日期"], r["金额(元)"]) for r in rows)
    assert got == [("曾治庸", "2012-01-20", "380.00"), ("曾治庸", "2012-07-31", "200.00"),
                   ("李富仁", "2012-07-31", "200.00")]
    for r in rows:
        if r["发放日期"] == "2012-07-31":
            assert r["经办人"] == "王嘉陵、吴通元、渝蓉、张娟"
            assert "街道办事处代表慰问" in r["备注"]
    progs = {r["program"]: r for r in ind.relief_by_program(SAMPLE, "2012", "")}
    assert progs["双拥慰问"]["total_yuan"] == D("780.00")


def test_deaths(data):
    rows = [r for r in data["deaths"] if ind.parse_date(r["死亡日期"]).year == 2012]
    assert len(rows) == 5 == len(data["deaths"])
    assert all(ind.is_yes(r["是否火化"]) for r in rows)


def test_nothing_after_death(data):
    died = {r["身份证号"]: ind.parse_date(r["死亡日期"]) for r in data["deaths"]}
    for kind, col in (("disbursements", "发放日期"), ("visits", "走访日期")):
        for r in data[kind]:
            if r["身份证号"] in died:
                assert ind.parse_date(r[col]) <= died[r["身份证号"]]


# ------------------------------------------------------------------ coverage
def test_coverage_2012():
    cov = ind.coverage(SAMPLE, "2012", "")
    assert [r["group_name"] for r in cov] == ["低保", "特困", "残疾", "高龄", "军烈属", "空巢老人"]
    c = {r["group_name"]: r for r in cov}
    assert c["残疾"]["registered"] == 56 and c["残疾"]["visit_rate"] == 1.0
    assert c["高龄"]["registered"] == 39 and c["高龄"]["assist_rate"] == 1.0
    assert c["低保"]["registered"] == 70 and c["低保"]["assist_rate"] == 1.0
    for g in ("低保", "高龄", "空巢老人"):
        assert 0 < c[g]["visit_rate"] < 1
    assert c["空巢老人"]["registered"] == 20
    assert ind.coverage(SAMPLE, "2012", COMMUNITY) == cov
    assert all(r["registered"] == 0 for r in ind.coverage(SAMPLE, "2012", "不存在社区"))


def test_coverage_all_years():
    c = {r["group_name"]: r for r in ind.coverage(SAMPLE, "", "")}
    assert c["残疾"]["registered"] == 56 and c["残疾"]["visit_rate"] == 1.0
    assert c["低保"]["registered"] == 70
    # 5 persons died in 2012 (none of them in a group): registered counts the living
    assert c["高龄"]["registered"] >= 39


# ------------------------------------------------------------------ report 10
REPORT10 = [
    ("政治面貌", "党员", 28), ("政治面貌", "非党员", 80),
    ("年龄", "30岁及以下", 6), ("年龄", "31-39岁", 12), ("年龄", "40-49岁", 28),
    ("年龄", "50-59岁", 42), ("年龄", "60岁及以上", 20),
    ("文化程度", "大专及以上", 12), ("文化程度", "高中", 44), ("文化程度", "初中及以下", 52),
]


@pytest.mark.parametrize("term", ["", "8", "第8届"])
def test_committee_composition(term):
    rows = ind.committee_composition(SAMPLE, term, "")
    got = {(r["dimension"], r["bucket"]): r for r in rows}
    for dim, bucket, n in REPORT10:
        assert got[(dim, bucket)]["members"] == n, (dim, bucket)
        assert got[(dim, bucket)]["share"] == round(n / 108, 4)
    for dim in ("政治面貌", "年龄", "文化程度", "性别"):
        assert sum(r["members"] for r in rows if r["dimension"] == dim) == 108
    assert got[("年龄", "30岁及以下")]["share"] == 0.0556
    assert got[("政治面貌", "党员")]["share"] == 0.2593
    women = got[("性别", "女")]["members"]
    assert 40 <= women <= 50
    assert [(r["dimension"], r["bucket"]) for r in rows] == [
        (d, b) for d, bs in ind.DIMENSIONS for b in bs]


def test_committee_composition_empty_selection():
    rows = ind.committee_composition(SAMPLE, "7", "")
    assert len(rows) == 12 and all(r["members"] == 0 and r["share"] == 0.0 for r in rows)


def test_elections_all_valid(data):
    rows = ind.election_turnout(SAMPLE, "", "")
    assert len(rows) == 26 and len({r["community"] for r in rows}) == 26
    assert COMMUNITY not in {r["community"] for r in rows}
    assert all(r["valid"] == 1 for r in rows)
    assert all(r["term"] == 8 for r in rows)
    assert all(r["election_date"].startswith("2012-03") for r in rows)
    assert {r["method"] for r in rows} == {"直接选举", "户代表选举", "居民代表选举"}
    assert sum(r["elected"] for r in rows) == 108
    assert all(r["elected"] == r["seats"] for r in rows)
    assert ind.election_turnout(SAMPLE, "8", "") == rows
    assert ind.election_turnout(SAMPLE, "第8届", "") == rows
    assert [(r["community"], r["term"]) for r in rows] == sorted(
        (r["community"], r["term"]) for r in rows)
    terms = {r["届次"] for r in data["elections"]} | {r["届次"] for r in data["candidates"]}
    assert {"8", "第8届"} <= terms
    for e in data["elections"]:
        assert int(e["有效票数"]) <= int(e["参加投票人数"]) <= int(e["登记选民数"])


def committee_size(households: int) -> int:
    if households <= 1500:
        return 3
    if households <= 2000:
        return 5
    if households <= 3000:
        return 7
    return min(9, 7 + -(-(households - 3000) // 500))


def test_committee_sizes(data):
    sizes = Counter()
    for e in data["elections"]:
        size = committee_size(int(e["户数"]))
        assert int(e["应选名额"]) == size, e["社区"]
        sizes[size] += 1
    assert sizes == {3: 14, 5: 9, 7: 3}
    elected = Counter(c["社区"] for c in data["candidates"] if ind.is_yes(c["是否当选"]))
    for e in data["elections"]:
        assert elected[e["社区"]] == int(e["应选名额"])


def test_committees_have_women_and_one_director(data):
    by_comm = defaultdict(list)
    for c in data["candidates"]:
        if ind.is_yes(c["是否当选"]):
            by_comm[c["社区"]].append(c)
    assert len(by_comm) == 26
    for comm, members in by_comm.items():
        assert any(m["性别"] == "女" for m in members), comm
        roles = Counter(m["职务"] for m in members)
        assert roles["主任"] == 1 and roles["副主任"] <= 2, comm
        assert set(roles) <= {"主任", "副主任", "委员"}


def test_elected_by_majority(data):
    ballots = {e["社区"]: int(e["参加投票人数"]) for e in data["elections"]}
    valid = {e["社区"]: int(e["有效票数"]) for e in data["elections"]}
    per_comm = defaultdict(list)
    for c in data["candidates"]:
        v = int(c["得票数"])
        assert v <= valid[c["社区"]]
        assert (c["轮次"] or "1") == "1"
        if ind.is_yes(c["是否当选"]):
            assert v * 2 > ballots[c["社区"]], c["姓名"]
        per_comm[c["社区"]].append(c)
    for comm, cands in per_comm.items():
        seats = sum(ind.is_yes(c["是否当选"]) for c in cands)
        assert 1 <= len(cands) - seats <= 2, comm  # 差额选举
        lowest_elected = min(int(c["得票数"]) for c in cands if ind.is_yes(c["是否当选"]))
        assert all(int(c["得票数"]) < lowest_elected for c in cands if not ind.is_yes(c["是否当选"]))


def test_candidate_names_no_chen(data):
    assert not [c for c in data["candidates"] if "陈" in c["姓名"]]
