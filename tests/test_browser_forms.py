"""Journey: staff record a payment through the form, find the person by typing two
characters, then see it on the person's page, in relief_by_category and in the audit."""
from __future__ import annotations


import pytest

from .test_browser import ARTIFACTS, browser, login, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser



def test_staff_records_a_disbursement_through_the_form(server, browser):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, server, "staff1")
    page.click("details.nav-menu summary")
    page.click("nav .nav-menu-inner a:text('登记发放')")
    page.wait_for_url(f"{server}/-/shequ/form/disbursement")
    page.fill("#person-query", "世海")
    page.click("button.person-option:has-text('陈世海')")
    assert page.locator(".person-selected").inner_text().startswith("已选：陈世海（")
    page.fill("input[name='发放日期']", "2012-12-20")
    page.select_option("select[name='项目']", "春节慰问")
    page.select_option("select[name='方式']", "现金")
    page.fill("input[name='金额(元)']", "1200.50")
    page.fill("input[name='经办人']", "张娟")
    page.screenshot(path=str(ARTIFACTS / "form_disbursement.png"), full_page=True)
    page.click("input[type=submit][value='保存']")
    page.wait_for_url("**/community/persons/*")
    payments = page.locator("table.person-payments").inner_text()
    assert "2012-12-20" in payments and "春节慰问" in payments and "1,200.50" in payments
    page.screenshot(path=str(ARTIFACTS / "person_after_payment.png"), full_page=True)

    page.goto(f"{server}/community/relief_by_category?year=2012")
    assert "20,140.50" in page.locator("table").inner_text()  # 18,940.00 + 1,200.50

    page.goto(f"{server}/community/disbursements?_sort_desc=id")
    page.locator("table.rows-and-columns tbody tr").first.locator("td").first.locator("a").click()
    page.click("details.actions-menu-links summary")
    page.click("a:text('修改记录')")
    page.wait_for_url("**/-/shequ/history/disbursements/*")
    entry = page.locator(".audit-entry").first
    assert "新增" in entry.locator("h2").inner_text() and "staff1" in entry.locator("h2").inner_text()
    assert "经由表单" in entry.locator("h2").inner_text()
    changes = entry.locator("table").inner_text()
    assert "金额（元）\t—\t1200.5" in changes and "经办人\t—\t张娟" in changes
    page.screenshot(path=str(ARTIFACTS / "audit_history.png"), full_page=True)
    assert errors == []


def test_refusal_is_shown_at_the_field(server, browser):  # noqa: F811
    page = browser.new_page()
    login(page, server, "staff1")
    page.goto(f"{server}/-/shequ/form/visit")
    page.fill("#person-query", "陈宸")
    page.click("button.person-option:has-text('陈宸')")
    page.fill("input[name='走访日期']", "2099-01-01")
    page.click("input[type=submit][value='保存']")
    assert page.locator(".field[data-field='走访日期'] .field-error").inner_text() == "走访日期：日期晚于今天"
    page.screenshot(path=str(ARTIFACTS / "form_refusal.png"), full_page=True)
