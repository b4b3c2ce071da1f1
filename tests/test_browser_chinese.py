"""A real Chromium crawl of every page kind, as the public, as staff and as an admin:
after the JavaScript has run and with the menus and dialogs open, nothing a person reads
is English (outside data cells, code and an allow-list of formats)."""
from __future__ import annotations

import re

import pytest

from .conftest import PASSWORD
from .test_browser import ARTIFACTS, browser, pytestmark, served_copy  # noqa: F401 (fixture, marks)
from .test_chinese_ui import ALLOWED, USERS

ALLOWED_HERE = ALLOWED | {"Esc"}  # the key's name in the jump menu's hints

# What a person reads: rendered text, button captions, placeholders, ARIA labels and the
# options of visible menus - not data cells (td), code, SQL editors or URLs.
VISIBLE_TEXT = """() => {
  const SKIP = new Set(["TD", "PRE", "CODE", "TEXTAREA", "SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const out = [];
  const shown = (el) => !el.checkVisibility || el.checkVisibility({visibilityProperty: true});
  const walk = (node) => {
    if (node.nodeType === 3) {
      const text = node.textContent.trim();
      if (text) out.push(text);
      return;
    }
    if (node.nodeType !== 1 || SKIP.has(node.tagName)) return;
    if (Element.prototype.matches.call(node, ".cm-editor, .result-url") || !shown(node)) return;
    for (const name of ["placeholder", "aria-label", "alt"]) {
      const value = node.getAttribute(name);
      if (value) out.push(value);
    }
    if (node.tagName === "INPUT" && ["submit", "button", "reset"].includes(node.type) && node.value) {
      out.push(node.value);
    }
    if (node.tagName === "SELECT") {
      for (const option of node.options) out.push(option.textContent.trim());
      return;
    }
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return out;
}"""


def english_on(page) -> list[str]:
    found = []
    for text in page.evaluate(VISIBLE_TEXT):
        for user in USERS:
            text = text.replace(user, "")
        words = [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_HERE]
        if words:
            found.append(f"{page.url} {words}: {text[:100]}")
    return found


@pytest.fixture(scope="module")
def server(built_dir, tmp_path_factory):
    for base, _ in served_copy(built_dir, tmp_path_factory, "browser_chinese"):
        yield base


class Crawl:
    """One visitor's session: visit pages, open menus and dialogs, collect English."""

    def __init__(self, browser, base):
        self.base, self.english, self.errors = base, [], []
        self.context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(f"{self.page.url}: {e}"))

    def check(self):
        self.english += english_on(self.page)

    def visit(self, path, status=200):
        response = self.page.goto(self.base + path)
        assert response.status == status, path
        assert self.page.locator("html").get_attribute("lang") == "zh-CN"
        self.page.wait_for_load_state("load")
        self.check()

    def login(self, username):
        self.page.goto(f"{self.base}/-/login")
        self.check()
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("input[type=submit]")
        self.page.wait_for_url(f"{self.base}/")

    def open_column_menu(self, column):
        self.page.click(f"th.col-{column} .dropdown-menu-icon")
        self.page.locator(".dropdown-menu:visible .dropdown-actions a").first.wait_for()
        self.check()
        self.page.click("h1")  # click outside: the menu closes

    def open_action_menu(self):
        self.page.click(".page-action-menu summary")
        self.page.locator(".page-action-menu [role=menuitem]").first.wait_for()
        self.check()

    def open_column_chooser(self):
        self.open_column_menu_item("选择显示的列")
        self.page.locator("column-chooser dialog[open]").wait_for()
        self.check()
        self.page.click("column-chooser dialog[open] .modal-btn-ghost")

    def open_column_menu_item(self, text):
        self.page.click("th .dropdown-menu-icon >> nth=1")
        self.page.click(f".dropdown-menu:visible >> text={text}")

    def jump(self, words):
        self.page.keyboard.press("/")
        self.page.locator("navigation-search dialog[open]").wait_for()
        self.check()
        self.page.keyboard.type(words)
        self.page.locator("navigation-search .result-item").first.wait_for()
        self.check()
        self.page.keyboard.press("Escape")

    def done(self):
        self.context.close()
        assert self.errors == []
        assert self.english == []


def test_public_pages_are_chinese(server, browser):
    crawl = Crawl(browser, server)
    crawl.visit("/")
    crawl.page.click("details.nav-menu summary")
    crawl.check()
    crawl.page.click("h1")
    crawl.visit("/public")
    crawl.visit("/public/relief_by_category_data?_facet=year&category__contains=慰问&_size=5")
    crawl.open_column_menu("payments")
    crawl.open_column_chooser()
    crawl.visit("/public/committee_members?_facet=gender&_size=5&_sort_desc=term")
    crawl.page.click("text=下一页")
    crawl.check()
    crawl.visit("/public/committee_members/1")
    crawl.visit("/public/relief_by_category?year=2012&community=")
    crawl.visit("/public/-/query?sql=select+name,+category+from+programs")
    crawl.visit("/public/-/queries")
    crawl.visit("/public/-/schema")
    crawl.jump("救助")
    crawl.visit("/public/nope", status=404)
    crawl.visit("/-/login")
    crawl.done()


def test_staff_pages_menus_and_dialogs_are_chinese(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    crawl = Crawl(browser, server)
    page = crawl.page
    crawl.login("staff1")
    crawl.visit("/")
    page.click("details.nav-menu summary")                    # the main menu
    page.locator(".nav-menu-inner a").first.wait_for()
    crawl.check()
    page.click("h1")
    crawl.visit("/community")
    crawl.visit("/community/persons?_facet=gender&name__contains=陈&_size=5")
    th = page.locator('th[data-column="name"]')
    assert th.get_attribute("title") == "name" and th.inner_text().startswith("姓名")
    page.screenshot(path=str(ARTIFACTS / "zh_table.png"), full_page=True)
    crawl.open_column_menu("gender")
    crawl.open_action_menu()
    page.click("h1")
    crawl.open_column_chooser()

    page.click("button.table-insert-row")                     # Datasette's insert dialog
    page.locator("dialog[open].row-edit-dialog .row-edit-field").first.wait_for()
    crawl.check()
    page.click("dialog[open] .row-edit-bulk-insert")
    crawl.check()
    page.fill("#row-edit-bulk-textarea", "name\tgender\n测试\t男\n")
    page.click("dialog[open] .row-edit-save")                 # preview only, nothing written
    page.locator(".row-edit-bulk-preview-table").wait_for()
    crawl.check()
    page.click("dialog[open] .row-edit-cancel")               # back
    page.fill("#row-edit-bulk-textarea", "")
    page.click("dialog[open] .row-edit-single-insert")
    page.click("dialog[open] .row-edit-cancel")

    crawl.visit("/community/persons/1")
    page.screenshot(path=str(ARTIFACTS / "zh_row.png"), full_page=True)
    crawl.open_action_menu()
    page.click('.page-action-menu [data-row-action="edit"]')  # Datasette's edit dialog
    page.locator("dialog[open].row-edit-dialog .row-edit-field").first.wait_for()
    crawl.check()
    page.click("dialog[open] .row-edit-cancel")

    crawl.visit("/community/persons?_size=3")                  # save an edit: the status line
    page.click("button.row-inline-action-edit >> nth=0")
    page.locator("dialog[open] input[name=note]").fill("界面测试")
    page.click("dialog[open] .row-edit-save")
    assert page.locator(".row-mutation-status").inner_text() == "已保存对 1 的修改。"
    crawl.check()

    crawl.visit("/community/relief_by_category?year=2012")
    assert "¥18,940.00" in page.locator("table").inner_text()
    page.screenshot(path=str(ARTIFACTS / "zh_query.png"), full_page=True)
    crawl.visit("/community/stop_dibao")
    crawl.visit("/community/-/queries")
    crawl.visit("/community/disbursements?_facet_date=paid_on&_size=5")
    crawl.jump("居民")
    crawl.visit("/community/persons/99999", status=404)

    page.set_viewport_size({"width": 400, "height": 800})     # the phone layout
    crawl.visit("/community/persons?_size=3")
    page.click("button.column-actions-mobile")
    page.click("dialog[open] .col-header >> nth=1")
    crawl.check()
    crawl.done()


def test_admin_sql_and_delete_are_chinese(server, browser):
    crawl = Crawl(browser, server)
    page = crawl.page
    crawl.login("admin1")
    crawl.visit("/community/-/query?sql=select+1")
    crawl.visit("/community/visits?_size=3")
    page.click("button.row-inline-action-delete >> nth=0")    # Datasette's delete dialog
    page.locator("dialog[open].row-delete-dialog").wait_for()
    crawl.check()
    page.click("dialog[open] .row-delete-cancel")
    crawl.done()
