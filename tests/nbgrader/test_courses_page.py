"""The Courses page and API of the admin service, against a real JupyterHub running the service."""
import html
import os
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))

from nbtools import course_hub, gradebook_students, hub_group, jhub  # noqa: E402
from servicetools import ADMIN, ADMIN_PASSWORD, login, service_url, wait_for_service, xsrf_of  # noqa: E402

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def hub():
    with course_hub(before_import=wait_for_service) as running:
        yield running


@pytest.fixture(scope="module")
def admin(hub):
    return login(hub, ADMIN, ADMIN_PASSWORD, lang="fr")


def test_page_lists_courses_in_french_and_english(hub, admin):
    r = admin.get(service_url(hub, "courses"))
    assert r.status_code == 200
    assert "cours_prof_martin" in r.text and "prof.martin" in r.text and "Cours nbgrader" in r.text
    en = login(hub, ADMIN, ADMIN_PASSWORD, lang="en")
    assert "nbgrader courses" in en.get(service_url(hub, "courses")).text


def test_create_enrol_unenrol_from_the_page(hub, admin):
    page = admin.get(service_url(hub, "courses")).text
    xsrf = xsrf_of(page)
    r = admin.post(service_url(hub, "courses"), data={"_xsrf": xsrf, "action": "create", "course": "nsi_terminale",
                                                      "teacher": "prof.martin"})
    assert r.status_code == 200 and "nsi_terminale" in r.text
    r = admin.post(service_url(hub, "courses"), data={"_xsrf": xsrf, "action": "enrol", "course": "nsi_terminale",
                                                      "class": "T NSI", "students": ""})
    assert r.status_code == 200
    assert hub_group(hub, "nbgrader-nsi_terminale") == {"alice", "bob"}
    assert set(gradebook_students(hub.sandbox, "prof.martin", "nsi_terminale")) == {"alice", "bob"}
    r = admin.post(service_url(hub, "courses"), data={"_xsrf": xsrf, "action": "unenrol", "course": "nsi_terminale",
                                                      "class": "T NSI"})
    assert r.status_code == 200
    assert hub_group(hub, "nbgrader-nsi_terminale") == set()
    # A bad id is refused with a message, nothing is created.
    r = admin.post(service_url(hub, "courses"), data={"_xsrf": xsrf, "action": "create", "course": "NSI-T",
                                                      "teacher": "prof.martin"})
    assert r.status_code == 200 and "NSI-T" not in jhub(hub, "courses", "list").stdout
    # Without XSRF: refused.
    r = admin.post(service_url(hub, "courses"), data={"action": "sync"}, allow_redirects=False)
    assert r.status_code == 403


def test_api_with_admin_token_and_refusals(hub):
    token = hub.user_token(ADMIN)
    headers = {"Authorization": f"token {token}"}
    r = requests.post(service_url(hub, "api/courses/cours_prof_martin/enrol"), headers=headers,
                      json={"students": ["carol"]})
    assert r.status_code == 200, r.text
    assert "carol" in hub_group(hub, "nbgrader-cours_prof_martin")
    courses = {c["course_id"]: c for c in requests.get(service_url(hub, "api/courses"), headers=headers).json()["courses"]}
    assert courses["cours_prof_martin"]["members"] == ["carol"]
    r = requests.post(service_url(hub, "api/courses"), headers=headers, json={"course_id": "x-y", "teacher": "prof.martin"})
    assert r.status_code == 400 and "course id" in r.json()["error"]
    student = {"Authorization": f"token {hub.user_token('alice')}"}
    assert requests.get(service_url(hub, "api/courses"), headers=student).status_code == 403
    teacher = {"Authorization": f"token {hub.user_token('prof.martin')}"}
    assert requests.get(service_url(hub, "courses"), headers=teacher, allow_redirects=False).status_code == 403


def test_page_reports_an_exchange_folder_the_teacher_does_not_own_until_a_sync(hub, admin):
    box = hub.sandbox
    inbound = box.srv / "nbgrader" / "exchange" / "cours_prof_martin" / "inbound"
    alice = box.passwd()["alice"]
    os.chown(inbound, int(alice[2]), int(alice[3]))  # as if alice had made it
    page = html.unescape(admin.get(service_url(hub, "courses")).text)
    assert "cours_prof_martin/inbound appartient à alice et non à l'enseignant." in page
    assert 'id="jha-exchange-problems"' in page
    en = login(hub, ADMIN, ADMIN_PASSWORD, lang="en")
    assert "cours_prof_martin/inbound belongs to alice, not to the teacher." in en.get(service_url(hub, "courses")).text

    r = admin.post(service_url(hub, "courses"), data={"_xsrf": xsrf_of(page), "action": "sync"})
    assert r.status_code == 200 and "moved aside" in r.text  # the repair, in the sync's warnings
    assert 'id="jha-exchange-problems"' not in admin.get(service_url(hub, "courses")).text
    assert inbound.stat().st_uid == int(box.passwd()["prof.martin"][2])
