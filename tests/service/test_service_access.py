"""The admin service inside a real JupyterHub: admins only, XSRF, pages, JSON API, limits."""
import html
import io
import json
import os
import re
import sys
import time
import zipfile

import pytest
import requests

from servicetools import (ADMIN, ADMIN_PASSWORD, PREFIX, STUDENT, STUDENT_PASSWORD, TEACHER, TEACHER_PASSWORD, login,
                          service_url, xsrf_of)

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]

PAGES = ["", "import", "accounts", "accounts?q=prof&role=teacher", f"accounts/{TEACHER}", "servers", "exports", "year",
         "slips"]
API_GETS = ["api/accounts", "api/accounts?role=teacher", f"api/accounts/{TEACHER}", "api/classes", "api/jobs",
            "api/imports", "api/dashboard", "api/servers"]
#: (method, path) of every state-changing route, pages and API.
CHANGES = [("POST", "import"), ("POST", "import/preview/x"), ("POST", f"accounts/{TEACHER}/reset"),
           ("POST", f"accounts/{TEACHER}/disable"), ("POST", f"accounts/{TEACHER}/enable"),
           ("POST", f"accounts/{TEACHER}/change"), ("POST", f"accounts/{TEACHER}/remove"), ("POST", "servers"),
           ("POST", "jobs/x/dismiss"), ("POST", "exports/export"), ("POST", "exports/settings"),
           ("POST", "exports/archives/a.tar/verify"), ("POST", "api/imports?dry_run=1"), ("POST", "api/imports"),
           ("POST", f"api/accounts/{TEACHER}/reset-password"), ("POST", f"api/accounts/{TEACHER}/disable"),
           ("PATCH", f"api/accounts/{TEACHER}"), ("DELETE", f"api/accounts/{TEACHER}"),
           ("POST", "api/servers/stop"), ("DELETE", "api/jobs/x/credentials"), ("POST", "api/exports"),
           ("POST", "accounts/_bulk"), ("POST", "api/accounts/_bulk")]


@pytest.fixture(scope="module")
def admin(running):
    return login(running[1], ADMIN, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def admin_token(running):
    return running[1].user_token(ADMIN)


def token_headers(token):
    return {"Authorization": f"token {token}"}


def test_admin_opens_every_page_in_french_by_default(running, admin):
    _, hub = running
    for path in PAGES:
        r = admin.get(service_url(hub, path))
        assert r.status_code == 200, (path, r.status_code, r.text[-500:])
        assert 'lang="fr"' in r.text and "Tableau de bord" in r.text, path
    for path in API_GETS:
        r = admin.get(service_url(hub, path))
        assert r.status_code == 200, (path, r.text)
        r.json()


def test_english_from_the_browser_language(running):
    _, hub = running
    s = login(hub, ADMIN, ADMIN_PASSWORD, lang="en-GB,en;q=0.8")
    r = s.get(service_url(hub))
    assert r.status_code == 200 and 'lang="en"' in r.text and "Dashboard" in r.text
    s.headers["Accept-Language"] = "de-DE"  # neither French nor English: French
    assert 'lang="fr"' in s.get(service_url(hub, "import")).text


def test_non_admin_gets_403_everywhere(running):
    _, hub = running
    for name, password in ((TEACHER, TEACHER_PASSWORD), (STUDENT, STUDENT_PASSWORD)):
        s = login(hub, name, password)
        for path in PAGES + API_GETS + ["nope", "jobs/x", "exports/archives/a.tar/download"]:
            r = s.get(service_url(hub, path))
            assert r.status_code == 403, (name, path, r.status_code, r.url)
        for method, path in CHANGES:
            r = s.request(method, service_url(hub, path), data={"_xsrf": "x"}, allow_redirects=False)
            assert r.status_code == 403, (name, method, path, r.status_code)


def test_non_admin_token_refused_admin_token_accepted(running, admin_token):
    box, hub = running
    teacher_token = hub.user_token(TEACHER)
    for path in PAGES + API_GETS:
        r = requests.get(service_url(hub, path), headers=token_headers(teacher_token), allow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
    for method, path in CHANGES:
        r = requests.request(method, service_url(hub, path), headers=token_headers(teacher_token), data=b"x;y;",
                             allow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
    r = requests.get(service_url(hub, "api/accounts"), headers=token_headers(teacher_token))
    assert r.status_code == 403 and r.json()["error"]
    # The admin's token: no XSRF needed (a token cannot be sent by a foreign page)
    r = requests.get(service_url(hub, "api/accounts?role=teacher"), headers=token_headers(admin_token))
    assert r.status_code == 200
    assert [a["login"] for a in r.json()["accounts"]] == [TEACHER]
    r = requests.post(service_url(hub, f"api/accounts/{STUDENT}/disable"), headers=token_headers(admin_token))
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert box.shadow()[STUDENT].startswith("!")
    r = requests.post(service_url(hub, f"api/accounts/{STUDENT}/enable"), headers=token_headers(admin_token))
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert not box.shadow()[STUDENT].startswith("!")
    r = requests.get(service_url(hub, "api/accounts/nobody.here"), headers=token_headers(admin_token))
    assert r.status_code == 404 and "nobody.here" in r.json()["error"]


def test_post_without_xsrf_is_refused(running, admin):
    box, hub = running
    page = admin.get(service_url(hub, f"accounts/{STUDENT}"))
    for data in ({}, {"_xsrf": "forged"}):
        r = admin.post(service_url(hub, f"accounts/{STUDENT}/disable"), data=data, allow_redirects=False)
        assert r.status_code == 403, r.status_code
        r = admin.post(service_url(hub, "import"), files={"file": ("a.csv", b"x.y;Passw0rd-long;\n")}, data=data,
                       allow_redirects=False)
        assert r.status_code == 403
        r = admin.post(service_url(hub, "api/imports"), data=b"x.y;Passw0rd-long;\n", allow_redirects=False)
        assert r.status_code == 403
    assert not box.shadow()[STUDENT].startswith("!")
    # The same request with the page's token goes through; fetch() sends it as a header.
    r = admin.post(service_url(hub, f"accounts/{STUDENT}/disable"), data={"_xsrf": xsrf_of(page.text)})
    assert r.status_code == 200 and box.shadow()[STUDENT].startswith("!")
    r = admin.post(service_url(hub, f"api/accounts/{STUDENT}/enable"), headers={"X-XSRFToken": xsrf_of(page.text)})
    assert r.status_code == 200 and not box.shadow()[STUDENT].startswith("!")


def test_dry_run_api_is_the_cli_plan(running, admin_token, rosters):
    box, hub = running
    for name in ("siecle-eleves-par-division.csv", "comptes-historique.csv", "ent-export-comptes.csv",
                 "bad/system-and-invalid.csv", "bad/duplicates.csv"):
        data = (rosters / name).read_bytes()
        r = requests.post(service_url(hub, "api/imports?dry_run=1"), data=data, headers=token_headers(admin_token))
        assert r.status_code == 200, r.text
        cli = box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(rosters / name), "--dry-run",
                       "--json"], env=hub.cli_env())
        assert r.json() == json.loads(cli.stdout), name
    r = requests.post(service_url(hub, "api/imports?dry_run=1"), data=(rosters / "bad/binary.csv").read_bytes(),
                      headers=token_headers(admin_token))
    assert r.status_code == 400 and "binary" in r.json()["error"]


def test_import_page_preview_apply_and_slips(running, admin, rosters):
    box, hub = running
    page = admin.get(service_url(hub, "import"))
    data = (rosters / "siecle-eleves-par-division.csv").read_bytes()
    r = admin.post(service_url(hub, "import"), files={"file": ("siecle.csv", data)},
                   data={"_xsrf": xsrf_of(page.text)})
    assert r.status_code == 200 and "/import/preview/" in r.url
    assert "export SIECLE" in r.text and "windows-1252" in r.text.lower() and "point-virgule" in r.text
    assert "À créer\u00a0: 10" in r.text
    r = admin.post(r.url, data={"_xsrf": xsrf_of(r.text), "reset_passwords": ""})
    assert r.status_code == 200 and "/jobs/" in r.url
    job_id = r.url.rsplit("/", 1)[1]
    job = admin.get(service_url(hub, f"api/jobs/{job_id}?wait=30")).json()
    assert job["state"] == "done" and job["percent"] == 100 and job["counts"]["create"] == 10
    page = admin.get(service_url(hub, f"jobs/{job_id}"))
    assert "100 %" in page.text and "credentials.csv" in page.text
    csv = admin.get(service_url(hub, f"jobs/{job_id}/credentials.csv"))
    assert csv.headers["Content-Type"].startswith("text/csv") and "attachment" in csv.headers["Content-Disposition"]
    rows = [line.split(";") for line in csv.content.decode("utf-8-sig").splitlines()[1:]]
    assert len(rows) == 10 and {r[0] for r in rows} >= {"lea.dupont", "lea.dupont2", "zoe.obrien"}
    slips = admin.get(service_url(hub, f"jobs/{job_id}/slips"))
    assert slips.text.count('class="jha-slip"') == 10 and "Classe 2nde3" in slips.text
    for login_, password in ((r[0], r[1]) for r in rows):
        assert password in slips.text and login_ in slips.text
    assert "@page" in slips.text and hub.url in slips.text
    # The passwords are nowhere on disk, nor in the hub's log (which holds the service's)
    data_dir = box.srv / "jupyterhub"
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    log = hub.log_path.read_bytes()
    for _, password in ((r[0], r[1]) for r in rows):
        assert password.encode() not in stored and password.encode() not in log
    # A new student logs in on the hub with its password
    login(hub, rows[0][0], rows[0][1])
    # Dismissed: forgotten
    r = admin.post(service_url(hub, f"jobs/{job_id}/dismiss"), data={"_xsrf": xsrf_of(page.text)})
    assert r.status_code == 200
    assert admin.get(service_url(hub, f"jobs/{job_id}/credentials.csv")).status_code == 410
    assert 'class="jha-slip"' not in admin.get(service_url(hub, f"jobs/{job_id}/slips")).text


def test_accounts_page_filters_and_actions(running, admin, admin_token, rosters):
    box, hub = running
    data = (rosters / "siecle-eleves-par-division.csv").read_bytes()  # already imported, or now
    r = requests.post(service_url(hub, "api/imports"), data=data, headers=token_headers(admin_token))
    r = requests.get(service_url(hub, f"api/jobs/{r.json()['id']}?wait=30"), headers=token_headers(admin_token))
    assert r.json()["state"] == "done"
    r = admin.get(service_url(hub, "accounts?class=2nde4"))
    assert r.status_code == 200 and "jerome.muller" in r.text and "lea.dupont</a>" not in r.text
    page = admin.get(service_url(hub, "accounts/jerome.muller"))
    xsrf = xsrf_of(page.text)
    r = admin.post(service_url(hub, "accounts/jerome.muller/reset"), data={"_xsrf": xsrf})
    assert r.status_code == 400 and 'id="jha-new-password"' not in r.text  # not confirmed: nothing reset
    r = admin.post(service_url(hub, "accounts/jerome.muller/reset"), data={"_xsrf": xsrf, "confirm": "1"})
    assert r.status_code == 200 and 'id="jha-new-password"' in r.text
    password = r.text.split('id="jha-new-password">')[1].split("<")[0]
    login(hub, "jerome.muller", password)
    r = admin.post(service_url(hub, "accounts/jerome.muller/change"),
                   data={"_xsrf": xsrf, "role": "student", "classes": "1G2, 2nde4"})
    assert r.status_code == 200 and "1G2, 2nde4" in r.text
    groups = hub.api("GET", "/groups/class-1g2")
    assert "jerome.muller" in groups["users"]
    r = admin.post(service_url(hub, "accounts/jerome.muller/remove"), data={"_xsrf": xsrf, "confirm": "wrong"})
    assert r.status_code == 400 and "jerome.muller" in box.passwd()
    r = admin.post(service_url(hub, "accounts/jerome.muller/remove"), data={"_xsrf": xsrf, "confirm": "jerome.muller"})
    assert r.status_code == 200 and "jerome.muller" not in box.passwd(), (r.status_code, r.text[-2000:])
    assert list((box.srv / "jupyterhub" / "archived-homes").glob("jerome.muller*"))


def test_servers_page_stops_after_confirmation(running, admin):
    _, hub = running
    hub.api("POST", f"/users/{TEACHER}/server")
    for _ in range(100):
        if hub.api("GET", f"/users/{TEACHER}")["servers"].get("", {}).get("ready"):
            break
        __import__("time").sleep(0.3)
    page = admin.get(service_url(hub, "servers"))
    assert TEACHER in page.text
    r = admin.post(service_url(hub, "servers"), data={"_xsrf": xsrf_of(page.text), "mode": "idle", "minutes": "60"})
    assert "Aucun serveur ne correspond" in r.text  # just started: not idle
    r = admin.post(service_url(hub, "servers"), data={"_xsrf": xsrf_of(page.text), "mode": "all"})
    assert "Arrêter 1 serveur\u00a0?" in r.text and TEACHER in r.text  # asked, not done
    assert hub.api("GET", f"/users/{TEACHER}")["servers"]
    r = admin.post(service_url(hub, "servers"), data={"_xsrf": xsrf_of(page.text), "confirm": "1", "user": TEACHER})
    assert r.status_code == 200 and "1 serveur arrêté." in r.text
    assert not hub.api("GET", f"/users/{TEACHER}")["servers"]


def test_upload_limit(running, admin, admin_token):
    _, hub = running
    big = b"nom;prenom;classe\n" + b"DUPONT;Jean;2nde1\n" * (6 * 1024 * 1024 // 18)
    page = admin.get(service_url(hub, "import"))
    r = admin.post(service_url(hub, "import"), files={"file": ("big.csv", big)}, data={"_xsrf": xsrf_of(page.text)})
    assert r.status_code == 413 and "trop gros" in r.text and "5 Mo" in r.text
    r = requests.post(service_url(hub, "api/imports?dry_run=1"), data=big, headers=token_headers(admin_token))
    assert r.status_code == 413 and "at most 5 MB" in r.json()["error"]
    # far beyond the limit: still a clear answer, the body is read and dropped
    r = requests.post(service_url(hub, "api/imports"), data=big * 8, headers=token_headers(admin_token))
    assert r.status_code == 413


def test_concurrent_import_refused(running, admin_token):
    box, hub = running
    lines = "nom;prénom;classe\n" + "".join(f"ELEVE{i:04d};Test;T{i % 5}\n" for i in range(300))
    headers = token_headers(admin_token)
    first = requests.post(service_url(hub, "api/imports"), data=lines.encode(), headers=headers)
    assert first.status_code == 202, first.text
    second = requests.post(service_url(hub, "api/imports"), data=lines.encode(), headers=headers)
    assert second.status_code == 409 and "already running" in second.json()["error"]
    job = requests.get(service_url(hub, f"api/jobs/{first.json()['id']}?wait=60"), headers=headers).json()
    assert job["state"] == "done", job
    # The CLI holding the registry lock: the service refuses clearly too
    holder = box.popen(["flock", "/srv/jupyterhub/jhub-admin.sqlite.lock", "sleep", "20"])
    try:
        __import__("time").sleep(0.5)
        r = requests.post(service_url(hub, "api/imports"), data=lines.encode(), headers=headers)
        assert r.status_code == 409 and "another jhub-admin operation" in r.json()["error"]
    finally:
        holder.kill()
        holder.wait()


def import_when_free(hub, token, data):
    """An import through the API once the job that an earlier test left running is finished."""
    for _ in range(120):
        r = requests.post(service_url(hub, "api/imports"), data=data, headers=token_headers(token))
        if r.status_code != 409:
            break
        time.sleep(0.5)
    assert r.status_code == 202, r.text
    return wait_job(hub, token, r.json()["id"])


def wait_job(hub, token, job_id):
    r = requests.get(service_url(hub, f"api/jobs/{job_id}?wait=60"), headers=token_headers(token))
    assert r.json()["state"] == "done", r.json()
    return r.json()


def test_a_teacher_with_admin_rights_from_the_roster_then_from_the_accounts_page(running, admin, admin_token):
    box, hub = running
    roster = ("identifiant;mot de passe;profil;nom;prénom;classe\n"
              "m.durand;Durand-Passw0rd-9;enseignant+admin;DURAND;Marie;T NSI\n").encode()
    import_when_free(hub, admin_token, roster)
    user = hub.api("GET", "/users/m.durand")
    assert user["admin"] is True and "teachers" in user["groups"] and "admins" not in user["groups"]
    account = requests.get(service_url(hub, "api/accounts/m.durand"), headers=token_headers(admin_token)).json()
    assert (account["role"], account["admin"]) == ("teacher", True)
    # The teacher opens the admin service, and cannot take their own rights away.
    teacher = login(hub, "m.durand", "Durand-Passw0rd-9")
    page = teacher.get(service_url(hub, "accounts/m.durand"))
    assert page.status_code == 200 and 'id="jha-hub-admin" checked' in page.text
    assert "enseignant + droits d'administration" in html.unescape(page.text)
    r = teacher.post(service_url(hub, "accounts/m.durand/change"),
                     data={"_xsrf": xsrf_of(page.text), "role": "teacher", "classes": "T NSI", "admin_shown": "1"})
    assert r.status_code == 400 and hub.api("GET", "/users/m.durand")["admin"] is True
    # Another admin unticks the box: the hub's flag goes, the role and the class stay.
    page = admin.get(service_url(hub, "accounts/m.durand"))
    r = admin.post(service_url(hub, "accounts/m.durand/change"),
                   data={"_xsrf": xsrf_of(page.text), "role": "teacher", "classes": "T NSI", "admin_shown": "1"})
    assert r.status_code == 200 and 'id="jha-hub-admin">' in r.text
    user = hub.api("GET", "/users/m.durand")
    assert user["admin"] is False and {"teachers", "class-t-nsi"} <= set(user["groups"])
    assert login(hub, "m.durand", "Durand-Passw0rd-9").get(service_url(hub, "accounts")).status_code == 403
    # A re-import that does not say leaves the flag; the JSON API gives it back; a student cannot have it.
    again = roster.replace(b"enseignant+admin", b"enseignant")
    assert import_when_free(hub, admin_token, again)["summary"]["counts"]["update"] == 0
    r = requests.patch(service_url(hub, "api/accounts/m.durand"), json={"admin": True},
                       headers=token_headers(admin_token))
    assert r.status_code == 200 and r.json()["admin"] is True and hub.api("GET", "/users/m.durand")["admin"] is True
    r = requests.patch(service_url(hub, f"api/accounts/{STUDENT}"), json={"admin": True},
                       headers=token_headers(admin_token))
    assert r.status_code == 400 and "student cannot be an admin" in r.json()["error"]
    assert hub.api("GET", f"/users/{STUDENT}")["admin"] is False


def test_bulk_actions_of_the_accounts_page_on_a_whole_class(running, admin, admin_token):
    box, hub = running
    pupils = ["bulk.un", "bulk.deux", "bulk.trois"]
    import_when_free(hub, admin_token, ("login;password;role;class\n" + "".join(
        f"{p};Bulk-Passw0rd-42;student;1BULK\n" for p in pupils)).encode())
    page = admin.get(service_url(hub, "accounts?class=1BULK"))
    xsrf = xsrf_of(page.text)
    assert 'id="jha-bulk-remove"' in page.text and 'id="jha-bulk-every"' in page.text

    def bulk(action, **form):
        return admin.post(service_url(hub, "accounts/_bulk"), allow_redirects=False,
                          data={"_xsrf": xsrf, "action": action, "back": PREFIX + "accounts?class=1BULK", **form})

    r = bulk("disable", login=pupils[:2])  # two ticked: asked first, on a page that lists them
    assert r.status_code == 200 and "Désactiver 2 comptes\u00a0?" in html.unescape(r.text)
    assert not box.shadow()["bulk.un"].startswith("!")
    r = bulk("disable", login=pupils[:2], confirm="2")
    assert r.status_code == 303 and r.headers["Location"].endswith("accounts?class=1BULK")
    shadow = box.shadow()
    assert shadow["bulk.un"].startswith("!") and shadow["bulk.deux"].startswith("!")
    assert not shadow["bulk.trois"].startswith("!") and "bulk.un" not in {u["name"] for u in hub.api("GET", "/users")}
    assert bulk("disable", login=[ADMIN, "bulk.trois"], confirm="2").status_code == 400  # never oneself
    assert not box.shadow()["bulk.trois"].startswith("!")
    r = bulk("enable", every="1", **{"class": "1BULK"})  # every account of the class
    assert r.status_code == 303 and not any(box.shadow()[p].startswith("!") for p in pupils)

    r = bulk("reset", every="1", **{"class": "1BULK"})  # asked first, on a page that lists them
    assert r.status_code == 200 and all(p in r.text for p in pupils) and "Tapez 3" in r.text
    assert box.shadow()["bulk.un"] == shadow["bulk.un"].lstrip("!")  # nothing changed yet
    r = bulk("reset", login=pupils, confirm="3")
    assert r.status_code == 303 and "/jobs/" in r.headers["Location"]
    job_id = r.headers["Location"].rsplit("/", 1)[-1]
    wait_job(hub, admin_token, job_id)
    credentials = admin.get(service_url(hub, f"jobs/{job_id}/credentials.csv")).content.decode("utf-8-sig")
    passwords = dict(line.split(";")[:2] for line in credentials.splitlines()[1:])
    assert set(passwords) == set(pupils)
    login(hub, "bulk.deux", passwords["bulk.deux"])
    slips = admin.get(service_url(hub, f"jobs/{job_id}/slips")).text
    assert slips.count('class="jha-slip"') == 3

    r = bulk("remove", every="1", **{"class": "1BULK"})
    assert r.status_code == 200 and "Supprimer 3 comptes\u00a0?" in html.unescape(r.text)
    r = bulk("remove", login=pupils, confirm="2")  # the wrong number: asked again, nothing removed
    assert r.status_code == 200 and all(p in box.passwd() for p in pupils)
    r = bulk("remove", login=pupils, confirm="3")
    job = wait_job(hub, admin_token, r.headers["Location"].rsplit("/", 1)[-1])
    assert job["summary"]["removed"] == 3 and not set(pupils) & set(box.passwd())
    archives = {p.name.split("-")[0] for p in (box.srv / "jupyterhub" / "archived-homes").glob("bulk.*.tar.gz")}
    assert archives == set(pupils)


def test_a_corrected_name_in_next_year_s_list_renames_the_pupil_on_the_import_page(running, admin, admin_token):
    """The Import page's preview says "renamed", and applying it keeps the account, its uid and
    its files; no second account is made."""
    box, hub = running
    header = "NOM;PRENOM;NE(E) LE;DIV.\n"
    import_when_free(hub, admin_token, (header + "PERIN;Jade;02/05/2009;1RENOM\n").encode())
    uid = box.passwd()["jade.perin"][2]
    (box.home / "jade.perin" / "devoir.ipynb").write_text("{}")
    page = admin.get(service_url(hub, "import"))
    corrected = (header + "PERRIN;Jade;02/05/2009;TRENOM\n").encode("cp1252")
    for _ in range(120):  # the job that an earlier test left running
        r = admin.post(service_url(hub, "import"), files={"file": ("rentree.csv", corrected)},
                       data={"_xsrf": xsrf_of(page.text)})
        if r.status_code != 409:
            break
        time.sleep(0.5)
    assert r.status_code == 200 and "/import/preview/" in r.url
    text = html.unescape(r.text)
    assert "À créer\u00a0: 0" in text and "renommé" in text and "PERIN → PERRIN" in text
    r = admin.post(r.url, data={"_xsrf": xsrf_of(r.text), "reset_passwords": ""})
    wait_job(hub, admin_token, r.url.rsplit("/", 1)[1])
    account = requests.get(service_url(hub, "api/accounts/jade.perin"), headers=token_headers(admin_token)).json()
    assert (account["last_name"], account["classes"]) == ("PERRIN", ["TRENOM"])
    assert box.passwd()["jade.perin"][2] == uid and "jade.perrin" not in box.passwd()
    assert (box.home / "jade.perin" / "devoir.ipynb").exists()


def test_leavers_are_marked_then_removed_and_their_work_is_kept_as_a_zip_to_hand_over(running, admin, admin_token):
    box, hub = running
    import_when_free(hub, admin_token, b"login;password;role;class\npart.un;Part-Passw0rd-42;student;TPART\n"
                                       b"part.deux;Part-Passw0rd-42;student;TPART\n")
    (box.home / "part.un" / "Projet").mkdir()
    (box.home / "part.un" / "Projet" / "jeu.py").write_text("print('ok')\n")
    os.chown(box.home / "part.un" / "Projet", int(box.passwd()["part.un"][2]), -1)
    os.chown(box.home / "part.un" / "Projet" / "jeu.py", int(box.passwd()["part.un"][2]), -1)
    (box.home / "part.un" / "secret").symlink_to("/etc/shadow")
    page = admin.get(service_url(hub, "accounts?class=TPART"))
    r = admin.post(service_url(hub, "accounts/_bulk"), allow_redirects=False,
                   data={"_xsrf": xsrf_of(page.text), "action": "leave", "every": "1", "class": "TPART"})
    assert r.status_code == 303
    year = admin.get(service_url(hub, "year"))
    assert year.status_code == 200 and "Partent en fin d" in html.unescape(year.text)
    assert "part.un" in year.text and "part.deux" in year.text
    assert "part.un" in admin.get(service_url(hub, "accounts?state=leaving")).text
    # The Year page's button: the bulk removal's confirmation, then the job.
    r = admin.post(service_url(hub, "accounts/_bulk"), allow_redirects=False,
                   data={"_xsrf": xsrf_of(year.text), "action": "remove", "login": ["part.un", "part.deux"],
                         "confirm": "2", "back": PREFIX + "year"})
    wait_job(hub, admin_token, r.headers["Location"].rsplit("/", 1)[-1])
    year = admin.get(service_url(hub, "year")).text
    names = re.findall(r'href="[^"]*/year/handover/(part\.un-[^"]+\.zip)"', year)
    assert len(names) == 1, year[-3000:]
    zipped = admin.get(service_url(hub, f"year/handover/{names[0]}"))
    assert zipped.status_code == 200 and zipped.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as z:
        assert z.namelist() == ["Projet/jeu.py"] and z.read("Projet/jeu.py") == b"print('ok')\n"
    assert admin.get(service_url(hub, "year/handover/..%2Fjhub-admin.sqlite")).status_code == 404
    assert login(hub, TEACHER, TEACHER_PASSWORD).get(service_url(hub, "year")).status_code == 403


def test_the_import_preview_proposes_the_absent_pupils_as_leavers(running, admin, admin_token):
    box, hub = running
    import_when_free(hub, admin_token, b"login;role;class\nab.reste;student;TAB\nab.part;student;TAB\nab.prof;teacher;TAB\n")
    page = admin.get(service_url(hub, "import"))
    r = admin.post(service_url(hub, "import"), files={"file": ("rentree.csv", b"login;role;class\nab.reste;student;1AB\n")},
                   data={"_xsrf": xsrf_of(page.text)})
    form = r.text.split('id="jha-absent-leaving"')[1].split("</form>")[0]
    proposed = re.findall(r'name="login" value="([^"]+)"', form)
    assert "ab.part" in proposed and "ab.reste" not in proposed and "ab.prof" not in proposed  # pupils only
    r = admin.post(service_url(hub, "accounts/_bulk"), allow_redirects=False,
                   data={"_xsrf": xsrf_of(r.text), "action": "leave", "login": proposed, "back": PREFIX + "year"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/year")
    accounts = requests.get(service_url(hub, "api/accounts?class=TAB"), headers=token_headers(admin_token)).json()
    assert {a["login"]: a["leaving"] for a in accounts["accounts"]} == {"ab.reste": False, "ab.part": True,
                                                                      "ab.prof": False}
