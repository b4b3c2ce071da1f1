"""上传台账 in real headless Chromium against `shequ serve`: an .xlsx with two bad rows is
previewed (both rows named, no confirm), cancelled (nothing written), fixed, previewed
clean and confirmed (rows in community.db, imported as the staff user)."""
from __future__ import annotations

import csv
import datetime
import shutil
import sqlite3

import openpyxl
import pytest

from .conftest import PASSWORD, SAMPLE_DIR
from .test_browser import ARTIFACTS, browser, pytestmark, served_copy  # noqa: F401 (fixture, marks)

DISB_HEADER = ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "金额(元)", "备注"]
NOTE = "浏览器上传测试"


@pytest.fixture(scope="module")
def served(built_dir, tmp_path_factory):
    """`shequ serve` on a private copy of the sample data: (base URL, data directory)."""
    yield from served_copy(built_dir, tmp_path_factory, "browser_upload")


def registry_people(n):
    with open(SAMPLE_DIR / "02_registry.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["社区"], r["户号"], r["姓名"], r["身份证号"]) for r in rows[10:10 + n]]


def write_ledger(path, people, amounts):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "发放"
    ws.append(DISB_HEADER)
    for (community, household, name, id_number), amount in zip(people, amounts):
        ws.append([datetime.date(2013, 6, 1), community, household, name, id_number,
                   "春节慰问", "现金", amount, NOTE])
    book.save(path)
    return path


def uploaded(data):
    conn = sqlite3.connect(data / "community.db")
    try:
        rows = conn.execute(
            "SELECT d.amount_yuan, a.actor, a.via FROM disbursements d JOIN audit_log a"
            " ON a.table_name = 'disbursements' AND a.row_id = d.id AND a.action = 'insert'"
            " WHERE d.note = ? ORDER BY d.id", [NOTE]).fetchall()
        imports = conn.execute("SELECT count(*) FROM imports").fetchone()[0]
        return rows, imports
    finally:
        conn.close()


def test_staff_uploads_a_ledger_fixes_it_and_imports_it(served, browser, tmp_path):  # noqa: F811
    base, data = served
    ARTIFACTS.mkdir(exist_ok=True)
    people = registry_people(4)
    right = people[3][3]
    bad_id = right[:-1] + ("0" if right[-1] != "0" else "1")
    bad_people = [*people[:3], (*people[3][:3], bad_id)]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{base}/-/login")
    page.fill("#username", "staff1")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/-/login" not in url)

    # the menu leads to the upload page
    page.goto(f"{base}/")
    page.click("details.nav-menu > summary")
    page.get_by_role("link", name="上传台账").click()
    page.wait_for_url(f"{base}/-/shequ/upload")
    assert page.locator("h1").inner_text() == "上传台账"
    before_rows, before_imports = uploaded(data)
    assert before_rows == []

    # two bad rows: a negative amount (line 3) and a wrong check character (line 5)
    ledger = write_ledger(tmp_path / "六月发放.xlsx", bad_people, [200, -5, 200, 200])
    page.set_input_files("#upload-files", str(ledger))
    page.click("input[type=submit][value=预览]")
    page.wait_for_selector("table.row-errors")
    cells = [[td.inner_text() for td in tr.locator("td").all()]
             for tr in page.locator("table.row-errors tbody tr").all()]
    assert cells == [["3", "金额(元)", "金额不能为负数"],
                     ["5", "身份证号", f"身份证号校验位错误（应为 {right[-1]}）"]]
    assert "有错误的文件不能导入：请修正后重新上传" in page.locator(".message-error").inner_text()
    assert "救助发放 六月发放.xlsx［发放］：有 2 行错误，整个文件不能导入" in page.content()
    assert page.locator("input[value=确认导入]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "upload_preview_errors.png"), full_page=True)

    page.click("input[type=submit][value=取消]")
    page.wait_for_url(f"{base}/-/shequ/upload")
    assert "已取消，未导入任何数据" in page.content()
    assert uploaded(data) == ([], before_imports)
    assert not any((data / "uploads").iterdir())

    # fixed: the preview is clean, 确认导入 writes the four rows as staff1
    ledger = write_ledger(tmp_path / "六月发放.xlsx", people, [200, 5, 200, 200])
    page.set_input_files("#upload-files", str(ledger))
    page.click("input[type=submit][value=预览]")
    page.wait_for_selector("input[value=确认导入]")
    assert "救助发放 六月发放.xlsx［发放］：将新增 4 行，更新 0 行，未变 0 行" in page.content()
    assert page.locator("table.row-errors").count() == 0
    assert uploaded(data) == ([], before_imports)

    page.click("input[value=确认导入]")
    page.wait_for_selector("text=导入完成")
    assert "救助发放 六月发放.xlsx［发放］：新增 4 行，更新 0 行，未变 0 行" in page.content()
    page.screenshot(path=str(ARTIFACTS / "upload_done.png"), full_page=True)
    rows, imports = uploaded(data)
    assert rows == [(200.0, "staff1", "上传台账"), (5.0, "staff1", "上传台账"),
                    (200.0, "staff1", "上传台账"), (200.0, "staff1", "上传台账")]
    assert imports == before_imports + 1
    assert not any((data / "uploads").iterdir())
    assert errors == []
