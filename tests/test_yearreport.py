"""The year-end report (年度工作报告): its figures equal seed report 1 / report 10
(shared/spec/seed-figures.md) and the independent computation from the sample CSVs
(tests/independent.py); the page, the .docx and the print layout carry them."""
from __future__ import annotations

import io
import os
import sqlite3
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest

from ingest import app, datadir, yearreport

from .conftest import PASSWORD
from .test_browser import ARTIFACTS, browser, server  # noqa: F401 (fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent as ind  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample"
COMMUNITY = "跃华社区"
YEAR = "2012"
D = Decimal
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# seed report 1: 慰问 programme → (persons, total yuan; None = value not recorded)
SEED_CONDOLENCE = {
    "低保慰问": (70, D("11900")),
    "困难户慰问": (19, D("1900")),
    "军烈属慰问": (13, None),
    "高龄慰问": (39, D("390")),
    "特困慰问": (5, D("1000")),
    "助残慰问": (15, D("2250")),  # May 6 × 150 + July 9 × 150
    "日常慰问": (10, D("1500")),
}
SEED_NAMED_RELIEF = {"樊国建": D("3200"), "王俊杰": D("450"), "何萍": D("1500"), "张永凤": D("2600"),
                     "邓华兵": D("400"), "夏光碧": D("1200"), "邹康容": D("700")}
SEED_COMMITTEE = {
    ("政治面貌", "党员"): (28, 0.2593),
    ("年龄", "30岁及以下"): (6, 0.0556),
    ("年龄", "31-39岁"): (12, 0.1111),
    ("年龄", "40-49岁"): (28, 0.2593),
    ("年龄", "50-59岁"): (42, 0.3889),
    ("年龄", "60岁及以上"): (20, 0.1852),
    ("文化程度", "大专及以上"): (12, 0.1111),
    ("文化程度", "高中"): (44, 0.4074),
    ("文化程度", "初中及以下"): (52, 0.4815),
}


@pytest.fixture(scope="module")
def conn(built_dir):
    c = sqlite3.connect(f"file:{datadir.community_db(built_dir)}?mode=ro", uri=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def figs(conn):
    return yearreport.figures(conn, COMMUNITY, YEAR)


@pytest.fixture(scope="module")
def district(conn):
    return yearreport.figures(conn, "", YEAR)


def stored(conn, name, **params):
    sql = app.load_yaml("datasette.yaml")["databases"]["community"]["queries"][name]["sql"]
    cur = conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def independent_by_program():
    return {r["program"]: r for r in ind.relief_by_program(SAMPLE, YEAR, COMMUNITY)}


# ------------------------------------------------------------------ figures
def test_condolence_total_is_18940(figs):
    c = figs["condolence"]
    assert c["total"] == D("18940.00")
    assert isinstance(c["total"], Decimal) and str(c["total"]) == "18940.00"
    by_cat = {r["category"]: r for r in ind.relief_by_category(SAMPLE, YEAR, COMMUNITY)}
    assert c["total"] == by_cat["慰问"]["total_yuan"]
    assert c["payments"] == by_cat["慰问"]["payments"]
    assert c["persons"] == by_cat["慰问"]["recipients"]


def test_condolence_by_programme(figs):
    indep = independent_by_program()
    programs = figs["condolence"]["programs"]
    assert set(programs) == set(SEED_CONDOLENCE)
    for name, (persons, total) in SEED_CONDOLENCE.items():
        p = programs[name]
        assert p["persons"] == persons == indep[name]["recipients"], name
        assert p["payments"] == indep[name]["payments"], name
        if total is None:
            assert p["total"] is None and indep[name]["total_yuan"] == 0
        else:
            assert p["total"] == total == indep[name]["total_yuan"], name
    assert programs["低保慰问"]["households"] == 45  # "低保户45户", 70 persons
    assert programs["低保慰问"]["batches"][0]["dates"] == ["2012-01-23"]
    assert programs["低保慰问"]["batches"][0]["unit"] == D("170")
    assert programs["特困慰问"]["batches"][0]["unit"] == D("200")
    zhucan = [(b["dates"][0][:7], b["persons"], b["unit"], b["total"])
              for b in programs["助残慰问"]["batches"]]
    assert zhucan == [("2012-05", 6, D("150"), D("900")), ("2012-07", 9, D("150"), D("1350"))]
    daily = programs["日常慰问"]["batches"][0]
    assert (daily["persons"], daily["payments"], daily["unit"]) == (10, 30, D("50"))
    assert programs["军烈属慰问"]["batches"][0]["goods"] == "油1桶"
    assert sum(p["total"] or 0 for p in programs.values()) == D("18940")


def test_named_relief_10050(figs):
    comb = figs["relief"]["combined"]
    assert {n["name"]: n["amount"] for n in comb["named"]} == SEED_NAMED_RELIEF
    assert comb["named_total"] == D("10050.00") == sum(SEED_NAMED_RELIEF.values())
    indep = independent_by_program()
    assert comb["total"] == indep["大病医疗救助"]["total_yuan"] + indep["临时救助"]["total_yuan"] \
        == D("10250")
    assert [(b["persons"], b["total"]) for b in comb["others"]] == [(2, D("200"))]  # the 莫什 brothers


def test_other_relief(figs):
    indep = independent_by_program()
    programs = figs["relief"]["programs"]
    for name in programs:
        assert programs[name]["persons"] == indep[name]["recipients"]
        assert programs[name]["total"] == indep[name]["total_yuan"]
    assert (programs["困难救助"]["persons"], programs["困难救助"]["total"]) == (13, D("1350"))
    assert programs["日常医疗救助"]["households"] == 15
    assert programs["日常医疗救助"]["batches"][0]["amounts_fen"] == [50000, 60000]
    assert programs["刑释人员救助"]["total"] == D("500")
    names = [p["name"] for b in programs["刑释人员救助"]["batches"] for p in b["recipients"]]
    assert sorted(names) == sorted(["曾秀荣", "侯正林", "黄觊"])


def test_subsidies(figs):
    s = figs["subsidies"]["programs"]
    indep = independent_by_program()
    assert (s["爱心购物券"]["persons"], s["爱心购物券"]["months"]) == (10, 4)
    assert s["爱心购物券"]["batches"][0]["unit"] == D("50")
    assert s["爱心购物券"]["total"] == indep["爱心购物券"]["total_yuan"] == D("2000")
    assert s["廉租房补助"]["households"] == 3 and s["廉租房补助"]["total"] is None
    assert s["再就业补助"]["households"] == 3 and s["再就业补助"]["total"] is None


def test_dibao_roster(figs):
    d = figs["dibao"]
    expected = ind.dibao_at_year_end(SAMPLE, YEAR)
    assert (d["households"], d["persons"], d["monthly"], d["jiantui"], d["reduction"]) == \
        (18, 25, D("4660.00"), 5, D("1527.00"))
    assert (d["households"], d["persons"], d["monthly"], d["jiantui"], d["reduction"]) == \
        (expected["households"], expected["persons"], expected["monthly_yuan"],
         expected["jiantui"], expected["reduction_yuan"])
    assert (d["start_households"], d["start_persons"], d["stopped_households"]) == (45, 70, 27)


def test_coverage_equals_stored_query_and_independent(conn, figs):
    assert figs["coverage"] == stored(conn, "coverage", year=YEAR, community=COMMUNITY)
    assert figs["coverage"] == ind.coverage(SAMPLE, YEAR, COMMUNITY)
    disabled = next(r for r in figs["coverage"] if r["group_name"] == "残疾")
    assert (disabled["registered"], disabled["visit_rate"]) == (56, 1.0)


def test_military(figs):
    m = figs["military"]
    indep = next(r for r in ind.coverage(SAMPLE, YEAR, COMMUNITY) if r["group_name"] == "军烈属")
    assert m["persons"] == 13 == indep["registered"]
    assert m["by_category"] == {"军属": 12, "烈属": 1}
    paid = defaultdict(list)
    for s in m["shuangyong"]:
        paid[s["name"]].append((s["date"], s["amount"]))
    assert dict(paid) == {"曾治庸": [("2012-01-20", D("380")), ("2012-07-31", D("200"))],
                          "李富仁": [("2012-07-31", D("200"))]}
    assert m["shuangyong_total"] == D("780")
    assert m["shuangyong_total"] == next(r["total_yuan"] for r in ind.relief_by_category(
        SAMPLE, YEAR, COMMUNITY) if r["category"] == "双拥")


def test_deaths(figs):
    rows = [r for r in ind.load(SAMPLE)["deaths"]
            if r["社区"] == COMMUNITY and ind.parse_date(r["死亡日期"]).year == int(YEAR)]
    assert figs["deaths"] == {"deaths": 5, "cremated": 5, "cremation_rate": 1.0}
    assert figs["deaths"]["deaths"] == len(rows)
    assert figs["deaths"]["cremated"] == sum(ind.is_yes(r["是否火化"]) for r in rows)


def test_programme_totals_equal_stored_query(conn, figs):
    rows = {r["program"]: r for r in stored(conn, "relief_by_program", year=YEAR, community=COMMUNITY)}
    for section in ("condolence", "relief", "subsidies"):
        for name, p in figs[section]["programs"].items():
            assert p["payments"] == rows[name]["payments"]
            assert p["persons"] == rows[name]["recipients"]
            assert D(str(rows[name]["total_yuan"])) == (p["total"] or 0)


def test_no_election_in_the_community_report(figs):
    assert figs["election"] is None
    assert yearreport.committee_table(figs) is None
    assert not any(h.endswith(yearreport.ELECTION_HEADING) for h, _ in yearreport.paragraphs(figs))


def test_district_committee_composition(conn, district):
    e = district["election"]
    assert (e["communities"], e["count"], e["valid"], e["first_round"], e["members"]) == \
        (26, 26, 26, 26, 108)
    comp = {(r["dimension"], r["bucket"]): (r["members"], r["share"]) for r in e["composition"]}
    for key, value in SEED_COMMITTEE.items():
        assert comp[key] == value, key
    assert e["composition"] == ind.committee_composition(SAMPLE, "8", "")
    assert e["composition"] == stored(conn, "committee_composition", term="8", community="")
    header, rows = yearreport.committee_table(district)
    assert header == ["项目", "类别", "人数", "占比"]
    assert ["政治面貌", "党员", "28", "25.9%"] in rows and rows[0][2] == "108"


def test_single_community_election(conn):
    name = conn.execute("SELECT c.name FROM elections e JOIN communities c ON c.id = e.community_id"
                        " ORDER BY c.name LIMIT 1").fetchone()[0]
    figs = yearreport.figures(conn, name, YEAR)
    assert figs["election"]["members"] == next(
        r["elected"] for r in ind.election_turnout(SAMPLE, "8", name))
    assert figs["election"]["composition"] == ind.committee_composition(SAMPLE, "8", name)
    text = "".join(line for _, lines in yearreport.paragraphs(figs) for line in lines)
    assert "选举有效" in text


def test_bad_arguments(conn):
    with pytest.raises(ValueError):
        yearreport.figures(conn, COMMUNITY, "12")
    with pytest.raises(LookupError):
        yearreport.figures(conn, "没有的社区", YEAR)


def test_formatting():
    assert yearreport.money(D("18940")) == "18,940.00元"
    assert yearreport.pct(1.0) == "100%" and yearreport.pct(0.2593) == "25.9%"
    assert yearreport.cn_dates(["2012-03-28", "2012-06-27"]) == "2012年3月28日、6月27日"
    assert yearreport.cn_dates(["2012-08-06", "2012-09-05", "2012-10-08"]).startswith("2012年8月至10月每月")


# ------------------------------------------------------------------ prose
KEY_PHRASES = [
    "慰问款共计18,940.00元",
    "低保慰问：2012年1月23日，慰问70人（45户），发放现金，每人170.00元，共计11,900.00元",
    "困难户慰问：2012年1月18日，慰问19人",
    "1,900.00元", "390.00元", "1,000.00元", "900.00元", "1,350.00元", "1,500.00元",
    "陈宸", "高中良", "送去油1桶",
    "10,050.00元", "樊国建3,200.00元", "王俊杰450.00元", "何萍1,500.00元", "张永凤2,600.00元",
    "邓华兵400.00元", "夏光碧1,200.00元", "邹康容700.00元", "莫什哈布", "10,250.00元",
    "曾秀荣200.00元", "8,200.00元",
    "爱心购物券", "共发放4个月，10人", "廉租房补助", "再就业补助",
    "在保低保户18户、25人，月保障金合计4,660.00元/月", "5户", "1,527.00元/月",
    "残疾人56人，走访56人，走访率100%", "全年走访残疾人率达到100%",
    "共13人（军属12人、烈属1人）", "烈属曾治庸380.00元", "军转干部李富仁", "780.00元",
    "全年共死亡5人，并全部火化，火化率100%",
]


def test_paragraphs_prose(figs):
    sections = yearreport.paragraphs(figs)
    assert sections[0][0] == "一、走访慰问工作"
    text = "\n".join(h + "\n" + "".join(lines) for h, lines in sections)
    for phrase in KEY_PHRASES:
        assert phrase in text, phrase


def test_district_prose(district):
    text = "".join(line for _, lines in yearreport.paragraphs(district) for line in lines)
    for phrase in ["26个社区居委会", "全部一次性选举成功", "共选出居委会成员108人，其中党员28人，占25.9%",
                   "30岁及以下的6人，占5.6%", "50-59岁的42人，占38.9%", "初中及以下文化的52人，占48.1%"]:
        assert phrase in text, phrase


# ------------------------------------------------------------------ page and .docx
URL = f"/-/shequ/report?community={COMMUNITY}&year={YEAR}"
DOCX = f"/-/shequ/report.docx?community={COMMUNITY}&year={YEAR}"


@pytest.mark.parametrize("role", ["admin", "staff", "viewer"])
async def test_page_for_every_staff_role(ds, cookies, role):
    response = await ds.client.get(URL, cookies=cookies[role])
    assert response.status_code == 200
    html = response.text
    assert "跃华社区2012年民政工作报告" in html
    for phrase in KEY_PHRASES:
        assert phrase in html, phrase
    assert 'href="/-/shequ/report.docx?community=%E8%B7%83' in html  # the download link
    assert "下载 Word（.docx）" in html and "data-shequ-print" in html
    assert "/shequ-static/shequ-print.css" in html and "/shequ-static/shequ-report.js" in html
    assert '<a href="/-/shequ/report">年度工作报告</a>' in html  # menu link
    assert '<option value="跃华社区" selected>' in html and '<option value="2012" selected>' in html
    assert "<script>" not in html.split('<section class="content">')[1].split("</section>")[0]


async def test_page_static_files(ds):
    for path in ("/shequ-static/shequ-print.css", "/shequ-static/shequ-report.js"):
        assert (await ds.client.get(path)).status_code == 200
    css = (await ds.client.get("/shequ-static/shequ-print.css")).text
    assert "@media print" in css and "size: A4" in css


@pytest.mark.parametrize("path", [URL, DOCX, "/-/shequ/report"])
async def test_anonymous_is_refused(ds, cookies, path):
    response = await ds.client.get(path, cookies=cookies["anonymous"])
    assert response.status_code == 403
    assert "18,940" not in response.text


async def test_no_menu_link_for_anonymous(ds):
    response = await ds.client.get("/")
    assert "/-/shequ/report" not in response.text


async def test_default_is_the_largest_community_latest_year(ds, cookies):
    response = await ds.client.get("/-/shequ/report", cookies=cookies["viewer"])
    assert response.status_code == 200 and "跃华社区2012年民政工作报告" in response.text


async def test_bad_year_and_unknown_community(ds, cookies):
    assert (await ds.client.get("/-/shequ/report?year=20x2", cookies=cookies["staff"])).status_code == 400
    assert (await ds.client.get("/-/shequ/report?community=火星社区&year=2012",
                                cookies=cookies["staff"])).status_code == 404


async def test_district_page_has_committee_table(ds, cookies):
    response = await ds.client.get("/-/shequ/report?community=&year=2012", cookies=cookies["staff"])
    assert response.status_code == 200
    html = response.text
    assert "全部社区2012年民政工作报告" in html and "committee-table" in html
    assert "<td>党员</td><td>28</td><td>25.9%</td>" in html
    assert "<td>居委会成员</td><td>108</td>" in html


def _docx_text(body: bytes):
    import docx

    document = docx.Document(io.BytesIO(body))
    text = "\n".join(p.text for p in document.paragraphs)
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
    return document, text, tables


async def test_docx_download(ds, cookies):
    response = await ds.client.get(DOCX, cookies=cookies["staff"])
    assert response.status_code == 200
    assert response.headers["content-type"] == DOCX_TYPE
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "跃华社区2012年民政工作报告.docx"
    document, text, tables = _docx_text(response.content)
    for figure in ["18,940.00", "4,660.00", "1,527.00", "10,050.00", "樊国建3,200.00元",
                   "11,900.00", "火化率100%", "走访率100%"]:
        assert figure in text, figure
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert "一、走访慰问工作" in headings and "七、殡葬管理工作" in headings
    assert tables == []


async def test_docx_district_has_committee_table(ds, cookies):
    response = await ds.client.get("/-/shequ/report.docx?community=&year=2012", cookies=cookies["viewer"])
    assert response.status_code == 200
    assert unquote(response.headers["content-disposition"].split("filename*=UTF-8''")[1]) \
        == "全部社区2012年民政工作报告.docx"
    _, text, tables = _docx_text(response.content)
    assert "共选出居委会成员108人，其中党员28人，占25.9%" in text
    assert len(tables) == 1
    rows = tables[0]
    assert rows[0] == ["项目", "类别", "人数", "占比"]
    assert ["合计", "居委会成员", "108", "100%"] in rows
    assert ["政治面貌", "党员", "28", "25.9%"] in rows
    for (dim, bucket), (n, _share) in SEED_COMMITTEE.items():
        assert any(r[:3] == [dim, bucket, str(n)] for r in rows), (dim, bucket)



# ------------------------------------------------------------------ browser
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason="Debian chromium not installed (CI installs it)")
def test_browser_report_prints_without_navigation(server, browser):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/-/login")
    page.fill("#username", "staff1")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/")
    page.click("details.nav-menu summary")
    page.click("nav .nav-menu-inner a:text('年度工作报告')")
    page.wait_for_url(f"{server}/-/shequ/report")
    page.select_option("#report-community", COMMUNITY)
    page.select_option("#report-year", YEAR)
    page.click(".report-controls input[type=submit]")
    page.wait_for_url("**/-/shequ/report?community=*&year=2012")
    report = page.locator("article.year-report")
    assert "慰问款共计18,940.00元" in report.inner_text()
    assert "4,660.00元/月" in report.inner_text()
    assert page.locator("header.hd").is_visible()
    assert page.locator(".report-controls").is_visible()

    # 打印 calls window.print (stubbed so headless Chromium does not block)
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.click("button[data-shequ-print]")
    assert page.evaluate("window.__printed") == 1

    page.emulate_media(media="print")
    assert not page.locator("header.hd").is_visible()
    assert not page.locator("header.hd nav").is_visible()
    assert not page.locator(".report-controls").is_visible()
    assert not page.locator("footer.ft").is_visible()
    assert page.locator("article.year-report h1").is_visible()
    page.screenshot(path=str(ARTIFACTS / "report_print.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    (ARTIFACTS / "report_print.pdf").write_bytes(pdf)
    page.emulate_media(media="screen")
    assert page.locator("header.hd").is_visible()
    assert errors == []

