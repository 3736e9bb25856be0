"""In real Chromium: a teacher sees the course's assignments in the Formgrader panel of JupyterLab
(the iframe really renders under JupyterHub 6); a student sees the assignment list and no Formgrader.
Screenshots go to test-artifacts/nbgrader/.
"""
import csv
import os
import re

import pytest

from nbtools import UserShell, course_hub, jhub, write_assignment
from sandbox import REPO

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]
COURSE = "cours_prof_martin"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts" / "nbgrader"


@pytest.fixture(scope="module")
def hub():
    with course_hub() as running:
        jhub(running, "courses", "enrol", COURSE, "--class", "T NSI")
        teacher = UserShell(running, "prof.martin")
        write_assignment(running.sandbox, "prof.martin", COURSE, "ps1")
        teacher.run("nbgrader generate_assignment ps1", cwd=f"~/{COURSE}")
        teacher.run("nbgrader release_assignment ps1", cwd=f"~/{COURSE}")
        yield running


@pytest.fixture(scope="module")
def passwords(hub):
    with open(hub.sandbox.root / "roster.csv.creds", encoding="utf-8-sig") as f:
        return {row["login"]: row["password"] for row in csv.DictReader(f, delimiter=";")}


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    playwright_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login_and_spawn(browser, hub, login, password):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(hub.url + "/hub/login")
    page.fill("#username_input", login)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("load")
    if "/services/jhub-password/" in page.url:  # a pupil's first login: "Plus tard" (later)
        page.click("#jha-password-later")
    page.wait_for_url(re.compile(rf"/user/{re.escape(login)}/lab"), timeout=150_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    return context, page


def menu_items(page):
    page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
    page.wait_for_selector("#jp-mainmenu-nbgrader")
    labels = [t.strip() for t in page.locator("#jp-mainmenu-nbgrader .lm-Menu-itemLabel").all_inner_texts()]
    page.keyboard.press("Escape")
    return [label for label in labels if label]


def test_teacher_sees_assignments_in_formgrader(browser, hub, passwords):
    context, page = login_and_spawn(browser, hub, "prof.martin", passwords["prof.martin"])
    try:
        items = menu_items(page)
        assert {"Formgrader", "Create assignment", "Course List", "Assignment List"} <= set(items)
        page.goto(hub.url + "/user/prof.martin/lab?formgrader=true")
        page.wait_for_selector("#formgrader-iframe iframe", timeout=60_000)
        frame = page.frame_locator("#formgrader-iframe iframe")
        row = frame.locator("text=ps1").first
        row.wait_for(timeout=60_000)
        assert frame.locator("text=Manage Assignments").first.is_visible()
        page.screenshot(path=str(ARTIFACTS / "teacher-formgrader.png"))
        # Only the formgrader's pages may be framed, and only by the same origin.
        fg = page.request.get(hub.url + "/user/prof.martin/formgrader/manage_assignments")
        assert fg.status == 200 and "frame-ancestors 'self'" in fg.headers["content-security-policy"]
        lab = page.request.get(hub.url + "/user/prof.martin/lab")
        assert "frame-ancestors 'none'" in lab.headers["content-security-policy"]
    finally:
        context.close()


def test_student_sees_assignment_list_and_no_formgrader(browser, hub, passwords):
    context, page = login_and_spawn(browser, hub, "alice", passwords["alice"])
    try:
        items = menu_items(page)
        assert "Assignment List" in items
        assert "Formgrader" not in items and "Formgrader (local)" not in items and "Create assignment" not in items
        page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
        page.click("#jp-mainmenu-nbgrader .lm-Menu-item:has-text('Assignment List')")
        page.locator("#released_assignments_list").locator("text=ps1").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "student-assignments.png"))
        assert page.request.get(hub.url + "/user/alice/formgrader").status == 404
        page.goto(hub.url + "/user/alice/lab?formgrader=true")
        page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
        page.wait_for_timeout(2000)
        assert page.locator("#formgrader-iframe").count() == 0
        page.screenshot(path=str(ARTIFACTS / "student-no-formgrader.png"))
    finally:
        context.close()


def test_admin_courses_page(browser, hub):
    """The Courses page of the admin service, as an admin sees it (screenshot for the README)."""
    context = browser.new_context(viewport={"width": 1400, "height": 800}, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(hub.url + "/hub/login?next=/services/jhub-admin/courses")
        page.fill("#username_input", hub.env["JHUB_ADMIN_USER"])
        page.fill("#password_input", hub.admin_password)
        page.click("#login_submit")
        page.wait_for_url(re.compile(r"/services/jhub-admin/courses"), timeout=60_000)
        row = page.locator(f"#jha-course-{COURSE}")
        row.wait_for(timeout=30_000)
        assert "T NSI" in row.inner_text() and "prof.martin" in row.inner_text()
        # Enrol the other class from the page.
        row.locator("select[name=class]").select_option("1 NSI")
        row.locator("button[type=submit]:has-text('Inscrire')").click()
        page.wait_for_selector(f"#jha-course-{COURSE} .badge:has-text('1 NSI')", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "admin-courses.png"), full_page=True)
    finally:
        context.close()
