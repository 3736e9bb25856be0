"""What a French school sees on its first day, in the admin service (a real hub in a sandbox):
slips that print the address the browser uses, the Settings page, French words only, the
credentials file's French columns, classes set for many accounts at once, the dashboard."""
import csv
import html
import io

import pytest
import requests

from servicetools import ADMIN, ADMIN_PASSWORD, TEACHER, login, service_url, xsrf_of

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]
ROSTER = ("identifiant;mot de passe;profil;classe;prénom;nom\n"
          "lea.dupont;Lea-Passw0rd-1;élève;;Léa;Dupont\n"
          "hugo.roux;Hugo-Passw0rd-2;élève;;Hugo;Roux\n"
          "noe.test;Noe-Passw0rd-3;élève;;=HYPERLINK(\"x\");-2+3\n")


def text(response):
    return html.unescape(response.content.decode("utf-8"))


@pytest.fixture(scope="module")
def admin(running):
    return login(running[1], ADMIN, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def imported(running, admin):
    """A class list imported through the service's pages (paste, preview, apply): the job's id."""
    _, hub = running
    page = admin.get(service_url(hub, "import"))
    r = admin.post(service_url(hub, "import"), data={"_xsrf": xsrf_of(page.text), "text": ROSTER},
                   allow_redirects=True)
    preview = text(r)
    assert r.status_code == 200 and 'id="jha-encoding">UTF-8<' in preview, preview[-3000:]
    r = admin.post(r.url, data={"_xsrf": xsrf_of(r.text)}, allow_redirects=False)
    job_url = hub.url + r.headers["Location"]
    job_id = job_url.rstrip("/").rsplit("/", 1)[1]
    requests.get(service_url(hub, f"api/jobs/{job_id}?wait=60"), cookies=admin.cookies)
    job = text(admin.get(job_url))
    assert "Import de liste de classe" in job and "Importer 20" not in job
    return job_id


def test_the_preview_names_the_encoding_as_people_know_it(running, admin):
    _, hub = running
    page = admin.get(service_url(hub, "import"))
    data = "\ufefflogin;password;\nnoe.martin;Noe-Passw0rd-9;\n".encode("utf-8")
    r = admin.post(service_url(hub, "import"), files={"file": ("liste.csv", data)}, data={"_xsrf": xsrf_of(page.text)})
    assert 'id="jha-encoding">UTF-8 (avec BOM)<' in text(r)


def test_slips_print_the_address_the_browser_uses_and_warn_about_localhost(running, admin, imported):
    _, hub = running
    # As a browser that reaches the hub by the server's name (requests matches cookies on the Host
    # header when one is given, so the session's cookies are sent by hand).
    cookies = "; ".join(f"{c.name}={c.value}" for c in admin.cookies)
    slips = text(requests.get(service_url(hub, f"jobs/{imported}/slips"),
                              headers={"Host": "lycee.test:8123", "Cookie": cookies, "Accept-Language": "fr"}))
    assert "http://lycee.test:8123/" in slips and 'id="jha-slip-local"' not in slips, slips[slips.find("jha-slip-address"):][:300]
    assert "localhost" not in slips
    local = text(admin.get(service_url(hub, f"jobs/{imported}/slips")))  # 127.0.0.1:PORT, as the tests browse
    assert f"http://127.0.0.1:{hub.port}/" in local and 'id="jha-slip-local"' in local


def test_the_settings_page_sets_the_slips_address(running, admin, imported):
    _, hub = running
    page = admin.get(service_url(hub, "settings"))
    assert "Réglages" in text(page)
    refused = admin.post(service_url(hub, "settings"), data={"_xsrf": xsrf_of(page.text), "public_url": "lycee"})
    assert refused.status_code == 400 and "https://jupyter.lycee.fr/" in text(refused)
    admin.post(service_url(hub, "settings"), data={"_xsrf": xsrf_of(page.text),
                                                   "public_url": "https://jupyter.lycee-exemple.fr"})
    try:
        slips = text(admin.get(service_url(hub, f"jobs/{imported}/slips")))
        assert "https://jupyter.lycee-exemple.fr/" in slips and 'id="jha-slip-local"' not in slips
    finally:
        admin.post(service_url(hub, "settings"), data={"_xsrf": xsrf_of(page.text), "public_url": ""})


def test_the_credentials_file_speaks_french_and_holds_no_formula(running, admin, imported):
    _, hub = running
    r = admin.get(service_url(hub, f"jobs/{imported}/credentials.csv"))
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["identifiant", "mot de passe", "profil", "classes", "prénom", "nom"]
    by_login = {row[0]: row for row in rows[1:]}
    assert by_login["lea.dupont"][2] == "élève"
    assert "'=HYPERLINK(\"x\")" in [row[4] for row in rows[1:]] and "'-2+3" in [row[5] for row in rows[1:]]
    english = requests.get(service_url(hub, f"jobs/{imported}/credentials.csv"), cookies=admin.cookies,
                           headers={"Accept-Language": "en"})
    assert english.content.decode("utf-8-sig").startswith("login;password;role;classes;first_name;last_name")


def test_classes_set_for_ticked_accounts_at_once_and_counted_with_their_teacher(running, admin, imported):
    box, hub = running
    page = admin.get(service_url(hub, "accounts"))
    r = admin.post(service_url(hub, "accounts/_classes"),
                   data={"_xsrf": xsrf_of(page.text), "login": ["lea.dupont", "hugo.roux"], "classes": "2nde 4"})
    assert r.status_code == 200 and "2 comptes désormais dans\u00a0: 2nde 4" in text(r)
    assert hub.api("GET", "/groups/class-2nde-4")["users"] == ["hugo.roux", "lea.dupont"]
    # A teacher's course enrols the class: the dashboard counts that teacher for the class.
    import sys
    course = "cours_" + TEACHER.replace(".", "_")
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "courses", "enrol", course, "--class", "2nde 4"],
            env=hub.cli_env())
    data = requests.get(service_url(hub, "api/dashboard"), cookies=admin.cookies).json()
    assert data["accounts"]["by_class"]["2nde 4"] == {"student": 2, "teacher": 1, "admin": 0}
    for disk in data["disks"].values():
        if disk["total"]:
            assert disk["percent"] == round(100 * (disk["total"] - disk["free"]) / disk["total"])


def test_a_reset_needs_its_box_ticked(running, admin, imported):
    _, hub = running
    page = admin.get(service_url(hub, "accounts/hugo.roux"))
    assert 'id="jha-reset-confirm"' in page.text
    r = admin.post(service_url(hub, "accounts/hugo.roux/reset"), data={"_xsrf": xsrf_of(page.text)})
    assert r.status_code == 400 and "Cochez la case" in text(r)
