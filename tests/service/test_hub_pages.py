"""The hub's own pages (hubpages/): French by default, English from the browser, the admin
service named for people in the Services menu, a disabled account told that it is (only with its
right password), and wrong passwords limited at the login and on the password page."""
import html
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from servicetools import ADMIN, ADMIN_PASSWORD, STUDENT, STUDENT_PASSWORD, TEACHER, TEACHER_PASSWORD, login, xsrf_of

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]


def text(response):
    """The page as a browser reads it: UTF-8, as its <meta charset> says (JupyterHub's
    Content-Type names no charset, so requests would guess Latin-1), entities read."""
    return html.unescape(response.content.decode("utf-8"))


def test_the_login_page_speaks_the_browsers_language(running):
    _, hub = running
    french = text(requests.get(hub.url + "/hub/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}))
    assert "Se connecter" in french and "Identifiant\u00a0:" in french and "Mot de passe\u00a0:" in french
    assert "Sign in" not in french and "Username:" not in french
    english = text(requests.get(hub.url + "/hub/login", headers={"Accept-Language": "en-GB,en;q=0.8"}))
    assert "Sign in" in english and "Username:" in english and "Se connecter" not in english
    default = text(requests.get(hub.url + "/hub/login", headers={"Accept-Language": "de-DE"}))
    assert "Se connecter" in default  # neither French nor English: French


def test_the_pages_language_and_noscript_sentence_follow_the_browser(running):
    """Issue 21, point 12: JupyterHub writes lang="en" and its <noscript> sentence outside any
    template block; the page is sent with the browser's language in both."""
    _, hub = running
    french = requests.get(hub.url + "/hub/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in text(french) and 'lang="en"' not in text(french)
    assert "Ce hub a besoin de JavaScript\u00a0: activez-le dans votre navigateur pour continuer." in text(french)
    assert "requires JavaScript" not in text(french)
    assert int(french.headers["Content-Length"]) == len(french.content)
    english = text(requests.get(hub.url + "/hub/login", headers={"Accept-Language": "en-GB,en;q=0.8"}))
    assert '<html lang="en">' in english and "This hub needs JavaScript: turn it on" in english


def test_home_and_menus_in_french_with_the_admin_service_named_administration(running):
    _, hub = running
    admin = login(hub, ADMIN, ADMIN_PASSWORD)
    home = text(admin.get(hub.url + "/hub/home"))
    assert "Démarrer mon serveur" in home and "Se déconnecter" in home and "Accueil" in home
    assert 'data-service="jhub-admin"' in home and "Administration</a>" in home
    student = login(hub, STUDENT, STUDENT_PASSWORD)
    assert 'data-service="jhub-admin"' not in text(student.get(hub.url + "/hub/home"))
    missing = student.get(hub.url + "/hub/nowhere")
    assert missing.status_code == 404 and "Page introuvable" in text(missing)


def post_login(hub, username, password, headers=None):
    s = requests.Session()
    s.headers["Accept-Language"] = "fr"
    s.headers.update(headers or {})
    form = s.get(hub.url + "/hub/login").text
    return s.post(hub.url + "/hub/login", data={"username": username, "password": password, "_xsrf": xsrf_of(form)},
                  allow_redirects=False)


def test_a_disabled_student_is_told_the_account_is_disabled(running):
    box, hub = running
    wrong = post_login(hub, STUDENT, "not-the-password")
    assert wrong.status_code == 403 and "Identifiant ou mot de passe incorrect." in text(wrong)
    assert "désactivé" not in text(wrong)
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "accounts", "disable", STUDENT], env=hub.cli_env())
    try:
        r = post_login(hub, STUDENT, STUDENT_PASSWORD)
        assert r.status_code == 403 and 'id="jha-login-disabled"' in text(r) and "Ce compte est désactivé" in text(r)
        assert "Identifiant ou mot de passe incorrect." not in text(r)
        # Issue 20, point 7: to whoever does not know its password, a disabled account is like any
        # other (nobody can list the disabled accounts).
        r = post_login(hub, STUDENT, "not-the-password")
        assert r.status_code == 403 and "Identifiant ou mot de passe incorrect." in text(r), text(r)
        assert "désactivé" not in text(r)
    finally:
        box.run([sys.executable, "-m", "jhub_admin_service.cli", "accounts", "enable", STUDENT], env=hub.cli_env())
    assert post_login(hub, STUDENT, STUDENT_PASSWORD).status_code == 302


def test_a_user_changes_their_own_password_then_logs_in_with_it(running):
    box, hub = running
    student = login(hub, STUDENT, STUDENT_PASSWORD)
    page = student.get(hub.url + "/services/jhub-password/")
    assert page.status_code == 200 and "Changer mon mot de passe" in text(page), page.url
    form = {"_xsrf": xsrf_of(text(page)), "current": STUDENT_PASSWORD}
    url = hub.url + "/services/jhub-password/"
    wrong = student.post(url, data={**form, "current": "nope", "new": "Soleil-de-juin-7", "again": "Soleil-de-juin-7"})
    assert wrong.status_code == 400 and "Le mot de passe actuel n'est pas le bon." in text(wrong)
    differ = student.post(url, data={**form, "new": "Soleil-de-juin-7", "again": "Soleil-de-juin-8"})
    assert differ.status_code == 400 and "différents" in text(differ)
    short = student.post(url, data={**form, "new": "court", "again": "court"})
    assert short.status_code == 400 and "au moins 8 caractères" in text(short)
    done = student.post(url, data={**form, "new": "Soleil-de-juin-7", "again": "Soleil-de-juin-7"})
    assert done.status_code == 200 and 'id="jha-password-done"' in text(done)
    try:
        assert post_login(hub, STUDENT, STUDENT_PASSWORD).status_code == 403
        assert post_login(hub, STUDENT, "Soleil-de-juin-7").status_code == 302
        listed = box.run([sys.executable, "-m", "jhub_admin_service.cli", "accounts", "list", "--json"],
                         env=hub.cli_env()).stdout
        assert next(a for a in json.loads(listed) if a["login"] == STUDENT)["initial_password"] is False
    finally:  # the module's other tests log in with the roster's password
        box.run([sys.executable, "-c", "import sys; from jhub_admin_service.operations import Operations; "
                 "from jhub_admin_service.settings import AdminSettings; import asyncio; "
                 f"asyncio.run(Operations(AdminSettings()).change_own_password({STUDENT!r}, {STUDENT_PASSWORD!r}))"],
                env=hub.cli_env())


def test_a_pupils_first_login_asks_for_a_password_of_their_own(running):
    """Issue 21, point 9: a pupil who logs in with their slip's password is sent to choose their
    own, then goes where the login was going; a teacher is not sent; no other site is a next."""
    box, hub = running
    roster = box.root / "first.csv"
    roster.write_text("premiere.fois;Premiere-Passw0rd-42;\nprof.nouveau;Nouveau-Passw0rd-42;1\n")
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(roster), "--yes"], env=hub.cli_env())
    pupil = requests.Session()
    pupil.headers["Accept-Language"] = "fr"
    form = pupil.get(hub.url + "/hub/login").text
    r = pupil.post(hub.url + "/hub/login?next=%2Fhub%2Fspawn", allow_redirects=False,
                   data={"username": "premiere.fois", "password": "Premiere-Passw0rd-42", "_xsrf": xsrf_of(form)})
    assert r.status_code == 302 and r.headers["Location"] == "/services/jhub-password/?first=1&next=%2Fhub%2Fspawn"
    page = pupil.get(hub.url + r.headers["Location"])
    assert page.status_code == 200 and 'id="jha-password-first"' in text(page), page.url
    assert "Choisissez votre mot de passe" in text(page) and "celui de votre fiche" in text(page)
    assert 'href="/hub/spawn" id="jha-password-later"' in text(page)  # "Plus tard": the lesson goes on
    done = pupil.post(hub.url + "/services/jhub-password/",
                      data={"_xsrf": xsrf_of(text(page)), "first": "1", "next": "/hub/spawn",
                            "current": "Premiere-Passw0rd-42", "new": "Mon-propre-secret-9", "again": "Mon-propre-secret-9"})
    assert done.status_code == 200 and 'id="jha-password-continue"' in text(done)
    assert 'href="/hub/spawn" id="jha-password-continue">Continuer' in text(done)

    again = post_login(hub, "premiere.fois", "Mon-propre-secret-9")
    assert again.status_code == 302 and "jhub-password" not in again.headers["Location"]
    teacher = post_login(hub, "prof.nouveau", "Nouveau-Passw0rd-42")
    assert teacher.status_code == 302 and "jhub-password" not in teacher.headers["Location"]
    for elsewhere in ("//evil.example/", "///evil.example/", "////evil.example", "https://evil.example/",
                      "/\\evil.example", "/\tevil.example"):
        page = text(pupil.get(hub.url + "/services/jhub-password/", params={"first": "1", "next": elsewhere}))
        assert 'href="/hub/home" id="jha-password-later"' in page and "evil" not in page


def test_the_hubs_users_page_sends_admins_to_the_accounts_page(running):
    """Issue 21, point 13: JupyterHub's own Users page (whose Add Users makes hub users outside the
    registry) is no longer offered: the nav bar and the page itself lead to the service."""
    _, hub = running
    admin = login(hub, ADMIN, ADMIN_PASSWORD)
    home = text(admin.get(hub.url + "/hub/home"))
    assert '<a class="nav-link" href="/services/jhub-admin/accounts">Utilisateurs</a>' in home
    page = admin.get(hub.url + "/hub/admin")
    assert page.status_code == 200 and 'id="jha-hub-admin-moved"' in text(page)
    assert '<meta http-equiv="refresh" content="0; url=/services/jhub-admin/accounts">' in text(page)
    assert "admin-react" not in text(page) and "Les comptes se gèrent dans le service Administration" in text(page)
    assert "Accounts are managed" in text(login(hub, ADMIN, ADMIN_PASSWORD, lang="en").get(hub.url + "/hub/admin"))
    assert login(hub, STUDENT, STUDENT_PASSWORD).get(hub.url + "/hub/admin").status_code == 403


def test_an_admin_downloads_a_pupils_work_as_a_zip_that_windows_opens(running):
    """Issue 21, point 11: the account page's ZIP of a pupil's own work (what a removal hands
    over), read as Windows' built-in ZIP reader would (no tool but a ZIP reader): the pupil's
    files, with accents; no hidden file, no link followed, nothing that is not theirs."""
    import io
    import zipfile

    box, hub = running
    box.as_user(STUDENT, "mkdir -p 'TP été' && echo 'print(42)' > 'TP été/carré.py' && echo x > .cachée && "
                         "ln -sf /etc/shadow lien && echo fini > devoir.txt")
    box.run(["sh", "-c", f"echo root > {box.home}/{STUDENT}/pas-a-moi.txt"])
    admin = login(hub, ADMIN, ADMIN_PASSWORD)
    r = admin.get(hub.url + f"/services/jhub-admin/accounts/{STUDENT}/work.zip")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.testzip() is None
        names = set(z.namelist())
        assert names == {"TP été/carré.py", "devoir.txt"}, names
        # Names with accents carry the UTF-8 flag, which Windows reads them with.
        assert all(i.flag_bits & 0x800 for i in z.infolist() if not i.filename.isascii())
    assert 'id="jha-work-zip"' in text(admin.get(hub.url + f"/services/jhub-admin/accounts/{STUDENT}"))
    student = login(hub, STUDENT, STUDENT_PASSWORD)
    assert student.get(hub.url + f"/services/jhub-admin/accounts/{STUDENT}/work.zip").status_code == 403
    assert admin.get(hub.url + "/services/jhub-admin/accounts/personne/work.zip").status_code == 404


def test_the_password_page_is_in_everyones_services_menu_but_the_admin_service_is_not(running):
    _, hub = running
    home = text(login(hub, STUDENT, STUDENT_PASSWORD).get(hub.url + "/hub/home"))
    assert 'data-service="jhub-password"' in home and "Changer mon mot de passe" in home
    assert 'data-service="jhub-admin"' not in home


def test_a_server_that_is_not_running_is_said_in_french(running):
    _, hub = running
    student = login(hub, STUDENT, STUDENT_PASSWORD)
    page = text(student.get(hub.url + f"/hub/spawn-pending/{STUDENT}"))
    assert "Votre serveur n'est pas démarré" in page and "Démarrer mon serveur" in page


def test_wrong_passwords_make_the_guesser_wait_and_no_one_else(running):
    """Issue 20, point 6: 24 parallel wrong guesses from one computer reach PAM at most five times
    (the others are refused at once, holding no PAM thread); then even the right password waits,
    with a French explanation; another pupil at the same computer logs in; the password page
    counts its wrong current passwords the same way."""
    box, hub = running
    roster = box.root / "guessed.csv"
    roster.write_text("eleve.devinee;Devinee-Passw0rd-42;\n")
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(roster), "--yes"], env=hub.cli_env())
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda i: post_login(hub, "eleve.devinee", f"devine-{i}"), range(24)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(403) <= 5 and codes.count(403) + codes.count(429) == 24, codes
    assert all("Identifiant ou mot de passe incorrect." in text(r) for r in answers if r.status_code == 403)
    for _ in range(5 - codes.count(403)):  # the rest of the allowance, one at a time
        assert post_login(hub, "eleve.devinee", "encore-faux").status_code == 403
    right = post_login(hub, "eleve.devinee", "Devinee-Passw0rd-42")
    assert right.status_code == 429 and 'id="jha-login-wait"' in text(right), text(right)
    assert "Trop de mots de passe erronés pour ce compte depuis cet ordinateur. Attendez 1 minute, puis réessayez" in text(right)
    assert post_login(hub, STUDENT, STUDENT_PASSWORD).status_code == 302  # the classmate is not held

    teacher = login(hub, TEACHER, TEACHER_PASSWORD)
    url = hub.url + "/services/jhub-password/"
    form = {"_xsrf": xsrf_of(text(teacher.get(url))), "new": "Soleil-de-juin-7", "again": "Soleil-de-juin-7"}
    for attempt in range(5):
        wrong = teacher.post(url, data={**form, "current": f"faux-{attempt}"})
        assert wrong.status_code == 400 and "Le mot de passe actuel n'est pas le bon." in text(wrong)
    held = teacher.post(url, data={**form, "current": TEACHER_PASSWORD})
    assert held.status_code == 400 and "Trop de mots de passe erronés\u00a0: attendez 1 minute, puis" in text(held), text(held)
    assert post_login(hub, TEACHER, TEACHER_PASSWORD).status_code == 302  # unchanged: the change was refused


def test_a_guesser_cannot_pass_for_another_computer_with_forged_headers(running):
    """Issue 20, point 9: the computer that a login attempt comes from is the address the proxy
    saw, never an X-Real-IP or X-Forwarded-For that the client wrote itself."""
    box, hub = running
    roster = box.root / "masque.csv"
    roster.write_text("eleve.masque;Masque-Passw0rd-42;\n")
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(roster), "--yes"], env=hub.cli_env())
    for i in range(5):
        forged = {"X-Real-IP": f"198.51.100.{i}", "X-Forwarded-For": f"198.51.100.{i}"}
        assert post_login(hub, "eleve.masque", f"faux-{i}", forged).status_code == 403
    forged = {"X-Real-IP": "198.51.100.99", "X-Forwarded-For": "198.51.100.99"}
    assert post_login(hub, "eleve.masque", "Masque-Passw0rd-42", forged).status_code == 429
