"""Issue 25: logging in with the school's ENT, in Chromium, against real identity providers that
the tests start (npm's oidc-provider as an OpenID Connect issuer, and with entcore's OAuth2
addresses and fields; django-cas-server as a CAS 3.0 server), on a real hub whose accounts an ENT
export made.

Set up from the admin service's ENT page (the route the admin takes); then, for each protocol:
a pupil of the export logs in through the provider and lands in their own server; an identity
that no list carries gets the French page and appears on the dashboard; a pupil's identity
that carries a teacher's identifier cannot open the teacher's account; the local form works
where it is left on and is refused where it is off; logging out ends the provider's session
where the protocol can.
"""
import re
import sys
import time

import pytest
import requests

from browsertools import shot
from enttools import CasServer, OidcProvider, cas_login, provider_login
from servicetools import ADMIN, ADMIN_PASSWORD, STUDENT, STUDENT_PASSWORD, TEACHER, TEACHER_PASSWORD, xsrf_of

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect
pytestmark = [pytest.mark.browser, pytest.mark.hub, pytest.mark.sandbox]

UAI = "0751234A"
#: The school's ENT export (its "Id" column is what an ENT login carries).
ENT_EXPORT = ('"Id";"Type";"Nom";"Prénom";"Identifiant";"Classes"\n'
              '"a1";"Élève";"Rousseau";"Camille";"camille.rousseau";"T NSI"\n'
              '"a2";"Élève";"Fournier";"Hugo";"hugo.fournier";"T NSI"\n'
              '"a4";"Enseignant";"Lambert";"Sophie";"sophie.lambert";""\n')
#: OpenID Connect accounts: the login typed at the provider -> the claims it gives.
OIDC_PEOPLE = {
    "camille": {"given_name": "Camille", "family_name": "Rousseau", "preferred_username": "c.rousseau",
                "externalId": "a1", "type": "ELEVE", "uai": UAI},
    "sophie": {"given_name": "Sophie", "family_name": "Lambert", "externalId": "a4", "type": "ENSEIGNANT", "uai": UAI},
    "zoe": {"given_name": "Zoé", "family_name": "Inconnue", "externalId": "zz-404", "type": "ELEVE", "uai": UAI},
    "tricheur": {"given_name": "Max", "family_name": "Malin", "externalId": "a4", "type": "ELEVE", "uai": UAI},
    "ailleurs": {"given_name": "Hugo", "family_name": "Fournier", "externalId": "a2", "type": "ELEVE",
                 "uai": "0930001Z"},
}
#: entcore's userinfo fields, as Open ENT NG gives them.
ENTCORE_PEOPLE = {
    "hugo": {"userId": "6f1c-hugo", "externalId": "a2", "login": "hugo.fournier", "username": "Hugo FOURNIER",
             "firstName": "Hugo", "lastName": "FOURNIER", "type": "ELEVE", "uai": [UAI]},
    "chloe": {"userId": "6f1c-chloe", "externalId": "x-9", "login": "chloe.girard", "firstName": "Chloé",
              "lastName": "GIRARD", "type": "ELEVE", "uai": [UAI]},
    "triche": {"userId": "6f1c-triche", "externalId": "a4", "login": "eleve.malin", "firstName": "Eve",
               "lastName": "MALIN", "type": "ELEVE", "uai": [UAI]},
}
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def school(running):
    """The browser tests' hub (conftest.py), with the accounts of the school's ENT export."""
    box, hub = running
    roster = box.root / "ent-export.csv"
    roster.write_text(ENT_EXPORT, encoding="utf-8")
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(roster), "--yes"], env=hub.cli_env())
    return box, hub


@pytest.fixture(scope="module")
def admin_page(school, browser):
    _, hub = school
    context, page = local_login(browser, hub, ADMIN, ADMIN_PASSWORD)
    page.wait_for_url(re.compile(r".*/hub/home$"))
    yield page
    context.close()


def set_up_ent(page, hub, provider, name, family, scopes="", local_roles=("teacher",)):
    """The admin's form on the ENT page, from the Settings page."""
    page.goto(hub.url + "/services/jhub-admin/settings")
    page.click("#jha-settings-ent-link")
    page.select_option("#jha-ent-family", family)
    page.fill("#jha-ent-name", name)
    page.fill("#jha-ent-url", provider.issuer)
    page.fill("#jha-ent-client-id", provider.client_id)
    page.fill("#jha-ent-client-secret", provider.client_secret)
    page.fill("#jha-ent-uai", UAI)
    page.fill("#jha-ent-scopes", scopes)
    for role in ("student", "teacher"):
        page.set_checked(f"#jha-ent-local-{role}", role in local_roles)
    page.click("#jha-ent-save")
    expect(page.locator(".alert-success")).to_contain_text(f"La connexion avec {name} est activée")
    expect(page.locator("#jha-ent-callback")).to_have_text(hub.url + "/hub/oauth_callback")


def ent_login(browser, hub, provider, login, next_path="/hub/home"):
    """A new person at a new browser: the hub's login page, the ENT's button, the provider's form."""
    context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    page = context.new_page()
    page.goto(hub.url + "/hub/login?next=" + next_path.replace("/", "%2F"))
    if login == "camille" and provider.flavour == "oidc":
        shot(page, "ent-login", docs=True)
    page.click("#jha-ent-button")
    provider_login(page, provider.issuer, login)
    page.wait_for_load_state("load")
    return context, page


def local_login(browser, hub, login, password):
    context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
    page = context.new_page()
    page.goto(hub.url + "/hub/login?next=%2Fhub%2Fhome")
    page.fill("#username_input", login)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("load")
    return context, page


def hub_session_ended(page, hub) -> bool:
    page.goto(hub.url + "/hub/home")
    return "/hub/login" in page.url


def refused_page(page, reason):
    expect(page.locator("#jha-ent-refused")).to_have_attribute("data-reason", reason)
    return page.locator("#jha-ent-refused").inner_text()


def test_openid_connect(school, browser, admin_page):
    box, hub = school
    provider = OidcProvider("oidc", hub.url, OIDC_PEOPLE)
    try:
        set_up_ent(admin_page, hub, provider, "MonENT", "oidc", scopes="openid profile ent")

        # The admin's Test: what the ENT answered and the account it would open; nothing recorded.
        admin_page.click("#jha-ent-test-button")
        provider_login(admin_page, provider.issuer, "camille")
        admin_page.wait_for_url(re.compile(r".*/services/jhub-admin/ent"))
        expect(admin_page.locator("#jha-ent-test-decision")).to_have_attribute("data-login", "camille.rousseau")
        expect(admin_page.locator("#jha-ent-test-result")).to_contain_text("c.rousseau")
        expect(admin_page.locator("#jha-ent-linked")).to_contain_text("Aucun")
        shot(admin_page, "ent-page-test", full_page=True, docs=True)
        admin_page.goto(hub.url + "/hub/home")
        expect(admin_page.locator("#login_widget")).to_contain_text(ADMIN)  # still the admin

        # A pupil of the export: the ENT's button, the provider, their own server.
        context, page = ent_login(browser, hub, provider, "camille", "/hub/spawn")
        page.wait_for_url(re.compile(r".*/user/camille\.rousseau/"), timeout=90_000)
        assert hub.api("GET", "/users/camille.rousseau")["servers"]
        hub.api("DELETE", "/users/camille.rousseau/server")

        # Logging out of the hub ends the provider's session too (its end-session endpoint).
        page.goto(hub.url + "/hub/logout")
        page.wait_for_load_state("load")
        assert page.url.startswith(provider.issuer + "/session/end")
        page.click("button[value=yes]")
        page.wait_for_url(re.compile(r".*/hub/login"))
        page.click("#jha-ent-button")
        expect(page.locator("input[name=login]")).to_be_visible()  # asked again: the session ended
        context.close()

        # Nobody's identity: the French page, and the dashboard shows it to the admin.
        context, page = ent_login(browser, hub, provider, "zoe")
        text = refused_page(page, "no_account")
        shot(page, "ent-refused", docs=True)
        assert "ne correspond à aucun compte de ce serveur" in text and "MonENT" in text
        context.close()
        # A pupil's identity that carries the teacher's identifier; another school's pupil.
        context, page = ent_login(browser, hub, provider, "tricheur")
        refused_page(page, "wrong_role")
        context.close()
        context, page = ent_login(browser, hub, provider, "ailleurs")
        assert "autre établissement" in refused_page(page, "other_school")
        context.close()
        admin_page.goto(hub.url + "/services/jhub-admin/")
        expect(admin_page.locator("#jha-main")).to_contain_text("Zoé Inconnue")

        # The login form never reads an ENT's answer: a code posted to it (no state, no callback)
        # logs no one in.
        session = requests.Session()
        form = session.get(hub.url + "/hub/login")
        posted = session.post(hub.url + "/hub/login", data={"_xsrf": xsrf_of(form.text), "code": "stolen", "state": "x"},
                              allow_redirects=False)
        assert posted.status_code >= 400 and "jupyterhub-session-id" not in str(posted.headers.get("Set-Cookie"))
        assert session.get(hub.url + "/hub/api/user").status_code in (401, 403)

        # The teacher through the ENT; the local form: teachers kept, pupils turned off.
        context, page = ent_login(browser, hub, provider, "sophie")
        page.wait_for_url(re.compile(r".*/hub/home$"))
        context.close()
        context, page = local_login(browser, hub, TEACHER, TEACHER_PASSWORD)
        page.wait_for_url(re.compile(r".*/hub/home$"))
        context.close()
        context, page = local_login(browser, hub, STUDENT, STUDENT_PASSWORD)
        expect(page.locator("#jha-login-ent-only")).to_contain_text("MonENT")
        assert "/hub/login" in page.url
        context.close()
    finally:
        provider.stop()


def test_entcore_and_the_admin_s_links(school, browser, admin_page):
    box, hub = school
    provider = OidcProvider("entcore", hub.url, ENTCORE_PEOPLE)
    try:
        set_up_ent(admin_page, hub, provider, "Lycée Connecté", "entcore", local_roles=("student",))

        context, page = ent_login(browser, hub, provider, "hugo", "/hub/spawn")
        page.wait_for_url(re.compile(r".*/user/hugo\.fournier/"), timeout=90_000)
        hub.api("DELETE", "/users/hugo.fournier/server")
        # entcore has no logout for applications: the login page says the ENT's session is open.
        page.goto(hub.url + "/hub/logout")
        expect(page.locator("#jha-ent-session-open")).to_contain_text("Lycée Connecté")
        context.close()

        context, page = ent_login(browser, hub, provider, "triche")
        refused_page(page, "wrong_role")
        context.close()
        context, page = ent_login(browser, hub, provider, "chloe")
        refused_page(page, "no_account")
        context.close()

        # The admin links the refused identity to an account; it then logs in as that account.
        admin_page.goto(hub.url + "/services/jhub-admin/ent")
        row = admin_page.locator("#jha-ent-unmatched tr[data-subject='6f1c-chloe']")
        row.locator("input[name=login]").fill("sophie.lambert")
        row.locator("form[action$='ent/link'] button").click()
        expect(admin_page.locator(".alert-danger")).to_contain_text("jamais")  # a pupil for a teacher: no
        row = admin_page.locator("#jha-ent-unmatched tr[data-subject='6f1c-chloe']")
        row.locator("input[name=login]").fill(STUDENT)
        row.locator("form[action$='ent/link'] button").click()
        expect(admin_page.locator(".alert-success")).to_contain_text(STUDENT)
        context, page = ent_login(browser, hub, provider, "chloe")
        page.wait_for_url(re.compile(r".*/hub/home$"))
        expect(page.locator("body")).to_contain_text(STUDENT)
        context.close()

        # The Accounts page shows the link and undoes it.
        admin_page.goto(hub.url + f"/services/jhub-admin/accounts/{STUDENT}")
        expect(admin_page.locator("#jha-account-ent")).to_contain_text("Chloé GIRARD")
        admin_page.click("#jha-account-ent-unlink button")
        expect(admin_page.locator("#jha-account-ent")).to_contain_text("Non lié")

        # The pupils' local password left on, the teachers' off.
        context, page = local_login(browser, hub, STUDENT, STUDENT_PASSWORD)
        assert "/hub/login" not in page.url
        context.close()
        context, page = local_login(browser, hub, TEACHER, TEACHER_PASSWORD)
        expect(page.locator("#jha-login-ent-only")).to_contain_text("Lycée Connecté")
        context.close()
    finally:
        provider.stop()


#: CAS attributes, named as the national directory's schema that ENTs' CAS servers release.
CAS_PEOPLE = {
    "sophie": {"ENTPersonJointure": "a4", "ENTPersonProfils": "National_3", "ENTPersonStructRattachRNE": UAI,
               "ENTPersonNom": "Lambert", "ENTPersonPrenom": "Sophie", "ENTPersonLogin": "s.lambert"},
    "camille": {"ENTPersonJointure": "a1", "ENTPersonProfils": "National_1", "ENTPersonStructRattachRNE": UAI,
                "ENTPersonNom": "Rousseau", "ENTPersonPrenom": "Camille"},
    "parent": {"ENTPersonJointure": "p-77", "ENTPersonProfils": "National_2", "ENTPersonStructRattachRNE": UAI,
               "ENTPersonNom": "Rousseau", "ENTPersonPrenom": "Marc"},
    "malin": {"ENTPersonJointure": "a4", "ENTPersonProfils": "National_1", "ENTPersonStructRattachRNE": UAI},
    "inconnu": {"ENTPersonJointure": "zz-1", "ENTPersonProfils": "National_1", "ENTPersonStructRattachRNE": UAI},
}


def test_cas(school, browser, admin_page):
    box, hub = school
    server = CasServer(hub.url, CAS_PEOPLE)
    try:
        page = admin_page
        page.goto(hub.url + "/services/jhub-admin/ent")
        page.select_option("#jha-ent-family", "cas")
        page.fill("#jha-ent-name", "ENT Occitanie")
        page.fill("#jha-ent-url", server.url)
        page.fill("#jha-ent-client-id", "")
        page.select_option("#jha-ent-cas-version", "3")
        page.fill("#jha-ent-id-field", "ENTPersonJointure")  # as the Test would show it
        page.fill("#jha-ent-type-field", "ENTPersonProfils")
        page.fill("#jha-ent-uai", UAI)
        page.set_checked("#jha-ent-local-student", False)
        page.set_checked("#jha-ent-local-teacher", False)
        page.click("#jha-ent-save")
        expect(page.locator(".alert-success")).to_contain_text("ENT Occitanie")
        expect(page.locator("#jha-ent-callback")).to_have_text(hub.url + "/hub/cas_callback")

        # The admin's Test with the teacher's CAS account: her account, nothing recorded.
        page.click("#jha-ent-test-button")
        cas_login(page, server.url, "sophie")
        page.wait_for_url(re.compile(r".*/services/jhub-admin/ent"))
        expect(page.locator("#jha-ent-test-decision")).to_have_attribute("data-login", "sophie.lambert")
        expect(page.locator("#jha-ent-test-result")).to_contain_text("National_3")

        # The pupil through CAS lands in her own server (the link made at the first OpenID
        # login is hers whatever the protocol: the CAS answer carries the same identifier).
        context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
        pupil = context.new_page()
        pupil.goto(hub.url + "/hub/login?next=%2Fhub%2Fspawn")
        expect(pupil.locator("#jha-local-heading")).to_contain_text("administrateurs")
        pupil.click("#jha-ent-button")
        cas_login(pupil, server.url, "camille")
        pupil.wait_for_url(re.compile(r".*/user/camille\.rousseau/"), timeout=90_000)
        hub.api("DELETE", "/users/camille.rousseau/server")
        # Logging out of the ENT (its CAS server's logout) ends the hub's session: single logout.
        pupil.goto(server.url + "/logout")
        for _ in range(50):
            if hub_session_ended(pupil, hub):
                break
            time.sleep(0.2)
        assert hub_session_ended(pupil, hub)
        pupil.click("#jha-ent-button")
        cas_login(pupil, server.url, "camille")
        pupil.wait_for_url(re.compile(r".*/hub/home$"))
        # Logging out of the hub ends the CAS session: the next login asks again.
        pupil.goto(hub.url + "/hub/logout")
        pupil.wait_for_load_state("load")
        pupil.goto(hub.url + "/hub/login")
        pupil.click("#jha-ent-button")
        expect(pupil.locator("#id_username")).to_be_visible()
        context.close()

        for login, reason in (("inconnu", "no_account"), ("parent", "not_pupil_or_staff"), ("malin", "wrong_role")):
            context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
            refused = context.new_page()
            refused.goto(hub.url + "/hub/login")
            refused.click("#jha-ent-button")
            cas_login(refused, server.url, login)
            refused_page(refused, reason)
            context.close()

        # CAS 2.0 (serviceValidate): the same server, the pupil's link made under CAS 3.0.
        page.goto(hub.url + "/services/jhub-admin/ent")
        page.select_option("#jha-ent-cas-version", "2")
        page.click("#jha-ent-save")
        context = browser.new_context(locale="fr-FR", viewport=VIEWPORT)
        pupil = context.new_page()
        pupil.goto(hub.url + "/hub/login")
        pupil.click("#jha-ent-button")
        cas_login(pupil, server.url, "camille")
        pupil.wait_for_url(re.compile(r".*/user/camille\.rousseau/"), timeout=90_000)
        hub.api("DELETE", "/users/camille.rousseau/server")
        context.close()

        # Local passwords off for pupils and teachers: the teacher is sent to the ENT's button;
        # the admin keeps theirs.
        context, teacher = local_login(browser, hub, TEACHER, TEACHER_PASSWORD)
        expect(teacher.locator("#jha-login-ent-only")).to_contain_text("ENT Occitanie")
        context.close()
        context, admin = local_login(browser, hub, ADMIN, ADMIN_PASSWORD)
        admin.wait_for_url(re.compile(r".*/hub/home$"))
        context.close()
    finally:
        server.stop()
        admin_page.goto(hub.url + "/services/jhub-admin/ent")
        admin_page.select_option("#jha-ent-family", "")
        admin_page.click("#jha-ent-save")
