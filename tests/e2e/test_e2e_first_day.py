"""End-to-end, in a browser, in French: a school's first day on the built images. The hub is
reached by a name (lycee.test, mapped to 127.0.0.1 in the browser) on a port other than 8000:
the admin imports a class and prints slips that carry that address; a student logs in and works
in JupyterLab in French, opens the assignment list, changes their password; a disabled student is
told so. Screenshots go to docs/screenshots/."""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from browsertools import ARTIFACTS, SCREENSHOTS, chromium, log_in  # noqa: E402

ADMIN, ADMIN_PASSWORD = "direction", "Premier-Jour-2026"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN, "JHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
HOST = "lycee.test"
CLASS = ("identifiant;mot de passe;profil;classe;prénom;nom\n"
         "lea.martin;Lea-Passw0rd-24;élève;2nde 1;Léa;Martin\n"
         "noe.bernard;Noe-Passw0rd-24;élève;2nde 1;Noé;Bernard\n"
         "ines.petit;Ines-Passw0rd-24;élève;2nde 1;Inès;Petit\n")


@pytest.fixture(scope="module")
def browser(stack):
    assert stack.port != 8000
    with chromium(f"--host-resolver-rules=MAP {HOST} 127.0.0.1") as browser:
        yield browser


@pytest.fixture(scope="module")
def base(stack):
    return f"http://{HOST}:{stack.port}"


def new_page(browser):
    page = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 860}).new_page()
    page.set_default_timeout(120_000)
    return page


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / name))
    page.screenshot(path=str(SCREENSHOTS / name))


@pytest.fixture(scope="module")
def slips(browser, base):
    """The admin imports the class on the service's Import page; the slips page of that import."""
    page = new_page(browser)
    log_in(page, base, ADMIN, ADMIN_PASSWORD)
    # The admin's server, started by an earlier login, may be up already: the hub sends them there.
    page.wait_for_url(re.compile(r".*/(hub|user)/.*"))
    page.goto(base + "/hub/home")
    page.click("#jha-services-menu")
    page.click('[data-service="jhub-admin"]')
    page.wait_for_url("**/services/jhub-admin/")
    page.goto(base + "/services/jhub-admin/import")
    page.fill("#jha-text", CLASS)
    page.click("#jha-preview-button")
    page.wait_for_url("**/import/preview/**")
    page.click("#jha-apply-button")
    page.wait_for_url("**/jobs/**")
    page.locator("#jha-slips-link").wait_for()
    page.click("#jha-slips-link")
    page.locator(".jha-slip").first.wait_for()
    return page


def test_the_login_page_and_the_home_are_in_french(browser, base):
    page = new_page(browser)
    page.goto(base + "/hub/login")
    assert page.locator("h1").inner_text() == "Se connecter"
    assert page.locator("label[for=username_input]").inner_text() == "Identifiant\u00a0:"
    shot(page, "hub-login-fr.png")
    log_in(page, base, ADMIN, ADMIN_PASSWORD)
    page.wait_for_url(re.compile(r".*/(hub|user)/.*"))  # the hub's pages, or the server it started
    page.goto(base + "/hub/home")
    # The login started the admin's server: "My server" and "Stop my server", in French.
    assert page.locator("#start").inner_text().strip() in ("Mon serveur", "Démarrer mon serveur")
    assert page.locator("#stop").count() == 0 or page.locator("#stop").inner_text() == "Arrêter mon serveur"
    page.click("#jha-services-menu")
    assert page.locator('[data-service="jhub-admin"]').inner_text().strip() == "Administration"
    assert page.locator('[data-service="jhub-password"]').inner_text().strip() == "Changer mon mot de passe"
    shot(page, "hub-home-fr.png")


def test_slips_carry_the_address_the_browser_used(slips, base):
    page = slips
    assert page.locator("#jha-slip-address strong").inner_text() == base + "/"
    assert page.locator("#jha-slip-local").count() == 0
    assert page.locator(".jha-slip .jha-slip-address").first.inner_text() == base + "/"
    assert page.locator(".jha-slip").count() == 3
    shot(page, "slips-address.png")


def test_a_student_works_in_jupyterlab_in_french_and_opens_the_assignment_list(browser, base):
    page = new_page(browser)
    log_in(page, base, "lea.martin", "Lea-Passw0rd-24")
    page.wait_for_url("**/user/lea.martin/lab**")
    menubar = page.locator("#jp-menu-panel")
    menubar.get_by_text("Fichier", exact=True).wait_for()
    # wait_for, not is_visible(): the menus are drawn one by one, after the first
    menubar.get_by_text("Affichage", exact=True).wait_for()
    shot(page, "jupyterlab-fr.png")
    # The File menu offers to log out once, as the pupil sees it (issue 21, point 15).
    menubar.get_by_text("Fichier", exact=True).click()
    file_menu = page.locator("#jp-mainmenu-file")
    file_menu.wait_for()
    assert file_menu.inner_text().count("Se déconnecter") == 1, file_menu.inner_text()
    page.keyboard.press("Escape")
    # nbgrader in French too (courses/nbgrader_words); the whole lesson is test_e2e_teacher's.
    menubar.get_by_text("Nbgrader", exact=True).click()
    page.get_by_text("Liste des devoirs", exact=True).click()
    page.get_by_text("Devoirs distribués", exact=True).wait_for()
    shot(page, "assignment-list.png")
    # Notebook 7 reads the same defaults: French too.
    page.goto(base + "/user/lea.martin/tree")
    page.get_by_text("Fichier", exact=True).first.wait_for()
    page.get_by_text("Affichage", exact=True).first.wait_for()
    shot(page, "notebook7-fr.png")
    # The hub's home: "Arrêter mon serveur", then JupyterHub's script writes its button's new
    # words, in French (issue 21, point 12).
    page.goto(base + "/hub/home")
    page.click("#stop")
    page.locator("#stop").wait_for(state="hidden", timeout=60_000)
    start = page.locator("#start")
    start.filter(has_text="Démarrer mon serveur").wait_for()
    assert start.get_attribute("title") == "Démarrer votre serveur" and "Start" not in start.inner_text()


def test_a_student_changes_the_password_then_logs_in_with_it(browser, base):
    page = new_page(browser)
    log_in(page, base, "noe.bernard", "Noe-Passw0rd-24")
    page.wait_for_url("**/user/noe.bernard/**")
    page.goto(base + "/hub/home")
    page.click("#jha-services-menu")
    page.click('[data-service="jhub-password"]')
    page.wait_for_url("**/services/jhub-password/")
    page.fill("#jha-current", "Noe-Passw0rd-24")
    page.fill("#jha-new", "Soleil-et-pluie-24")
    page.fill("#jha-again", "Soleil-et-pluie-24")
    page.click("#jha-password-form button[type=submit]")
    page.locator("#jha-password-done").wait_for()
    shot(page, "password-changed.png")
    page.goto(base + "/hub/logout")
    other = new_page(browser)
    log_in(other, base, "noe.bernard", "Noe-Passw0rd-24")
    other.locator(".login_error").wait_for()
    log_in(other, base, "noe.bernard", "Soleil-et-pluie-24")
    other.wait_for_url("**/user/noe.bernard/**")


def test_a_disabled_student_is_told_so(stack, browser, base):
    stack.exec("hub", "jhub-admin", "accounts", "disable", "ines.petit")
    page = new_page(browser)
    log_in(page, base, "ines.petit", "Ines-Passw0rd-24")
    message = page.locator("#jha-login-disabled")
    message.wait_for()
    assert "Ce compte est désactivé" in message.inner_text()
    shot(page, "login-disabled.png")
