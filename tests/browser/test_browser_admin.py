"""The admin service in real Chromium (Playwright): from the hub's Services menu to a student's
first login with a password from the credentials file."""
import csv
import io
import re

import pytest

from browsertools import ARTIFACTS, shot

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect
from servicetools import ADMIN, ADMIN_PASSWORD, TEACHER, TEACHER_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]
VIEWPORT = {"width": 1280, "height": 860}


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

    # A new student logs in on the hub with a password from the credentials file, and is asked
    # for a password of their own first (issue 21, point 9).
    student = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    spage = student.new_page()
    spage.goto(hub.url + "/hub/login?next=%2Fhub%2Fhome")
    spage.fill("#username_input", rows[0]["identifiant"])
    spage.fill("#password_input", rows[0]["mot de passe"])
    spage.click("#login_submit")
    spage.wait_for_url(re.compile(r".*/services/jhub-password/\?first=1&next=%2Fhub%2Fhome$"))
    expect(spage.locator("h1")).to_have_text("Choisissez votre mot de passe")
    spage.fill("#jha-current", rows[0]["mot de passe"])
    spage.fill("#jha-new", "Un-secret-bien-a-moi")
    spage.fill("#jha-again", "Un-secret-bien-a-moi")
    shot(spage, "first-login-password", docs=True)
    spage.click("#jha-password-submit")
    expect(spage.locator("#jha-password-done")).to_be_visible()
    spage.click("#jha-password-continue")
    spage.wait_for_url(re.compile(r".*/hub/home$"))
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
    expect(leavers).to_contain_text("4 partants supprimés")
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

    # The same preview with the next year's lists (two files chosen at once): one step.
    page.click("#jha-nav >> text=Année scolaire")
    page.click("#jha-close-preview")
    page.set_input_files("#jha-next-lists", [
        {"name": "eleves.csv", "mimeType": "text/csv",
         "buffer": "login;password;role;class\njerome.muller;;student;1ERE4\nnina.petit;Nina-Passw0rd-42;student;2NDE1\n"
                   .encode()},
        {"name": "profs.csv", "mimeType": "text/csv", "buffer": b"paul.nouveau;Paul-Passw0rd-42;1\n"}])
    page.click("#jha-next-lists-form button[type=submit]")
    expect(page.locator("#jha-next-lists-name")).to_contain_text("eleves.csv, profs.csv")
    opens = page.locator("#jha-close-open")
    expect(opens).to_contain_text("L'année suivante s'ouvre")
    expect(opens).to_contain_text("2 nouveaux comptes")
    expect(opens).to_contain_text("nina.petit")
    # Marked as leaving, jerome.muller leaves though the lists name him.
    expect(page.locator("#jha-close-leavers")).to_contain_text("ceux que les nouvelles listes ne nomment pas")
    expect(page.locator("#jha-close-leavers")).to_contain_text("jerome.muller")
    expect(page.locator("#jha-close-form button[type=submit]")).to_have_text("Clôturer l'année et ouvrir la suivante")
    shot(page, "year-close-and-open-preview", full_page=True, docs=True)
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


NAMESAKES = """Nom;Prénom;Date de naissance;Classe;Profil
MARTIN;Léa;11/03/2009;2nde 3;élève
MARTIN;Léa;02/10/2009;2nde 3;élève
DUPONT;Hugo;05/06/2009;2nde 3;élève
DE LA FONTAINE-BERENGER;Marie-Christine;;;enseignant
"""
LONG_ADDRESS = "https://jupyter.lycee-polyvalent-jean-baptiste-de-la-salle.fr/"


def test_slips_of_namesakes_and_a_teacher_print_whole_and_apart(running, browser, tmp_path):
    """Issue 21, points 5 to 8, printed by Chromium: the teacher's slip on a page of its own marked
    with the role, the two Léa Martin told apart by their birth dates (and nobody else's printed),
    no login, password or address broken, the steps in French."""
    _, hub = running
    roster = tmp_path / "namesakes.csv"
    roster.write_text(NAMESAKES, encoding="utf-8")
    context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    page = context.new_page()
    hub_login(page, hub, ADMIN, ADMIN_PASSWORD)
    page.goto(hub.url + "/services/jhub-admin/settings")
    page.fill("#jha-public-url", LONG_ADDRESS)
    page.click("#jha-settings-form button[type=submit], form button[type=submit] >> nth=0")
    try:
        page.goto(hub.url + "/services/jhub-admin/import")
        page.set_input_files("#jha-file", str(roster))
        page.click("#jha-preview-button")
        expect(page.locator("#jha-count-create")).to_contain_text("4")
        page.click("#jha-apply-button")
        expect(page.locator("#jha-progress-bar")).to_have_text("100 %", timeout=30000)
        page.click("#jha-slips-link")
        teacher = "marie-christine.de-la-fontaine-b"  # 32 characters, the longest login there is
        expect(page.locator(".jha-slip")).to_have_count(4)
        expect(page.locator(f".jha-sheet-teacher .jha-slip[data-login='{teacher}'] .jha-slip-role")).to_have_text(
            "Enseignant")
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 733, "height": 1100})  # A4's 194 mm between 8 mm margins, at 96 dpi
        # Each value on one line, inside its slip.
        overflowing = page.evaluate("""() => [...document.querySelectorAll('.jha-slip .jha-value')].filter(v => {
            const slip = v.closest('.jha-slip').getBoundingClientRect(), r = v.getBoundingClientRect();
            const lines = v.classList.contains('jha-slip-address') ? 2 : 1;
            return r.right > slip.right || r.height > lines * parseFloat(getComputedStyle(v).lineHeight) + 1;
        }).map(v => v.textContent)""")
        assert overflowing == []
        shot(page, "slips-namesakes", full_page=True, docs=True)
        pdf = page.pdf(format="A4", print_background=True)
        (ARTIFACTS / "slips-namesakes.pdf").write_bytes(pdf)
    finally:
        page.emulate_media(media="screen")
        page.goto(hub.url + "/services/jhub-admin/settings")
        page.fill("#jha-public-url", "")
        page.click("form button[type=submit] >> nth=0")
        context.close()

    from pypdf import PdfReader
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
    pupils = ("lea.martin", "lea.martin2", "hugo.dupont")
    assert len(pages) == 2, pages  # the class, then the teachers
    assert all(login in pages[0] for login in pupils) and teacher not in pages[0]
    assert teacher in pages[1] and not any(f"{login}\n" in pages[1] for login in pupils)
    assert "ENSEIGNANT" in pages[1].upper() and "Fiches des enseignants" in pages[1]
    assert "FONTAINE-BERENGER" in pages[1]  # a name is not broken at its hyphen either
    # The namesakes, told apart; a birth date is printed only where it is needed.
    assert pages[0].count("Homonyme") == 2 and "11/03/2009" in pages[0] and "02/10/2009" in pages[0]
    assert "05/06/2009" not in pages[0]
    # Nothing broken inside: the address breaks only after its "//".
    assert "jupyter.lycee-polyvalent-jean-baptiste-de-la-salle.fr/" in pages[0]
    # The steps, in French (sentences wrap between words: read them as one line).
    sentences = [" ".join(text.split()) for text in pages]
    assert "Ouvrez l’adresse ci-dessus dans un navigateur web." in sentences[0]
    assert "le hub vous le demande à la première connexion" in sentences[0]
    assert "Fichier → Panneau de contrôle du Hub → Services → Changer mon mot de passe" in sentences[1]


def test_what_jupyterhubs_scripts_write_is_put_in_french(running, browser):
    """Issue 21, point 12: the words that JupyterHub's scripts write (the spawn page's events and
    Stop button, the home page's button after a stop) are replaced on a French page, by exact
    words or by pattern, as they appear; an English page keeps them."""
    _, hub = running
    writes = """() => {
        const box = document.createElement('div'); box.id = 'jha-probe'; document.body.append(box);
        const add = (html) => { const d = document.createElement('div'); d.innerHTML = html; box.append(d); };
        add('Spawning server...');
        add('Server ready at <a href="/user/x/">/user/x/</a>');
        add('Waiting for a start slot (3 in line)…');
        add('Spawn failed: Timeout');
        const button = document.createElement('a'); button.textContent = 'Start My Server';
        button.setAttribute('title', 'Your server is stopping'); box.append(button);
    }"""
    for locale, expected in (("fr-FR", ["Démarrage du serveur…", "Serveur prêt\u00a0: /user/x/",
                                        "En attente d’un créneau de démarrage (3 en attente)…",
                                        "Le démarrage a échoué\u00a0: Timeout", "Démarrer mon serveur"]),
                             ("en-GB", ["Spawning server...", "Server ready at /user/x/",
                                        "Waiting for a start slot (3 in line)…", "Spawn failed: Timeout",
                                        "Start My Server"])):
        context = browser.new_context(locale=locale, viewport=VIEWPORT)
        page = context.new_page()
        hub_login(page, hub, ADMIN, ADMIN_PASSWORD)
        assert page.evaluate("document.documentElement.lang") == locale[:2]
        page.evaluate(writes)
        probe = page.locator("#jha-probe > *")
        expect(probe).to_have_text(expected)
        assert probe.last.get_attribute("title") == ("Votre serveur s’arrête" if locale == "fr-FR"
                                                      else "Your server is stopping")
        context.close()
