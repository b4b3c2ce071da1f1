"""Journey: the 数据概览 dashboards in real headless Chromium. Staff open their dashboard
for 2012 and 跃华社区; every chart's table view (and what ECharts was given) equals the
stored query's JSON fetched independently. Anonymous visitors open the public one and
see suppressed cells as “已隐藏” in tables and as null (a gap, not 0) in the charts."""
from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest

from .test_browser import ARTIFACTS, browser, login, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

YUEHUA = "跃华社区"
HIDDEN = "已隐藏"
# column → how the table shows it (summaries.md order)
COLUMNS = {
    "relief_by_month": {"month": "text", "category": "text", "payments": "count", "total_yuan": "money"},
    "relief_by_program": {"program": "text", "category": "text", "payments": "count",
                          "recipients": "count", "total_yuan": "money"},
    "coverage": {"group_name": "text", "registered": "count", "visited": "count", "assisted": "count",
                 "visit_rate": "rate", "assist_rate": "rate"},
    "election_turnout": {"community": "text", "term": "term", "election_date": "text", "method": "text",
                         "registered_voters": "count", "ballots_cast": "count", "turnout": "rate",
                         "valid": "valid", "seats": "count", "elected": "count"},
    "committee_composition": {"dimension": "text", "bucket": "text", "members": "count", "share": "rate"},
}
BY_TERM = {"election_turnout", "committee_composition"}

TABLE_JS = """section => Array.from(section.querySelectorAll('table.dash-data tbody tr')).map(tr =>
    Object.fromEntries(Array.from(tr.querySelectorAll('td')).map(td => [td.dataset.column, td.innerText])))"""
OPTION_JS = """section => {
    const o = echarts.getInstanceByDom(section.querySelector('.dash-canvas')).getOption();
    const axis = (a) => (a || []).map(x => x.data || null);
    return {xAxis: axis(o.xAxis), yAxis: axis(o.yAxis), legend: (o.legend || []).map(l => l.data),
            series: (o.series || []).map(s => ({name: s.name, type: s.type, data: s.data,
                     lines: s.markLine ? s.markLine.data.map(d => d.yAxis) : []}))};
}"""


def parse(text, kind):
    """A table cell back to the JSON value it shows (None for 已隐藏)."""
    if text == HIDDEN:
        return None
    if kind == "count":
        return int(text.replace(",", ""))
    if kind == "money":
        assert text.startswith("¥"), text
        return float(text[1:].replace(",", ""))
    if kind == "rate":
        assert text.endswith("%"), text
        return round(float(text[:-1]) / 100, 4)
    if kind == "term":
        assert text.startswith("第") and text.endswith("届"), text
        return int(text[1:-1])
    if kind == "valid":
        return {"有效": 1, "无效": 0}[text]
    return text


def api(page, server, database, query, community, year="2012"):
    """The stored query's rows, fetched outside the page's JavaScript (same session)."""
    params = {"_shape": "array", "community": community,
              **({"term": ""} if query in BY_TERM else {"year": year})}
    response = page.request.get(f"{server}/{database}/{query}.json?{urlencode(params)}")
    assert response.ok, response.status
    return response.json()


def open_dashboard(page, server, database, year, community):
    page.goto(f"{server}/-/shequ/dashboard/{database}?year={year}&community={quote(community)}")
    page.wait_for_selector("#shequ-dashboard[data-state=ready]", timeout=20000)
    return {s.get_attribute("data-chart"): s for s in page.locator("section.dash-chart").all()}


def watch_errors(page):
    errors = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    return errors


def assert_tables_equal_api(page, server, database, charts, community, year="2012"):
    """Every chart's table view shows exactly the stored query's JSON; returns the JSON."""
    data = {}
    for query, columns in COLUMNS.items():
        rows = api(page, server, database, query, community, year)
        shown = charts[query].evaluate(TABLE_JS)
        assert len(shown) == len(rows), query
        for cells, row in zip(shown, rows):
            assert list(cells) == list(columns), query
            assert {c: parse(cells[c], kind) for c, kind in columns.items()} == \
                {c: row[c] for c in columns}, (query, cells, row)
        if not rows:
            assert "暂无数据" in charts[query].locator(".dash-table").inner_text()
        data[query] = rows
    return data



def test_staff_dashboard_shows_what_the_stored_queries_return(server, browser, tmp_path):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    errors = watch_errors(page)
    login(page, server, "staff1")
    page.click("details.nav-menu summary")
    page.click("nav .nav-menu-inner a:text('数据概览')")
    page.wait_for_url(f"{server}/-/shequ/dashboard/community")
    page.select_option("#dash-year", "2012")
    page.select_option("#dash-community", YUEHUA)
    page.click(".dash-filter input[type=submit]")
    page.wait_for_url("**/-/shequ/dashboard/community?year=2012&community=*")
    charts = open_dashboard(page, server, "community", "2012", YUEHUA)
    assert page.locator("h1").inner_text() == "数据概览"
    assert list(charts) == list(COLUMNS)

    data = assert_tables_equal_api(page, server, "community", charts, YUEHUA)
    # the year's relief: the month chart's stacks add up to the API's total (and the known figure)
    month_total = round(sum(r["total_yuan"] for r in data["relief_by_month"]), 2)
    by_category = api(page, server, "community", "relief_by_category", YUEHUA)
    assert month_total == round(sum(r["total_yuan"] for r in by_category), 2) == 42020.00
    table_total = sum(parse(c["total_yuan"], "money") for c in charts["relief_by_month"].evaluate(TABLE_JS))
    assert round(table_total, 2) == month_total
    option = charts["relief_by_month"].evaluate(OPTION_JS)
    assert round(sum(v for s in option["series"] for v in s["data"]), 2) == month_total
    months, categories = option["xAxis"][0], [s["name"] for s in option["series"]]
    for row in data["relief_by_month"]:
        series = option["series"][categories.index(row["category"])]
        assert series["data"][months.index(row["month"])] == row["total_yuan"]
    # the programme chart draws each programme's amount
    option = charts["relief_by_program"].evaluate(OPTION_JS)
    drawn = dict(zip(option["yAxis"][0], option["series"][0]["data"]))
    assert drawn == {r["program"]: r["total_yuan"] for r in data["relief_by_program"]}
    # coverage: the two rates per group
    option = charts["coverage"].evaluate(OPTION_JS)
    assert option["xAxis"][0] == [r["group_name"] for r in data["coverage"]]
    assert option["series"][0]["data"] == [r["visit_rate"] for r in data["coverage"]]
    assert option["series"][1]["data"] == [r["assist_rate"] for r in data["coverage"]]
    # no staff cell is suppressed
    assert charts["relief_by_month"].locator(".dash-suppressed").is_hidden()
    assert HIDDEN not in page.locator("table.dash-data").all_inner_texts().__str__()
    assert data["election_turnout"] == []  # 跃华社区 held no election in the sample
    page.screenshot(path=str(ARTIFACTS / "dashboard_staff.png"), full_page=True)

    # PNG download of a chart
    with page.expect_download() as info:
        charts["relief_by_month"].locator("button.dash-png").click()
    download = info.value
    assert download.suggested_filename.endswith(".png") and "2012年" in download.suggested_filename
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    png = target.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

    # all communities: the elections, with the legal thresholds as marked lines
    charts = open_dashboard(page, server, "community", "2012", "")
    data = assert_tables_equal_api(page, server, "community", charts, "")
    assert len(data["election_turnout"]) > 1
    option = charts["election_turnout"].evaluate(OPTION_JS)
    bars = [s for s in option["series"] if s["type"] == "bar"]
    lines = [s for s in option["series"] if s["lines"]]
    for i, row in enumerate(data["election_turnout"]):  # one bar per election, in its method's series
        assert [s["data"][i] for s in bars if s["data"][i] is not None] == [row["turnout"]]
        assert next(s for s in bars if s["data"][i] is not None)["name"] == row["method"]
    assert sorted(round(v, 4) for s in lines for v in s["lines"]) == [0.5, 0.6667]
    legend = " ".join(option["legend"][0])
    assert "过半数" in legend and "三分之二" in legend and "居民代表选举" in legend
    option = charts["committee_composition"].evaluate(OPTION_JS)
    assert [s["name"] for s in option["series"]] == ["政治面貌", "年龄", "文化程度", "性别"]
    for s, axis in zip(option["series"], option["xAxis"]):
        rows = [r for r in data["committee_composition"] if r["dimension"] == s["name"]]
        assert axis == [r["bucket"] for r in rows] and s["data"] == [r["members"] for r in rows]
    page.screenshot(path=str(ARTIFACTS / "dashboard_staff_all.png"), full_page=True)
    assert errors == []


def test_public_dashboard_shows_suppressed_cells_as_hidden_not_zero(server, browser):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # anonymous
    errors = watch_errors(page)
    page.goto(f"{server}/")
    page.click("details.nav-menu summary")
    page.click("nav .nav-menu-inner a:text('公开数据概览')")
    page.wait_for_url(f"{server}/-/shequ/dashboard/public")
    charts = open_dashboard(page, server, "public", "2012", YUEHUA)
    data = assert_tables_equal_api(page, server, "public", charts, YUEHUA)

    months = data["relief_by_month"]
    hidden = [r for r in months if r["suppressed"] == 1]
    assert hidden and all(r["total_yuan"] is None and r["payments"] is None for r in hidden)
    table = charts["relief_by_month"].evaluate(TABLE_JS)
    for cells, row in zip(table, months):
        if row["suppressed"]:
            assert cells["payments"] == HIDDEN and cells["total_yuan"] == HIDDEN
        else:
            assert HIDDEN not in cells.values()
    assert charts["relief_by_month"].locator(".dash-suppressed").is_visible()
    assert "部分数字因人数过少已隐藏" in charts["relief_by_month"].inner_text()

    option = charts["relief_by_month"].evaluate(OPTION_JS)
    axis, categories = option["xAxis"][0], [s["name"] for s in option["series"]]
    for row in months:
        value = option["series"][categories.index(row["category"])]["data"][axis.index(row["month"])]
        if row["suppressed"]:
            assert value is None, row  # a gap, never 0
        else:
            assert value == row["total_yuan"]
    option = charts["relief_by_program"].evaluate(OPTION_JS)
    drawn = dict(zip(option["yAxis"][0], option["series"][0]["data"]))
    programs = data["relief_by_program"]
    assert any(r["suppressed"] for r in programs)
    assert drawn == {r["program"]: r["total_yuan"] for r in programs}
    assert all(drawn[r["program"]] is None for r in programs if r["suppressed"])
    assert any(v == 0 for v in drawn.values())  # a real zero (in-kind only) stays a zero
    page.screenshot(path=str(ARTIFACTS / "dashboard_public.png"), full_page=True)
    # the JSON the page used is the public API's, not the staff one
    srcs = [s.get_attribute("data-src") for s in charts.values()]
    assert all(src.startswith("/public/") for src in srcs), json.dumps(srcs, ensure_ascii=False)
    assert errors == []
