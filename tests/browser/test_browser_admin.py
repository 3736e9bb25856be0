"""The admin service in real Chromium (Playwright): from the hub's Services menu to a student's
first login with a password from the credentials file."""
import csv
import io
import re
import shutil

import pytest

from browsertools import ARTIFACTS, SCREENSHOTS

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect
from servicetools import ADMIN, ADMIN_PASSWORD, TEACHER, TEACHER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]
VIEWPORT = {"width": 1280, "height": 860}


def shot(page, name, full_page=False, docs=False):
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if docs:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")
    return path


def hub_login(page, hub, username, password):
    page.goto(hub.url + "/hub/login?next=%2Fhub%2Fhome")
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/hub/home$"))


def test_admin_imports_from_the_services_menu(running, browser, rosters):
    box, hub = running
    context = browser.new_context(locale="fr-FR", accept_downloads=True, viewport=VIEWPORT)
    page = context.new_page()
    hub_login(page, hub, ADMIN, ADMIN_PASSWORD)

    # The hub's own Services menu leads to the service
    page.click("a.dropdown-toggle:has-text('Services')")
    entry = page.locator("a.dropdown-item", has_text="Administration")  # not the service's name
    expect(entry).to_be_visible()
    shot(page, "hub-services-menu")
    entry.click()
    page.wait_for_url(re.compile(r".*/services/jhub-admin/$"))
    expect(page.locator("h1")).to_have_text("Administration du serveur")
    expect(page.locator(".jha-warning")).to_contain_text("mot de passe initial")  # the first admin's
    shot(page, "dashboard", docs=True)

    # Import: upload, preview
    page.click("#jha-nav >> text=Importer")
    page.set_input_files("#jha-file", str(rosters / "siecle-eleves-par-division.csv"))
    page.click("#jha-preview-button")
    expect(page.locator("#jha-format")).to_have_text("export SIECLE")
    expect(page.locator("#jha-encoding")).to_contain_text("1252")
    expect(page.locator("#jha-count-create")).to_contain_text("10")
    expect(page.locator("#jha-create")).to_contain_text("lea.dupont2")
    shot(page, "import-preview", full_page=True, docs=True)

    # Apply: live progress up to 100 %
    page.click("#jha-apply-button")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-z-]+$"))
    seen = set()
    bar = page.locator("#jha-progress-bar")
    for _ in range(200):
        seen.add(bar.inner_text())
        if "100 %" in seen:
            break
        page.wait_for_timeout(50)
    expect(bar).to_have_text("100 %", timeout=30000)
    expect(page.locator("#jha-job-result")).to_contain_text("10 nouveaux mots de passe")
    shot(page, "import-done", full_page=True)

    # The credentials file
    with page.expect_download() as download:
        page.click("#jha-credentials-link")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    # A French session: the columns are French, the ones an import reads back.
    assert len(rows) == 10 and {r["identifiant"] for r in rows} >= {"lea.dupont", "zoe.obrien"}

    # The slips: grouped by class, printable on A4
    page.click("#jha-slips-link")
    expect(page.locator(".jha-slip")).to_have_count(10)
    for row in rows:
        slip = page.locator(".jha-slip").filter(has=page.get_by_text(row["identifiant"], exact=True))
        expect(slip.locator(".jha-slip-password")).to_have_text(row["mot de passe"])
    shot(page, "slips", full_page=True, docs=True)
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "slips.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 3  # one page per class (1G2, 2nde3, 2nde4)

    # The other pages
    for nav, name, docs in (("Comptes", "accounts", True), ("Serveurs", "servers", False),
                            ("Exportations", "exports", False), ("Fiches", "slips-list", False)):
        page.click(f"#jha-nav >> text={nav}")
        expect(page.locator("h1")).to_be_visible()
        shot(page, name, docs=docs)
    page.click("#jha-nav >> text=Comptes")
    page.select_option("#jha-class", "2nde4")
    page.click("#jha-accounts-filter button[type=submit]")
    expect(page.locator("#jha-accounts tbody tr")).to_have_count(4)
    page.click("#jha-accounts >> text=jerome.muller")
    expect(page.locator("h1")).to_contain_text("jerome.muller")
    shot(page, "account")
    context.close()

    # A new student logs in on the hub with a password from the credentials file
    student = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    spage = student.new_page()
    hub_login(spage, hub, rows[0]["identifiant"], rows[0]["mot de passe"])
    expect(spage.locator("a.dropdown-item", has_text="jhub-admin")).to_have_count(0)
    shot(spage, "student-home")
    student.close()


def test_the_close_of_the_year_previewed_in_french(running, browser):
    """A class marked as leaving from the Accounts page, then the School year page's preview of the
    close: what it archives, who leaves, which classes end; a year typed wrong does nothing."""
    _, hub = running
    context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    page = context.new_page()
    hub_login(page, hub, ADMIN, ADMIN_PASSWORD)
    page.goto(hub.url + "/services/jhub-admin/accounts?class=2nde4")
    expect(page.locator("#jha-accounts tbody tr")).to_have_count(4)
    page.click("#jha-tick-all")
    page.click("#jha-bulk-leave")
    page.click("#jha-nav >> text=Année scolaire")
    expect(page.locator("#jha-leaving h2")).to_contain_text("(4)")
    page.click("#jha-close-preview")
    expect(page.locator("h1")).to_have_text(re.compile(r"Clôturer l'année scolaire \d{4}-\d{4}"))
    expect(page.locator("#jha-close-export")).to_contain_text("Un export vérifié de tout")
    leavers = page.locator("#jha-close-leavers")
    expect(leavers).to_contain_text("4 partant(s) supprimé(s)")
    expect(leavers.locator("tbody tr")).to_have_count(4)
    expect(leavers).to_contain_text("jerome.muller")
    expect(page.locator("#jha-close-classes")).to_contain_text("2nde4")
    expect(page.locator("#jha-close-disk")).to_contain_text("libres")
    shot(page, "year-close-preview", full_page=True, docs=True)
    page.fill("#jha-close-confirm", "2020-2021")
    page.click("#jha-close-form button[type=submit]")
    expect(page.locator("#jha-flash")).to_contain_text("Retapez l'année scolaire")
    page.click("#jha-nav >> text=Comptes")
    expect(page.locator("#jha-accounts")).to_contain_text("jerome.muller")  # nothing was done
    context.close()


def test_non_admin_does_not_see_the_service(running, browser):
    _, hub = running
    context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    page = context.new_page()
    hub_login(page, hub, TEACHER, TEACHER_PASSWORD)
    assert page.locator("a.dropdown-item", has_text="jhub-admin").count() == 0
    assert "jhub-admin" not in page.content()
    response = page.goto(hub.url + "/services/jhub-admin/")
    assert response.status == 403
    shot(page, "teacher-refused")
    context.close()


def test_english_dashboard(running, browser):
    _, hub = running
    context = browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = context.new_page()
    hub_login(page, hub, ADMIN, ADMIN_PASSWORD)
    page.goto(hub.url + "/services/jhub-admin/")
    expect(page.locator("h1")).to_have_text("Server administration")
    shot(page, "dashboard-en")
    context.close()
