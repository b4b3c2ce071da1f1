"""数据概览 (plugins/dashboard.py), in-process: who may open which dashboard, the selectors
come from the data, and every chart is wired to the stored query's JSON endpoint (the
browser journey in test_browser_dashboard.py checks the drawing)."""
from __future__ import annotations

import html
import re
import sqlite3
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from ingest import ROOT, datadir
from ingest.app import make_datasette

YUEHUA = "跃华社区"
QUERIES = ["relief_by_month", "relief_by_program", "coverage", "election_turnout",
           "committee_composition"]
STAFF_URL = "/-/shequ/dashboard/community"
PUBLIC_URL = "/-/shequ/dashboard/public"


def sections(page_html):
    """(data-chart, data-src) of each chart section, in page order."""
    return [(name, html.unescape(src)) for name, src in re.findall(
        r'<section class="dash-chart"[^>]*data-chart="([^"]+)" data-src="([^"]+)"', page_html)]


def options(page_html, select_id):
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page_html, re.S).group(1)
    return [(html.unescape(value), bool(selected)) for value, selected in
            re.findall(r'<option value="([^"]*)"( selected)?>', block)]


async def test_anonymous_is_sent_to_login_for_the_staff_dashboard(ds):
    response = await ds.client.get(f"{STAFF_URL}?year=2012")
    assert response.status_code == 302
    assert response.headers["location"] == "/-/login?next=" + quote(f"{STAFF_URL}?year=2012", safe="")


@pytest.mark.parametrize("role", ["admin", "staff", "viewer"])
async def test_every_staff_role_sees_the_staff_dashboard(ds, cookies, role):
    page = await ds.client.get(STAFF_URL, cookies=cookies[role])
    assert page.status_code == 200
    assert "<h1>数据概览</h1>" in page.text and "<title>数据概览" in page.text
    assert [name for name, _ in sections(page.text)] == QUERIES


@pytest.mark.parametrize("role", ["anonymous", "viewer", "admin"])
async def test_public_dashboard_is_open_to_all(ds, cookies, role):
    page = await ds.client.get(PUBLIC_URL, cookies=cookies[role])
    assert page.status_code == 200
    assert "<h1>公开数据概览</h1>" in page.text
    assert "已隐藏" in page.text and "不画成 0" in page.text  # the suppression note
    assert [name for name, _ in sections(page.text)] == QUERIES
    assert all(src.startswith("/public/") for _, src in sections(page.text))


async def test_unknown_database_year_or_community_is_refused(ds, cookies):
    staff = cookies["staff"]
    assert (await ds.client.get("/-/shequ/dashboard/accounts", cookies=staff)).status_code == 404
    assert (await ds.client.get("/-/shequ/dashboard/nosuch", cookies=staff)).status_code == 404
    bad_year = await ds.client.get(f"{STAFF_URL}?year=1999", cookies=staff)
    assert bad_year.status_code == 400 and "1999" in bad_year.text
    bad_community = await ds.client.get(PUBLIC_URL, params={"community": "无此社区"})
    assert bad_community.status_code == 400 and "无此社区" in bad_community.text


async def test_selectors_list_the_years_and_communities_in_the_data(ds, cookies, built_dir):
    conn = sqlite3.connect(datadir.community_db(built_dir))
    communities = [n for (n,) in conn.execute("SELECT name FROM communities ORDER BY name")]
    years = [y for (y,) in conn.execute(
        "SELECT DISTINCT substr(paid_on, 1, 4) FROM disbursements UNION "
        "SELECT DISTINCT substr(visited_on, 1, 4) FROM visits ORDER BY 1")]
    assert years == ["2012"] and YUEHUA in communities
    for url, cookie in ((STAFF_URL, cookies["staff"]), (PUBLIC_URL, {})):
        page = (await ds.client.get(url, cookies=cookie)).text
        # default: the latest year, all communities
        assert options(page, "dash-year") == [("", False)] + [(y, y == years[-1]) for y in years]
        assert options(page, "dash-community") == [("", True)] + [(c, False) for c in communities]
        assert "全部年份" in page and "全部社区" in page and "2012年" in page
        chosen = (await ds.client.get(url, params={"year": "2012", "community": YUEHUA},
                                      cookies=cookie)).text
        assert (YUEHUA, True) in options(chosen, "dash-community")
        assert "<title>" in chosen and f"2012年 · {YUEHUA}" in chosen


@pytest.mark.parametrize("database,role", [("community", "staff"), ("public", "anonymous")])
async def test_each_chart_reads_its_stored_query_json(ds, cookies, database, role):
    jar = cookies[role]
    page = await ds.client.get(f"/-/shequ/dashboard/{database}",
                               params={"year": "2012", "community": YUEHUA}, cookies=jar)
    wired = sections(page.text)
    assert [name for name, _ in wired] == QUERIES
    for name, src in wired:
        url = urlsplit(src)
        assert url.path == f"/{database}/{name}.json"
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if name in ("election_turnout", "committee_composition"):  # by term: all terms
            assert params == {"_shape": "array", "term": "", "community": YUEHUA}
        else:
            assert params == {"_shape": "array", "year": "2012", "community": YUEHUA}
        # the URL the browser will fetch answers with the rows the API gives anyone who asks
        fetched = await ds.client.get(src, cookies=jar)
        assert fetched.status_code == 200
        direct = await ds.client.get(f"/{database}/{name}.json", cookies=jar, params={
            "_shape": "array", "community": YUEHUA,
            **({"term": ""} if "term" in params else {"year": "2012"})})
        assert fetched.json() == direct.json() and isinstance(fetched.json(), list)
    # links to the stored query pages too, and a PNG button and table view per chart
    assert page.text.count('class="dash-png"') == 5 and page.text.count("表格视图") == 5
    assert f'href="/{database}/relief_by_month?year=2012&amp;community=' in page.text


async def test_all_years_and_communities_pass_blank_parameters(ds, cookies):
    page = await ds.client.get(STAFF_URL, params={"year": "", "community": ""}, cookies=cookies["staff"])
    src = dict(sections(page.text))
    assert src["relief_by_month"] == "/community/relief_by_month.json?_shape=array&year=&community="
    assert src["election_turnout"] == "/community/election_turnout.json?_shape=array&term=&community="


async def test_page_loads_vendored_echarts_and_no_inline_script(ds, cookies):
    page = (await ds.client.get(PUBLIC_URL)).text
    ours = '<script src="/shequ-static/shequ-dashboard.js" defer>'
    content = page.split('id="shequ-dashboard"', 1)[1].split(ours, 1)[0] + ours  # the template's part
    scripts = re.findall(r"<script[^>]*>", content)
    assert scripts == ['<script src="/shequ-static/echarts/echarts.min.js" defer>',
                       '<script src="/shequ-static/shequ-dashboard.js" defer>']
    assert not re.search(r'<script[^>]+src="(https?:)?//', page)  # no CDN
    echarts = await ds.client.get("/shequ-static/echarts/echarts.min.js")
    assert echarts.status_code == 200 and "Apache Software Foundation" in echarts.text[:2000]
    readme = (ROOT / "static" / "echarts" / "README.md").read_text(encoding="utf-8")
    version = re.search(r"echarts (\d+\.\d+\.\d+)", readme).group(1)
    assert f'"{version}"' in echarts.text
    assert f"Apache ECharts {version}" in page  # the credit line names the vendored version
    assert (ROOT / "static" / "echarts" / "LICENSE").exists()
    assert (await ds.client.get("/shequ-static/shequ-dashboard.js")).status_code == 200


async def test_menu_and_database_actions_link_the_dashboards(ds, cookies):
    anonymous = (await ds.client.get("/")).text
    assert 'href="/-/shequ/dashboard/public"' in anonymous and "公开数据概览" in anonymous
    assert STAFF_URL not in anonymous
    staff = (await ds.client.get("/", cookies=cookies["viewer"])).text
    assert f'href="{STAFF_URL}"' in staff and ">数据概览<" in staff
    community_page = (await ds.client.get("/community", cookies=cookies["viewer"])).text
    assert f'href="{STAFF_URL}"' in community_page
    public_page = (await ds.client.get("/public")).text
    assert 'href="/-/shequ/dashboard/public"' in public_page


async def test_public_only_server_has_no_staff_dashboard(built_dir):
    ds = make_datasette(built_dir, public_only=True)
    assert (await ds.client.get(STAFF_URL)).status_code == 404
    assert (await ds.client.get(PUBLIC_URL)).status_code == 200
    assert STAFF_URL not in (await ds.client.get("/")).text
