"""My class (service/class_app.py) on a real hub: a teacher starts the servers of their own
course's students before the lesson, and no one else's; a student is refused."""
import html
import io
import re
import sys
import time

import pytest
import requests

from servicetools import (ADMIN, ADMIN_PASSWORD, STUDENT, STUDENT_PASSWORD, TEACHER, TEACHER_PASSWORD, login,
                          xsrf_of)

CLASS_PAGE = "/services/jhub-class/"
OTHER_TEACHER = "prof.durand"
MY_STUDENTS = ("eleve.c1", "eleve.c2")
OTHER_STUDENT = "eleve.d1"
ROSTER = ("login;password;role;class\n"
          + "".join(f"{login};Classe-Passw0rd-42;student;2C\n" for login in MY_STUDENTS)
          + f"{OTHER_STUDENT};Classe-Passw0rd-42;student;2D\n{OTHER_TEACHER};Classe-Passw0rd-42;teacher;\n")


def cli(box, hub, *args):
    box.run([sys.executable, "-m", "jhub_admin_service.cli", *args], env=hub.cli_env())


@pytest.fixture(scope="module")
def courses(running):
    box, hub = running
    roster = box.root / "classes.csv"
    roster.write_text(ROSTER)
    cli(box, hub, "import", str(roster), "--yes")
    cli(box, hub, "courses", "create", "nsi2c", "--teacher", TEACHER)
    cli(box, hub, "courses", "enrol", "nsi2c", "--class", "2C")
    cli(box, hub, "courses", "create", "phys2d", "--teacher", OTHER_TEACHER)
    cli(box, hub, "courses", "enrol", "phys2d", "--class", "2D")
    cli(box, hub, "courses", "sync")
    yield
    for name in (*MY_STUDENTS, OTHER_STUDENT):
        hub.api("DELETE", f"/users/{name}/server")


def server_of(hub, name):
    return hub.api("GET", f"/users/{name}")["servers"].get("", {})


def test_a_teacher_sees_their_own_courses_and_a_student_is_refused(running, courses):
    _, hub = running
    teacher = login(hub, TEACHER, TEACHER_PASSWORD)
    home = teacher.get(hub.url + "/hub/home").text
    assert 'data-service="jhub-class"' in home and "Ma classe" in home
    page = teacher.get(hub.url + CLASS_PAGE)
    assert page.status_code == 200 and "Ma classe" in page.text
    assert 'data-course="nsi2c"' in page.text and "2 élèves dans le cours" in page.text
    assert "2 élèves sans serveur démarré\u00a0: le leur démarre à leur connexion" in page.text
    # The course is named by its class, as the teacher knows it; its id stays beside.
    assert re.search(r'jha-course-name">2C <span[^>]*>nsi2c</span>', page.text), page.text
    assert "phys2d" not in page.text
    admin_page = login(hub, ADMIN, ADMIN_PASSWORD).get(hub.url + CLASS_PAGE).text
    assert 'data-course="nsi2c"' in admin_page and 'data-course="phys2d"' in admin_page

    student = login(hub, STUDENT, STUDENT_PASSWORD)
    assert 'data-service="jhub-class"' not in student.get(hub.url + "/hub/home").text
    refused = student.get(hub.url + CLASS_PAGE)  # the hub's own refusal: no access:services scope
    assert refused.status_code == 403 and "nsi2c" not in refused.text
    token = hub.user_token(STUDENT)
    r = requests.get(hub.url + CLASS_PAGE + "api/courses", headers={"Authorization": f"token {token}"})
    assert r.status_code == 403


def test_a_teacher_cannot_start_another_teacher_s_class(running, courses):
    _, hub = running
    teacher = login(hub, TEACHER, TEACHER_PASSWORD)
    xsrf = xsrf_of(teacher.get(hub.url + CLASS_PAGE).text)
    r = teacher.post(hub.url + CLASS_PAGE + "courses/nsi2c/warm", data={"minutes": "30"})
    assert r.status_code == 403  # no XSRF token: refused, nothing started
    r = teacher.post(hub.url + CLASS_PAGE + "courses/phys2d/warm", data={"_xsrf": xsrf, "minutes": "30"})
    assert r.status_code == 404 and "pas de cours phys2d" in r.text
    r = teacher.post(hub.url + CLASS_PAGE + "courses/nsi2c/warm", data={"_xsrf": xsrf, "minutes": "100000"})
    assert r.status_code == 400 and "entre 1 et 480 minutes" in r.text
    assert not server_of(hub, OTHER_STUDENT) and not any(server_of(hub, s) for s in MY_STUDENTS)


def test_a_teacher_starts_their_course_s_servers_and_they_are_kept_for_the_lesson(running, courses):
    _, hub = running
    teacher = login(hub, TEACHER, TEACHER_PASSWORD)
    xsrf = xsrf_of(teacher.get(hub.url + CLASS_PAGE).text)
    r = teacher.post(hub.url + CLASS_PAGE + "courses/nsi2c/warm", data={"_xsrf": xsrf, "minutes": "30"})
    assert r.status_code == 200 and "Les serveurs de nsi2c démarrent (2)" in r.text

    headers = {"Authorization": f"token {hub.user_token(TEACHER)}"}
    again = requests.post(hub.url + CLASS_PAGE + "api/courses/nsi2c/warm", json={"minutes": 30}, headers=headers)
    assert again.status_code == 409  # one warm start per course at a time
    deadline = time.monotonic() + 180
    course = {}
    while time.monotonic() < deadline:
        mine = requests.get(hub.url + CLASS_PAGE + "api/courses", headers=headers).json()["courses"]
        course = next(c for c in mine if c["course"] == "nsi2c")
        if course["ready"] == 2 and course["warm"]["done"] == 2:
            break
        time.sleep(1)
    assert course["ready"] == 2, course
    assert course["warm"]["state"] == "running", course  # kept: the job records activity until then
    assert course["warm"]["meta"]["until"] - time.time() > 25 * 60
    assert all(server_of(hub, s).get("ready") for s in MY_STUDENTS)
    assert not server_of(hub, OTHER_STUDENT)
    page = html.unescape(teacher.get(hub.url + CLASS_PAGE).text)
    assert "2 élèves dans le cours" in page and "2 serveurs prêts\u00a0: leurs notebooks s'ouvrent aussitôt" in page
    assert "sans serveur" not in page and "Serveurs gardés en marche jusqu" in page
    # One student's server stops (logged out): every count of the page says so, none keeps the old number.
    hub.api("DELETE", f"/users/{MY_STUDENTS[0]}/server")
    deadline = time.monotonic() + 60
    while server_of(hub, MY_STUDENTS[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    page = html.unescape(teacher.get(hub.url + CLASS_PAGE).text)
    assert "1 serveur prêt\u00a0: son notebook s'ouvre aussitôt" in page and " sur 2" not in page
    assert "1 élève sans serveur démarré\u00a0: le sien démarre à sa connexion" in page and "2 serveurs" not in page


def test_a_teacher_downloads_their_course_s_grades_for_pronote_and_no_one_else_s(running, courses):
    """The links of My class: the course's sheet as .xlsx and .csv, from the teacher's gradebook."""
    from openpyxl import load_workbook

    from gradebooks import grade_as_teacher

    box, hub = running
    grade_as_teacher(box, TEACHER, "nsi2c", "tp1", [MY_STUDENTS[0]])
    teacher = login(hub, TEACHER, TEACHER_PASSWORD)
    page = teacher.get(hub.url + CLASS_PAGE).text
    assert re.search(r'href="[^"]*/courses/nsi2c/grades\.xlsx" download', page), page
    r = teacher.get(hub.url + CLASS_PAGE + "courses/nsi2c/grades.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["Content-Type"], r.text[:500]
    assert "notes-nsi2c.xlsx" in r.headers["Content-Disposition"]
    rows = [[c.value for c in row] for row in load_workbook(io.BytesIO(r.content)).active.iter_rows()]
    assert rows[0][:4] == ["Nom", "Prénom", "Classe", "tp1 /20"]
    assert sorted(str(row[3]) for row in rows[1:]) == ["16.67", "non rendu"] and {row[2] for row in rows[1:]} == {"2C"}
    csv_text = teacher.get(hub.url + CLASS_PAGE + "courses/nsi2c/grades.csv?assignment=tp1").content
    assert csv_text.startswith(b"\xef\xbb\xbf") and "16,67".encode() in csv_text
    assert teacher.get(hub.url + CLASS_PAGE + "courses/phys2d/grades.xlsx").status_code == 404  # not theirs
    student = login(hub, STUDENT, STUDENT_PASSWORD)
    assert student.get(hub.url + CLASS_PAGE + "courses/nsi2c/grades.csv").status_code == 403
