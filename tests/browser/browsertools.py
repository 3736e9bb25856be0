"""Paths and Chromium settings of the browser tests."""
import contextlib
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = REPO / "test-artifacts" / "browser"
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium(*extra_args: str):
    """Debian's Chromium driven by Playwright for Python; skips when either is missing (under
    CI=true the top-level conftest turns the skip into a failure)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def shot(page, name, full_page=False, docs=False):
    """A screenshot among the test's artifacts, and in docs/screenshots when the docs show it."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if docs:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")
    return path


def log_in(page, base: str, login: str, password: str) -> None:
    """The hub's login form, as a user fills it. A pupil with the initial password of their slip
    is asked for one of their own first: this pupil chooses "Plus tard" (later), and goes on."""
    page.goto(base + "/hub/login")
    page.fill("#username_input", login)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("load")
    if "/services/jhub-password/" in page.url and "first=1" in page.url:
        page.click("#jha-password-later")
