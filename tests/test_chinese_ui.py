"""Every page kind is Chinese: in-process crawl as each role, the dictionary's rules
still match the installed Datasette, labels, formatting and the translated JavaScript."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from ingest import zh

# English that may stay: formats and standards, the product's name in the footer, units,
# and words inside the project's own Chinese metadata (descriptions quote a file name,
# a date format and a column name; audit labels quote the stored action values).
ALLOWED = {
    "JSON", "CSV", "SQL", "SQLite", "API", "TSV", "NULL", "KB", "MB", "UTC", "SHA",
    "Excel", "xlsx", "UTF", "BOM",     # the Excel downloads (plugins/exports.py)
    "Datasette",                       # 由 Datasette 驱动 (footer)
    "YYYY", "MM", "publish", "yml",    # metadata: 格式 YYYY-MM, publish.yml
    "suppressed",                      # metadata: suppressed = 1 (a column name)
    "insert", "update", "delete",      # metadata: 操作（insert 新增、update 修改、delete 删除）
}
USERS = ("admin1", "staff1", "viewer1")
SKIP = {"script", "style", "pre", "code", "textarea", "td"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_.]*(：.*)?$")  # column/table names shown on hover


class VisibleText(HTMLParser):
    """Text a person reads: element text outside code and data cells, button captions,
    placeholders, ARIA labels; `title` tooltips except the identifiers shown on hover."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.texts = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if not any(t in SKIP for t in self.stack):
            for key in ("placeholder", "aria-label", "alt"):
                if a.get(key):
                    self.texts.append(a[key])
            if tag == "input" and a.get("type") in ("submit", "button", "reset") and a.get("value"):
                self.texts.append(a["value"])
            title = a.get("title")
            if title and not IDENTIFIER.match(title) and not title.startswith("Datasette v") \
                    and not title.lower().startswith("select ") and tag != "label":  # SQL
                self.texts.append(title)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if data.strip() and not any(t in SKIP for t in self.stack):
            self.texts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.texts


def english(texts) -> list[str]:
    found = []
    for text in texts:
        for user in USERS:
            text = text.replace(user, "")
        words = [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED]
        if words:
            found.append(f"{words}: {text[:120]}")
    return found


PAGES = [  # (role, path, status)
    ("anonymous", "/", 200),
    ("anonymous", "/public", 200),
    ("anonymous", "/public/relief_by_category_data?_facet=year&_facet=community&_size=5", 200),
    ("anonymous", "/public/relief_by_category_data?category__contains=慰问&_sort_desc=payments", 200),
    ("anonymous", "/public/relief_by_month_data?month__startswith=2012&year__isblank=1&_sort=month", 200),
    ("anonymous", "/public/committee_members?_facet=gender&_size=5", 200),
    ("anonymous", "/public/committee_members/1", 200),
    ("anonymous", "/public/relief_by_category?year=2012&community=", 200),
    ("anonymous", "/public/-/query?sql=select+1", 200),
    ("anonymous", "/public/-/query?sql=select+name,+category+from+programs", 200),
    ("anonymous", "/public/-/schema", 200),
    ("anonymous", "/public/-/queries", 200),
    ("anonymous", "/-/login", 200),
    ("anonymous", "/nope", 404),
    ("anonymous", "/public/nope", 404),
    ("anonymous", "/public/committee_members/99999", 404),
    ("viewer", "/community/audit_log", 403),
    ("viewer", "/community/-/query?sql=select+1", 403),
    ("viewer", "/community/persons?_size=5", 200),
    ("staff", "/", 200),
    ("staff", "/community", 200),
    ("staff", "/community/persons?_facet=gender&name__contains=陈&_size=5", 200),
    ("staff", "/community/persons?_size=5", 200),
    ("staff", "/community/persons?birth_date__gte=1950-01-01&gender=女&_sort_desc=birth_date", 200),
    ("staff", "/community/disbursements?_facet_date=paid_on&_facet=program_id&_size=5", 200),
    ("staff", "/community/persons/1", 200),
    ("staff", "/community/disbursements/1", 200),
    ("staff", "/community/relief_by_category?year=2012", 200),
    ("staff", "/community/coverage?year=2012&community=", 200),
    ("staff", "/community/stop_dibao", 200),
    ("staff", "/community/-/queries", 200),
    ("staff", "/community/-/schema", 200),
    ("staff", "/community/nope", 404),
    ("staff", "/community/persons/99999", 404),
    ("admin", "/community/-/query?sql=select+1", 200),
    ("admin", "/community/-/query?sql=select+id,+name,+category+from+programs", 200),
    ("admin", "/community/persons?_size=3", 200),
    ("admin", "/community/visits/1", 200),
]


@pytest.mark.parametrize("role,path,status", PAGES)
async def test_page_is_chinese(ds, cookies, role, path, status):
    response = await ds.client.get(path, cookies=cookies[role])
    assert response.status_code == status, path
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert english(visible_text(html)) == []


def test_every_rule_matches_the_installed_datasette():
    assert zh.missing_rules() == {}


async def test_column_headers_show_labels_with_the_name_on_hover(ds, cookies):
    html = (await ds.client.get("/community/persons?_size=3", cookies=cookies["staff"])).text
    th = re.search(r'<th [^>]*data-column="name"[^>]*>(.*?)</th>', html, re.S)
    assert 'title="name"' in th.group(0)
    assert re.sub(r"<[^>]+>", "", th.group(1)).strip().startswith("姓名")
    assert 'href="/community/persons?_size=3&amp;_sort=name"' in th.group(1)  # sorting still works
    html = (await ds.client.get("/community/relief_by_category?year=2012", cookies=cookies["staff"])).text
    assert '<th class="col-total_yuan" scope="col" title="total_yuan">金额合计（元）</th>' in html
    html = (await ds.client.get("/public/relief_by_category_data?_size=3")).text
    assert re.search(r'<th [^>]*title="payments"[^>]*>\s*<a [^>]*>发放笔数</a>', html)


async def test_filters_facets_and_summary_in_words(ds, cookies):
    html = (await ds.client.get(
        "/community/persons?_facet=gender&name__contains=陈&_sort_desc=birth_date",
        cookies=cookies["staff"])).text
    assert "姓名包含“陈”；按出生日期降序排列" in html
    assert '<strong title="gender">性别' in html
    assert '<option value="name" selected>姓名</option>' in html
    assert ">包含</option>" in html and ">按出生日期排序</option>" in html
    html = (await ds.client.get("/community/disbursements?paid_on=2012-01-23",
                                cookies=cookies["staff"])).text
    assert "发放日期为2012年1月23日" in html


async def test_money_and_dates(ds, cookies):
    html = (await ds.client.get("/community/relief_by_category?year=2012", cookies=cookies["staff"])).text
    assert '<span class="yuan">¥18,940.00</span>' in html
    assert zh.yuan(18940) == "¥18,940.00"
    assert zh.yuan("1200.5") == "¥1,200.50" and zh.yuan(-12.5) == "-¥12.50" and zh.yuan(None) == ""
    assert zh.date_prose("2012-01-23") == "2012年1月23日"
    assert zh.date_prose("2012-10") == "2012年10月"
    assert zh.date_prose("2012-01-23T09:05:00") == "2012年1月23日 09:05"
    assert zh.date_prose("第8届") == "第8届"


def test_runtime_phrases_leave_data_and_chinese_alone():
    assert zh.t("Edit row 71 陈宸") == "编辑此行 71 陈宸"
    assert zh.t("Forbidden") == "没有权限"
    assert zh.t("登记发放") == "登记发放"
    assert zh.t("Some value from the data") == "Some value from the data"
    assert zh.error_title(None, 404) == "找不到页面"
    assert zh.describe([("amount_yuan", "gt", "100"), ("id", "exact", "3")], lambda c: c) \
        == "amount_yuan > 100，id = 3"


async def test_error_pages(ds, cookies):
    response = await ds.client.get("/community/persons/99999", cookies=cookies["staff"])
    assert "<h1>找不到页面</h1>" in response.text and "没有这条记录" in response.text
    response = await ds.client.get("/community/audit_log", cookies=cookies["viewer"])
    assert "<h1>没有权限</h1>" in response.text and "您没有权限查看这张表" in response.text


async def test_javascript_is_served_in_chinese(ds):
    response = await ds.client.get("/-/static/table.js")
    assert response.status_code == 200
    assert "升序排列" in response.text and "Sort ascending" not in response.text
    assert response.headers["content-type"].startswith("text/javascript")
    assert int(response.headers["content-length"]) == len(response.content)
    etag = response.headers["etag"]
    again = await ds.client.get("/-/static/table.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    edit = (await ds.client.get("/-/static/edit-tools.js")).text
    assert "新增一行" in edit and '"Edit row",\n    state.currentPkPath' not in edit
    assert (await ds.client.get("/-/static/nope.js")).status_code == 404


async def test_jump_menu_names_are_chinese_and_searchable(ds, cookies):
    data = (await ds.client.get("/-/jump?q=居民", cookies=cookies["staff"])).json()
    names = [m["name"] for m in data["matches"]]
    assert names[0] == "居民（社区民政工作库）"
    assert data["matches"][0]["url"] == "/community/persons"
    english_search = (await ds.client.get("/-/jump?q=persons", cookies=cookies["staff"])).json()
    assert "居民（社区民政工作库）" in [m["name"] for m in english_search["matches"]]
    anonymous = (await ds.client.get("/-/jump?q=")).json()
    assert all("社区民政工作库" not in m["name"] for m in anonymous["matches"])
    assert any(m["name"] == "社区民政公开数据" for m in anonymous["matches"])


async def test_column_labels_reach_the_javascript(ds, cookies):
    html = (await ds.client.get("/community/persons?_size=3", cookies=cookies["staff"])).text
    labels = json.loads(re.search(r"window._shequColumnLabels = (\{.*?\});", html).group(1))
    assert labels["name"] == "姓名"


async def test_project_templates_are_left_alone(ds):
    html = (await ds.client.get("/-/login")).text
    assert "<h1>工作人员登录</h1>" in html
