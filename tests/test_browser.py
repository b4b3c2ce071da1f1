"""User journeys in real headless Chromium against `shequ serve` on loopback."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import PASSWORD
from .test_cli import _free_port, _serve, _wait_for

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="Debian chromium not installed (CI installs it)"),
]


def served_copy(built_dir, tmp_path_factory, name):
    """`shequ serve` on a private copy of the built data: yields (base URL, data dir)."""
    data = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(built_dir, data)
    port = _free_port()
    proc = _serve(data, port)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/-/login")
        yield base, data
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def login(page, server, username, password=PASSWORD):
    """Log in through the real form and wait for the home page."""
    page.goto(f"{server}/-/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/")


@pytest.fixture(scope="module")
def server(built_dir, tmp_path_factory):
    for base, _ in served_copy(built_dir, tmp_path_factory, "browser"):
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def test_staff_logs_in_and_sees_the_year_end_figure(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/community/relief_by_category?year=2012")
    assert page.url.startswith(f"{server}/-/login?next=")
    assert page.locator("h1").inner_text() == "工作人员登录"
    page.fill("#username", "staff1")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/community/relief_by_category?year=2012")
    assert "18,940.00" in page.locator("table").inner_text()
    page.screenshot(path=str(ARTIFACTS / "relief_by_category_2012.png"), full_page=True)
    assert errors == []


def test_wrong_password_stays_on_login(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/-/login")
    page.fill("#username", "staff1")
    page.fill("#password", "wrong-password")
    page.click("input[type=submit]")
    assert "用户名或密码错误" in page.locator(".message-error").inner_text()
    page.goto(f"{server}/community/persons")
    assert "/-/login" in page.url
