"""End-to-end: the teacher's half of the lesson, through the routes the pages use, in servers
started the way the product starts them (forked by the preloading process).

- the Formgrader's own HTTP calls in the teacher's server: generate, release, collect,
  autograde, a manual grade and a comment, generate and release feedback;
- the Assignment List's calls in the students' servers: fetch, validate, submit, fetch feedback;
- a terminal of the teacher's server (the terminal API, as JupyterLab opens one): every command
  that docs/courses.md gives teachers works as written.

No step here waits on a timeout to pass: an autograde that cannot reach its kernel fails in its
own 60 s and the score assertions fail with it.
"""
import asyncio
import io
import json
import re
import sys
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote, urljoin

import nbformat
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from e2e_stack import HubUser, enrolled_class

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from browsertools import ARTIFACTS, SCREENSHOTS, chromium, log_in, shot  # noqa: E402

ADMIN = "profadmin"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN}
#: The course and teacher that docs/courses.md takes as its example.
COURSE = "cours_marie_martin"
ASSIGNMENT = "tp1"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "courses.md"
PEOPLE = {"marie.martin": ("teacher", "Marie", "Martin"), "eleve.un": ("student", "Une", "Élève"),
          "eleve.deux": ("student", "Deux", "Élève")}


@pytest.fixture(scope="module")
def people(stack):
    """A teacher and two students of one class, imported with the CLI, logged in, servers started."""
    users = enrolled_class(stack, PEOPLE, "2NDE3", COURSE)
    for user in users.values():
        user.start_server()
    return users


def server_is_preloaded(stack, login):
    uid = stack.exec("hub", "id", "-u", login).stdout.strip()
    script = ("import os\nfor pid in filter(str.isdigit, os.listdir('/proc')):\n"
              "    try:\n        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
              "        if b'jupyterhub-singleuser' in cmd and os.stat(f'/proc/{pid}').st_uid == int(os.environ['U']):\n"
              "            ppid = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1]\n"
              "            print(b'classroom.preload' in open(f'/proc/{ppid}/cmdline', 'rb').read())\n"
              "    except OSError:\n        pass\n")
    return stack.exec("hub", "python3", "-c", script, env={"U": uid}).stdout.split() == ["True"]


def assignment_notebook():
    """An autograded function (2 points, a hidden test among them) and a written answer graded by
    hand (1 point)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (lycée)", "language": "python"}
    meta = {"schema_version": 3}
    nb.cells = [
        nbformat.v4.new_markdown_cell("Écrire `carre(x)`."),
        nbformat.v4.new_code_cell(
            "def carre(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            metadata={"nbgrader": {**meta, "solution": True, "grade": False, "locked": False, "grade_id": "carre"}}),
        nbformat.v4.new_code_cell(
            "assert carre(3) == 9\nassert carre(-2) == 4\n### BEGIN HIDDEN TESTS\nassert carre(12) == 144\n"
            "### END HIDDEN TESTS",
            metadata={"nbgrader": {**meta, "solution": False, "grade": True, "locked": True,
                                   "grade_id": "test_carre", "points": 2}}),
        nbformat.v4.new_markdown_cell(
            "=== BEGIN MARK SCHEME ===\nExpliquer.\n=== END MARK SCHEME ===\nVOTRE RÉPONSE ICI",
            metadata={"nbgrader": {**meta, "solution": True, "grade": True, "locked": False,
                                   "grade_id": "explication", "points": 1}}),
    ]
    return nb


def formgrader(teacher, method, route, **kw):
    """One call of the Formgrader's pages to the teacher's server, as its scripts make them."""
    r = teacher.api(method, f"/user/{teacher.name}/formgrader/api/{route}", timeout=kw.pop("timeout", 180), **kw)
    assert r.status_code == 200, (route, r.status_code, r.text[:2000])
    return r.json()


def assignment_list(student, action=None, assignment=ASSIGNMENT, course=COURSE):
    """One call of the Assignment List's pages to the student's server."""
    base = f"/user/{student.name}/assignments"
    if action is None:
        r = student.api("GET", base, params={"course_id": course})
    else:
        r = student.api("POST", f"{base}/{action}", data={"course_id": course, "assignment_id": assignment},
                        timeout=180)
    assert r.status_code == 200, (action, r.status_code, r.text[:2000])
    return r.json()


def write_assignment(teacher, assignment, course=COURSE):
    """The assignment's notebook in the teacher's source folder, saved as JupyterLab saves it."""
    source = f"/user/{teacher.name}/api/contents/{course}/source/{assignment}"
    assert teacher.api("PUT", source, json={"type": "directory"}).status_code in (200, 201)
    r = teacher.api("PUT", f"{source}/{assignment}.ipynb",
                    json={"type": "notebook", "format": "json", "content": assignment_notebook()})
    assert r.status_code in (200, 201), r.text


def publish(teacher, assignment, course=COURSE):
    """The teacher writes the assignment, then the Formgrader generates and releases it."""
    write_assignment(teacher, assignment, course)
    assert formgrader(teacher, "POST", f"assignment/{assignment}/assign")["success"]
    assert formgrader(teacher, "POST", f"assignment/{assignment}/release")["success"]


def hand_in(student, assignment, correct, course=COURSE):
    """Fetch, answer and submit, as the student's Assignment List does."""
    assignment_list(student, "fetch", assignment, course)
    answer(student, correct, assignment, course)
    submitted = assignment_list(student, "submit", assignment, course)
    assert all(a.get("status") for a in submitted["value"]), submitted


def answer(student, correct, assignment=ASSIGNMENT, course=COURSE):
    """The student's answer, saved through the contents API as JupyterLab saves it."""
    path = f"/user/{student.name}/api/contents/{course}/{assignment}/{assignment}.ipynb"
    model = student.api("GET", path).json()
    nb = nbformat.from_dict(model["content"])
    for cell in nb.cells:
        if "def carre" in cell.source:
            cell.source = "def carre(x):\n    return x * x" if correct else "def carre(x):\n    return 2 * x"
        elif cell.metadata.get("nbgrader", {}).get("grade_id") == "explication":
            cell.source = "Le carré d'un nombre est ce nombre multiplié par lui-même."
    r = student.api("PUT", path, json={"type": "notebook", "format": "json", "content": nb})
    assert r.status_code == 200, r.text


def test_servers_are_forked_by_the_preloading_process(stack, people):
    assert all(server_is_preloaded(stack, login) for login in PEOPLE)


def test_the_formgrader_grades_a_class_through_its_own_routes(stack, people):
    teacher = people["marie.martin"]
    publish(teacher, ASSIGNMENT)

    for login, correct in (("eleve.un", True), ("eleve.deux", False)):
        student = people[login]
        released = assignment_list(student)
        assert any(a["assignment_id"] == ASSIGNMENT for a in released["value"]), released
        assignment_list(student, "fetch")
        answer(student, correct)
        validated = student.api("POST", f"/user/{login}/assignments/validate",
                                data={"path": f"{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"}, timeout=180).json()
        assert validated["success"], validated
        assert ("failed" in validated["value"]) != correct, validated  # a wrong answer fails a test
        submitted = assignment_list(student, "submit")
        assert all(a.get("status") for a in submitted["value"]), submitted

    assert formgrader(teacher, "POST", f"assignment/{ASSIGNMENT}/collect")["success"]

    started = time.monotonic()
    graded = formgrader(teacher, "POST", f"submission/{ASSIGNMENT}/eleve.un/autograde")
    one_submission = time.monotonic() - started
    assert graded["success"], graded.get("error") or graded
    graded = formgrader(teacher, "POST", f"submission/{ASSIGNMENT}/eleve.deux/autograde")
    assert graded["success"], graded.get("error") or graded
    print(f"\n[e2e] one submission autograded through the Formgrader in {one_submission:.1f} s")

    submissions = {s["student"]: s for s in formgrader(teacher, "GET", f"submissions/{ASSIGNMENT}")}
    assert submissions["eleve.un"]["code_score"] == 2 and submissions["eleve.deux"]["code_score"] == 0, submissions
    assert all(s["needs_manual_grade"] for s in submissions.values())

    # The teacher grades the written answer by hand and comments it, as the grading page does.
    notebook_id = f"{ASSIGNMENT}"
    for login, points in (("eleve.un", 1), ("eleve.deux", 0.5)):
        nb_sub = next(n for n in formgrader(teacher, "GET", f"submitted_notebooks/{ASSIGNMENT}/{notebook_id}")
                      if n["student"] == login)
        grades = formgrader(teacher, "GET", "grades", params={"submission_id": nb_sub["id"]})
        manual = next(g for g in grades if g["name"] == "explication")
        saved = formgrader(teacher, "PUT", f"grade/{manual['id']}", json={**manual, "manual_score": points})
        assert saved["manual_score"] == points
        comments = formgrader(teacher, "GET", "comments", params={"submission_id": nb_sub["id"]})
        comment = next(c for c in comments if c["name"] == "explication")
        formgrader(teacher, "PUT", f"comment/{comment['id']}", json={**comment, "manual_comment": f"Bien, {login}"})

    scores = {s["student"]: (s["score"], s["max_score"], s["needs_manual_grade"])
              for s in formgrader(teacher, "GET", f"submissions/{ASSIGNMENT}")}
    assert scores == {"eleve.un": (3, 3, False), "eleve.deux": (0.5, 3, False)}, scores

    assert formgrader(teacher, "POST", f"assignment/{ASSIGNMENT}/generate_feedback")["success"]
    assert formgrader(teacher, "POST", f"assignment/{ASSIGNMENT}/release_feedback")["success"]
    for login in ("eleve.un", "eleve.deux"):
        fetched = assignment_list(people[login], "fetch_feedback")
        submission = next(sub for a in fetched["value"] if a["assignment_id"] == ASSIGNMENT
                          for sub in a.get("submissions", []) if sub.get("has_local_feedback"))
        # What "(view feedback)" opens (courses/feedback_view): the page itself.
        r = people[login].api("GET", f"/user/{login}/jhub-admin/feedback", params={"timestamp": submission["timestamp"]})
        assert r.status_code == 200 and r.url.endswith(f"/feedback/{quote(submission['timestamp'])}/{ASSIGNMENT}.html")
        page = r.content.decode("utf-8")
        assert f"Bien, {login}" in page
        # In French (the course's language; its script shows the English beside it to an English
        # browser), and the hidden test is nowhere in it.
        text = re.sub(r"<[^>]+>", "", page)
        assert "Réponse de l'élève" in text and "Commentaires\u00a0:" in text and "Student's answer" not in text
        assert "carre(12)" not in text and "HIDDEN" not in page


def grading(teacher, method, route, **kw):
    """A call of jhub-admin's additions to the Formgrader (courses/grading) in the teacher's server."""
    return teacher.api(method, f"/user/{teacher.name}/jhub-admin/grading/{route}", **kw)


def autograde_everything(teacher, assignment, timeout=300):
    """'Autograde every submission', then its progress until it ends; returns the last state
    and every progress count seen."""
    r = grading(teacher, "POST", f"assignments/{assignment}/autograde")
    assert r.status_code == 202, r.text
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = grading(teacher, "GET", f"assignments/{assignment}/autograde").json()
        seen.append(job["done"])
        if job["state"] != "running":
            return job, seen
        time.sleep(0.5)
    raise AssertionError(f"the autograde of {assignment} did not end: {job}")


def scores_of(teacher, assignment):
    return {s["student"]: (s["score"], s["max_score"], s["needs_manual_grade"])
            for s in formgrader(teacher, "GET", f"submissions/{assignment}")}


def test_autograde_every_new_submission_leaves_graded_ones_and_their_manual_grades(stack, people):
    teacher = people["marie.martin"]
    before = scores_of(teacher, ASSIGNMENT)  # autograded, then graded by hand, in the test above
    job, seen = autograde_everything(teacher, ASSIGNMENT)
    assert job["state"] == "done" and job["total"] == 0 and not job["failed"], job
    assert scores_of(teacher, ASSIGNMENT) == before
    # A student who hands in again is graded again, alone.
    hand_in(people["eleve.deux"], ASSIGNMENT, correct=True)
    assert formgrader(teacher, "POST", f"assignment/{ASSIGNMENT}/collect")["success"]
    job, seen = autograde_everything(teacher, ASSIGNMENT)
    assert job["state"] == "done" and job["total"] == 1 and job["done"] == 1 and not job["failed"], job
    assert seen == sorted(seen)
    after = scores_of(teacher, ASSIGNMENT)
    # Its new code score, its earlier manual grade kept and flagged to be checked (nbgrader's rule).
    assert after["eleve.un"] == before["eleve.un"] and after["eleve.deux"] == (2.5, 3, True), after
    # An assignment with nothing collected ends at once, with nothing graded.
    empty, _ = autograde_everything(teacher, "inexistant")
    assert empty["state"] == "done" and empty["total"] == 0, empty


def test_a_second_course_is_two_clicks_away_without_a_restart(stack, people):
    teacher = people["marie.martin"]
    stack.exec("hub", "jhub-admin", "courses", "create", "nsi_terminale", "--teacher", teacher.name)
    stack.exec("hub", "jhub-admin", "courses", "enrol", "nsi_terminale", "--class", "2NDE3")
    started = teacher.api("GET", f"/hub/api/users/{teacher.name}").json()["servers"][""]["started"]
    menu = grading(teacher, "GET", "courses").json()
    assert menu["active"] == COURSE
    assert {c["course_id"]: c["classes"] for c in menu["courses"]} == {COURSE: ["2NDE3"], "nsi_terminale": ["2NDE3"]}

    assert grading(teacher, "POST", "courses", json={"course_id": "nsi_terminale"}).json() == {
        "active": "nsi_terminale"}
    assignments = {a["name"] for a in formgrader(teacher, "GET", "assignments")}
    assert ASSIGNMENT not in assignments, assignments
    assert {s["id"] for s in formgrader(teacher, "GET", "students")} == {"eleve.un", "eleve.deux"}
    assert grading(teacher, "POST", "courses", json={"course_id": "cours_de_quelqu_un"}).status_code == 400
    assert grading(teacher, "POST", "courses", json={"course_id": COURSE}).status_code == 200
    assert ASSIGNMENT in {a["name"] for a in formgrader(teacher, "GET", "assignments")}
    assert teacher.api("GET", f"/hub/api/users/{teacher.name}").json()["servers"][""]["started"] == started


def formgrader_button(page, assignment, column):
    """One of the Formgrader's buttons on an assignment's row, then nbgrader's report: a success."""
    page.locator("#main-table tr", has_text=assignment).locator(f"td.{column} a").click()
    report = page.locator("#success-modal, #error-modal")
    report.wait_for()
    assert report.get_attribute("id") == "success-modal", report.inner_text()
    close_report(report)


def close_report(report, attempts=10):
    """nbgrader's report closed with its OK button, clicked again as a teacher would when a click
    lands during the dialog's fade-in (Bootstrap 3 then ignores it and the dialog stays open)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        if report.count() == 0:
            return
        try:
            report.locator(".modal-footer button", has_text="OK").click(timeout=5000)
        except PlaywrightTimeout:
            pass  # gone meanwhile: the next turn sees it
        try:
            report.wait_for(state="detached", timeout=5000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("nbgrader's report does not close")


# The lesson in the browser, in French and in English ---------------------------------------------

#: English that a pupil of a French JupyterLab must not meet on the screens of the lesson: nbgrader's
#: words and JupyterLab's own (whole words, case-sensitive). What stays English on purpose:
#: "Nbgrader", the menu's name (the tool's name, as "Python" or "JupyterLab"), and whatever a
#: notebook or a file is called (cells, outputs and the file browser's names are not read).
ENGLISH = ["Released", "Downloaded", "Submitted", "assignments", "Assignment", "Assignments", "Fetch", "Fetching", "Submit",
           "Feedback", "feedback", "Validate", "Validation", "Success", "passes", "failed", "Loading", "Course",
           "Score", "Comments", "Comment", "Student", "answer", "Cancel", "Error", "Log Out", "Shut Down", "File",
           "Edit", "View", "Run", "Kernel", "Tabs", "Settings", "Help", "Restart", "Open", "Save", "Close", "Top"]
#: French that a pupil of an English JupyterLab must not meet (the course itself is French: its
#: notebooks and their header are, and are not read).
FRENCH = ["Récupérer", "Rendre", "Devoirs", "devoirs", "Valider", "Fichier", "Noyau", "Exécution", "Commentaires",
          "élève", "Réponse", "Paramètres", "Aide", "Note", "Haut"]
#: What is not read: what a pupil or a teacher wrote, and the names of files.
NOT_READ = (".jp-Cell, .jp-OutputArea, .cm-editor, .jp-DirListing-content, .jp-BreadCrumbs, script, style, "
            ".rendered_html, .input_area, .output_area, pre, code")
#: nbgrader's own, though inside a cell: Create Assignment's toolbar of each cell.
READ_IN_CELLS = ".nbgrader-CellWidget"
SCREEN_TEXT = """([notRead, readInCells]) => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const element = node.parentElement;
        if (!element || !element.getClientRects().length) continue;
        if (element.closest(notRead) && !element.closest(readInCells)) continue;
        if (node.nodeValue.trim()) out.push(node.nodeValue.trim());
    }
    return out.join("\\n");
}"""


def screen_text(page) -> str:
    """The words on the screen (not hidden), but for what a person wrote and the files' names."""
    return page.evaluate(SCREEN_TEXT, [NOT_READ, READ_IN_CELLS])


def assert_no_words(page, words, where):
    text = screen_text(page)
    found = sorted(w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text))
    assert not found, f"{where}: {found} on screen:\n{text[:3000]}"
    return text


def other_language_words(language):
    return ENGLISH if language == "fr" else FRENCH


#: nbgrader's words, as each pupil's JupyterLab shows them.
LABELS = {"fr": {"list": "Liste des devoirs", "fetch": "Récupérer", "submit": "Rendre", "validate": "Valider",
                 "feedback": "Récupérer les retours", "view": "(voir le retour)", "released": "Devoirs distribués",
                 "results": "Résultats de la validation", "file": "Fichier", "log out": "Se déconnecter",
                 "tab": "Devoirs"},
          "en": {"list": "Assignment List", "fetch": "Fetch", "submit": "Submit", "validate": "Validate",
                 "feedback": "Fetch Feedback", "view": "(view feedback)", "released": "Released assignments",
                 "results": "Validation Results", "file": "File", "log out": "Log Out", "tab": "Assignments"}}
BROWSER_LOCALES = {"fr": "fr-FR", "en": "en-GB"}


def open_assignment_list(page, language="fr"):
    """JupyterLab's Nbgrader menu, then the Assignment List, on the course of this module."""
    from playwright.sync_api import expect

    page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
    item = page.locator("#jp-mainmenu-nbgrader .lm-Menu-item[data-command='nbgrader:open-assignment-list']")
    expect(item).to_have_text(LABELS[language]["list"])
    item.click()
    page.get_by_text(LABELS[language]["released"], exact=True).wait_for()
    chosen = page.locator("#course_list_default")
    expect(chosen).not_to_have_text(re.compile("Loading|Chargement"))
    if chosen.inner_text().strip() != COURSE:  # the students have a second course since the test above
        page.click("#course_list_dropdown")
        page.locator("#course_list a", has_text=COURSE).click()
        expect(chosen).to_have_text(COURSE)


def assignment_row(page, listing, assignment):
    """An assignment's row (not one of its notebooks' or submissions' rows) in one of the lists."""
    return page.locator(f"#{listing} .list_item:not(.nested_list_item)", has_text=assignment)


def first_login_with_a_new_password(page, stack, student, new_password):
    """The pupil logs in with the slip's password, and the hub asks for one of their own first."""
    page.goto(stack.url + "/hub/login")
    page.fill("#username_input", student.name)
    page.fill("#password_input", student.password)
    page.click("#login_submit")
    page.wait_for_url("**/services/jhub-password/**first=1**")
    page.fill("#jha-current", student.password)
    page.fill("#jha-new", new_password)
    page.fill("#jha-again", new_password)
    page.click("#jha-password-form button[type=submit]")
    page.locator("#jha-password-done").wait_for()
    student.password = new_password
    page.click("#jha-password-continue")
    page.wait_for_url(f"**/user/{student.name}/lab**")


def follow_the_header(page, menu_path):
    """What the assignment's header says to do before handing in ("Menu → Item", in bold), done
    through the menus it names."""
    from playwright.sync_api import expect

    menu, item = menu_path.split(" → ")
    page.locator("#jp-menu-panel").get_by_text(menu, exact=True).click()
    entry = page.locator(".lm-Menu-item:visible", has_text=item.rstrip("…"))
    expect(entry).to_have_count(1)
    assert entry.inner_text().strip() == item
    entry.click()
    assert_no_words(page, ENGLISH, "the restart's dialog")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    # the header's own code cell, the first to run, shows its execution count once the restarted
    # kernel ran it (playwright's 5 s default is too short for a restart on a busy CI machine)
    expect(page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt").first).to_have_text(
        re.compile(r"\[\d+\]"), timeout=60_000)


def pupil_lesson(browser, stack, student, language, correct):
    """A pupil's lesson in their browser's language: first login with a new password (French pupil)
    or later (English pupil), the Assignment List, fetch, the notebook, validate, submit. Every
    screen is read for words of the other language."""
    from playwright.sync_api import expect

    words, labels = other_language_words(language), LABELS[language]
    context = browser.new_context(locale=BROWSER_LOCALES[language], viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    if language == "fr":
        first_login_with_a_new_password(page, stack, student, "Marée-haute-2027")
    else:
        log_in(page, stack.url, student.name, student.password)  # "Later", on the first-login page
        page.wait_for_url(f"**/user/{student.name}/lab**")
    open_assignment_list(page, language)
    assert_no_words(page, words, "the Assignment List")
    # The File menu offers to log out once.
    page.locator("#jp-menu-panel").get_by_text(labels["file"], exact=True).click()
    assert page.locator(".lm-Menu-item:visible", has_text=labels["log out"]).count() == 1
    assert_no_words(page, words, "the File menu")
    page.keyboard.press("Escape")
    if language == "fr":
        page.screenshot(path=str(SCREENSHOTS / "assignment-list-fr.png"))

    assignment_row(page, "released_assignments_list", "tp2").get_by_role("button", name=labels["fetch"]).click()
    fetched = assignment_row(page, "fetched_assignments_list", "tp2")
    submit = fetched.get_by_role("button", name=labels["submit"])
    submit.wait_for()
    answer(student, correct, "tp2")  # JupyterLab's save of the notebook, through the contents API
    fetched.locator("a.assignment-notebooks-link").click()  # the assignment's notebooks, then the one
    page.locator("#fetched_assignments_list .nested_list_item a", has_text="tp2").first.click()
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.locator(".jp-Cell").first.wait_for()
    header = notebook.locator(".jp-MarkdownCell").first
    expect(header).to_contain_text("Avant de rendre ce devoir")  # the course is French: so is its header
    if language == "fr":
        follow_the_header(page, header.locator("strong").first.inner_text())
    page.locator(".validate-button:visible").click()
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_text(labels["results"]).wait_for()
    assert_no_words(page, words, "the validation's results")
    if language == "fr":
        page.screenshot(path=str(SCREENSHOTS / "validate-fr.png"))
        assert ("Bravo" in dialog.inner_text()) is correct, dialog.inner_text()
    dialog.get_by_role("button").last.click()
    page.locator(".lm-TabBar-tab", has_text=labels["tab"]).click()
    submit.click()
    assignment_row(page, "submitted_assignments_list", "tp2").wait_for()
    assert_no_words(page, words, "the Assignment List after submitting")
    context.close()


def pupil_reads_feedback(browser, stack, student, language, score):
    """Fetch the feedback, then "(view feedback)": the page, in the pupil's language."""
    words, labels = other_language_words(language), LABELS[language]
    reader = browser.new_context(locale=BROWSER_LOCALES[language], viewport={"width": 1400, "height": 900})
    mine = reader.new_page()
    mine.set_default_timeout(120_000)
    log_in(mine, stack.url, student.name, student.password)
    mine.wait_for_url(f"**/user/{student.name}/lab**")
    open_assignment_list(mine, language)
    submitted = assignment_row(mine, "submitted_assignments_list", "tp2")
    submitted.get_by_role("button", name=labels["feedback"]).click()
    view = submitted.locator("a", has_text=labels["view"])
    view.wait_for()
    assert_no_words(mine, words, "the Assignment List with the feedback")
    with reader.expect_page() as opened:
        view.click()
    feedback = opened.value
    feedback.wait_for_load_state()
    assert re.search(rf"/user/{student.name}/files/{COURSE}/tp2/feedback/[^/]+/tp2.html$", feedback.url), feedback.url
    assert_no_words(feedback, words + ["In", "Out"], "the feedback page")
    body = re.sub(r"[ \t\n]+", " ", feedback.locator("body").inner_text())  # (keeps the no-break spaces)
    assert score in body and "carre(12)" not in body, body[:2000]
    feedback.screenshot(path=str(ARTIFACTS / f"student-feedback-page-{language}.png"))
    if language == "fr":
        feedback.screenshot(path=str(SCREENSHOTS / "feedback-fr.png"))
    # nbgrader's own answer to the click, the file browser sent into the feedback's folder, did not run.
    assert "feedback" not in mine.locator(".jp-FileBrowser .jp-BreadCrumbs").first.inner_text()
    reader.close()


def add_assignment_dialog(page, attempts=10):
    """"Ajouter un devoir…", clicked again as a teacher would when the first click lands before
    the page's scripts are ready."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        page.get_by_role("link", name="Ajouter un devoir…").click()
        try:
            page.locator("#add-assignment-modal input.name").wait_for(timeout=5000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("the dialog to add an assignment does not open")


def create_assignment_in_french(page, stack, teacher):
    """The teacher opens the assignment's notebook and nbgrader's Create Assignment: its side panel
    and each cell's toolbar are French."""
    page.goto(stack.url + f"/user/{teacher.name}/lab/tree/{COURSE}/source/tp2/tp2.ipynb")
    page.locator(".jp-NotebookPanel:visible .jp-Cell").first.wait_for()
    page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
    page.locator("#jp-mainmenu-nbgrader .lm-Menu-item[data-command='nbgrader:open-create-assignment']").click()
    page.locator(".nbgrader-CellType select").first.wait_for()
    options = {o.strip() for o in page.locator(".nbgrader-CellType select option").all_inner_texts()}
    assert options == {"-", "Réponse corrigée manuellement", "Tâche corrigée manuellement",
                       "Réponse corrigée automatiquement", "Tests de correction automatique", "Lecture seule"}, options
    assert_no_words(page, ["Manually", "Autograded", "Read-only", "Create", "Total points", "Type:", "ID:"],
                    "Create Assignment")
    page.screenshot(path=str(SCREENSHOTS / "create-assignment-fr.png"))


def test_in_the_browser_a_lesson_from_a_new_assignment_to_the_feedback_read(stack, people):
    """The buttons teacher and pupils press, in Chromium. The teacher adds an assignment in the
    Formgrader (its notebook saved through the contents API, as JupyterLab saves it), generates and
    releases it; a pupil with a French browser and one with an English browser each fetch it,
    open it, validate it and submit it in JupyterLab's Assignment List, each screen in their own
    language; the teacher collects, autogrades one submission with nbgrader's button and the rest
    with jhub-admin's, then generates and releases the feedback; each pupil fetches it and
    "(view feedback)" opens the page, in their language. Then the course menu."""
    teacher = people["marie.martin"]
    with chromium() as browser:
        desk = browser.new_context(locale="fr-FR", viewport={"width": 1400, "height": 900})
        page = desk.new_page()
        page.set_default_timeout(120_000)
        log_in(page, stack.url, teacher.name, teacher.password)
        page.wait_for_url(f"**/user/{teacher.name}/lab**")
        page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
        items = page.locator("#jp-mainmenu-nbgrader .lm-Menu-item:visible").all_inner_texts()
        assert [i.strip() for i in items] == ["Liste des devoirs", "Liste des cours", "Formgrader", "Créer un devoir"], items
        page.keyboard.press("Escape")
        manage = stack.url + f"/user/{teacher.name}/formgrader/manage_assignments"
        page.goto(manage)
        add_assignment_dialog(page)
        page.locator("#add-assignment-modal input.name").fill("tp2")
        page.locator("#add-assignment-modal button.save").click()
        page.locator("#main-table tr", has_text="tp2").wait_for()
        write_assignment(teacher, "tp2")
        create_assignment_in_french(page, stack, teacher)
        page.goto(manage)
        page.locator("#main-table tr", has_text="tp2").wait_for()
        assert_no_words(page, ["Manage Assignments", "Manual Grading", "Manage Students", "Name", "Due Date",
                               "Status", "Edit", "Generate", "Preview", "Release", "Collect", "Submissions",
                               "Feedback", "Add new", "Instructions", "Search"], "the Formgrader")
        page.screenshot(path=str(SCREENSHOTS / "formgrader-fr.png"))
        formgrader_button(page, "tp2", "assign")
        formgrader_button(page, "tp2", "release")

        pupil_lesson(browser, stack, people["eleve.un"], "fr", correct=False)
        pupil_lesson(browser, stack, people["eleve.deux"], "en", correct=True)

        page.goto(manage)
        formgrader_button(page, "tp2", "collect")
        page.goto(stack.url + f"/user/{teacher.name}/formgrader/manage_submissions/tp2")
        row = page.locator("#main-table tr", has_text="eleve.un")
        row.locator(".autograde a").click()  # nbgrader's own button, for one submission
        row.locator(".score", has_text="0").wait_for()
        close_report(page.locator("#success-modal"))  # nbgrader's report
        page.get_by_role("button", name="Corriger toutes les nouvelles copies").click()
        page.locator("#jha-autograde-status[data-state=done]", has_text="Copies corrigées\u00a0: 1").wait_for()
        page.screenshot(path=str(SCREENSHOTS / "formgrader-autograde-all.png"))
        assert {s: score[:2] for s, score in scores_of(teacher, "tp2").items()} == {
            "eleve.un": (0, 3), "eleve.deux": (2, 3)}
        page.goto(manage)
        formgrader_button(page, "tp2", "generate-feedback")
        formgrader_button(page, "tp2", "release-feedback")

        pupil_reads_feedback(browser, stack, people["eleve.un"], "fr", "tp2 (Note\u00a0: 0 / 3)")
        pupil_reads_feedback(browser, stack, people["eleve.deux"], "en", "tp2 (Score: 2 / 3)")

        menu = page.locator("#jha-course-menu")
        menu.select_option("nsi_terminale")  # the second click
        page.wait_for_url(f"**/user/{teacher.name}/formgrader/manage_assignments")
        assert page.locator("#jha-course-menu").input_value() == "nsi_terminale"
        page.screenshot(path=str(ARTIFACTS / "formgrader-course-menu.png"))
        page.locator("#jha-course-menu").select_option(COURSE)
        page.wait_for_url(f"**/user/{teacher.name}/formgrader/manage_assignments")
        page.locator("#main-table", has_text="tp2").wait_for()
        desk.close()


# The terminal ---------------------------------------------------------------------------------

def documented_terminal_commands():
    """The teacher's terminal commands that docs/courses.md gives: each line of its blocks
    marked ```bash (terminal)."""
    blocks = re.findall(r"```bash \(terminal\)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def run_in_terminal(user, commands, timeout=300):
    """Open a terminal of the user's server as JupyterLab does (REST, then its websocket), type
    the commands, and return what the terminal showed, with each command's exit status."""
    r = user.api("POST", f"/user/{user.name}/api/terminals")
    assert r.status_code == 200, r.text
    name = r.json()["name"]
    marker = uuid.uuid4().hex[:8]

    async def session():
        url = user.stack.url.replace("http", "ws", 1) + f"/user/{user.name}/terminals/websocket/{name}"
        ws = await asyncio.wait_for(websocket_connect(HTTPRequest(url, headers={
            "Authorization": f"token {user.token}"})), 30)
        script = "".join(f"{cmd}\necho \"{marker} $? {i}\"\n" for i, cmd in enumerate(commands))
        ws.write_message(json.dumps(["stdin", script + f"echo {marker}-done\n"]))
        shown, deadline = "", time.monotonic() + timeout
        while f"{marker}-done\r\n" not in shown.replace(f"echo {marker}-done", ""):
            raw = await asyncio.wait_for(ws.read_message(), max(1, deadline - time.monotonic()))
            if raw is None:
                break
            kind, *payload = json.loads(raw)
            if kind == "stdout":
                shown += payload[0]
        ws.close()
        return shown

    try:
        shown = asyncio.run(session())
    finally:
        user.api("DELETE", f"/user/{user.name}/api/terminals/{name}")
    # (not anchored at the line's start: bash's bracketed-paste sequences come before the output)
    statuses = {int(i): int(rc) for rc, i in re.findall(rf"{marker} (\d+) (\d+)\r?$", shown, re.M)}
    return shown, statuses


def test_every_documented_terminal_command_works_in_the_teacher_s_terminal(stack, people):
    commands = documented_terminal_commands()
    assert len(commands) >= 5, commands
    shown, statuses = run_in_terminal(people["marie.martin"], commands)
    failed = {commands[i]: rc for i, rc in statuses.items() if rc != 0}
    assert len(statuses) == len(commands) and not failed, f"{failed}\n{shown[-4000:]}"
    assert "/opt/kernel bibliothèques : ok" in shown  # `python` is the teaching kernel's
    assert "commande introuvable" not in shown and "command not found" not in shown, shown[-3000:]


# Restore points (issue 24): a pupil's file brought back, in French, by the admin and the teacher

def test_in_french_the_admin_and_the_teacher_bring_back_a_pupil_s_file_beside_the_current_one(stack, people):
    """The admin turns restore points on (the key shown once), makes a point and brings back the
    version of a pupil's notebook that the point holds; the teacher does the same from My class,
    where only the pupils of her own courses are offered. Each restored file lands beside the
    current one, owned by the pupil; the current file is untouched."""
    un, deux, marie = people["eleve.un"], people["eleve.deux"], people["marie.martin"]
    un.run("bash", "-c", "mkdir -p projet && echo 'version du lundi' > projet/brouillon.py")
    deux.run("bash", "-c", "echo 'mes notes de lundi' > notes.txt")
    with chromium() as browser:
        desk = browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": 900})
        page = desk.new_page()
        page.set_default_timeout(120_000)
        log_in(page, stack.url, ADMIN, stack.initial_admin_password())
        page.goto(stack.url + SERVICE)
        page.get_by_role("link", name="Points de restauration").click()
        # Without docker/compose.points-remote.yaml and points-disk.yaml, only this server's
        # archives volume is offered, and the page says what the other places need; the server's
        # SSH key (for an SFTP server) can be made all the same.
        form = page.locator("#jha-points-enable")
        for other in ("Sur un autre serveur, par SSH (SFTP)", "Dans un stockage compatible S3",
                      "Sur un second disque de ce serveur"):
            assert form.get_by_label(other).is_disabled()
        assert "compose.points-remote.yaml" in form.locator("#jha-place-no-network").inner_text()
        page.get_by_role("button", name="Créer la clé SSH du serveur").click()
        assert page.locator("#jha-points-ssh-key").inner_text().startswith("ssh-ed25519 ")
        assert page.locator("#jha-place-archives").is_checked()
        shot(page, "points-place-fr", full_page=True, docs=True)
        page.get_by_role("button", name="Activer les points de restauration").click()
        key = page.locator("#jha-points-new-key").inner_text().strip()
        assert re.fullmatch(r"([a-z2-9]{4}-){7}[a-z2-9]{4}", key), key
        page.get_by_role("link", name="J'ai noté la clé").click()
        assert key not in page.content(), "the key is shown once"
        assert page.locator("#jha-points-place").inner_text() == (
            "Où les points sont gardés\u00a0: Sur ce serveur, à côté des exports (le volume des archives) · "
            "jh_backups:/restore-points")
        page.get_by_role("button", name="Faire un point de restauration maintenant").click()
        page.locator("#jha-points-job[data-state=done]").wait_for(timeout=300_000)
        assert page.locator("#jha-points-list tbody tr").count() == 1
        shot(page, "points-fr", full_page=True, docs=True)

        un.run("bash", "-c", "echo 'version cassée' > projet/brouillon.py")
        deux.run("rm", "notes.txt")
        page.fill("#jha-points-user input[name=user]", "eleve.un")
        page.get_by_role("button", name="Parcourir").click()
        page.locator("#jha-restore-entries a", has_text="projet/").click()
        row = page.locator("#jha-restore-entries tr[data-name='brouillon.py']")
        row.get_by_role("button", name="Restaurer").click()
        flash = page.locator("#jha-flash")
        day = re.search(r"brouillon \(restauré (\d{4}-\d\d-\d\d)\)\.py", flash.inner_text()).group(1)
        assert "est revenu à côté du fichier actuel" in flash.inner_text()
        shot(page, "point-restore-fr", docs=True)
        desk.close()

        teacher = browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": 900})
        page = teacher.new_page()
        page.set_default_timeout(120_000)
        log_in(page, stack.url, marie.name, marie.password)
        page.goto(stack.url + "/services/jhub-class/")
        page.get_by_role("link", name="Restaurer le fichier d'un élève depuis un point de restauration").click()
        offered = page.locator("#jha-restore-user option").all_inner_texts()
        assert offered == ["eleve.deux", "eleve.un"], offered
        page.select_option("#jha-restore-user", "eleve.deux")
        page.get_by_role("button", name="Afficher").click()
        page.locator("#jha-restore-entries tr[data-name='notes.txt']").get_by_role("button", name="Restaurer").click()
        assert "notes (restauré" in page.locator("#jha-flash").inner_text()
        refused = page.goto(stack.url + "/services/jhub-class/restore?user=" + ADMIN)
        assert refused.status == 403
        teacher.close()
        assert deux.run("cat", f"notes (restauré {day}).txt").stdout == "mes notes de lundi\n"
        assert deux.run("stat", "-c", "%U", f"notes (restauré {day}).txt").stdout.strip() == "eleve.deux"

        # the pupil's own files: closed until the admin opens them
        pupil = browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": 900})
        own = pupil.new_page()
        own.set_default_timeout(120_000)
        log_in(own, stack.url, un.name, un.password)
        own.goto(stack.url + "/hub/home")
        assert own.goto(urljoin(own.url, own.locator("#jha-own-files").get_attribute("href"))).status == 403
        assert "L'administration ne vous a pas ouvert" in own.inner_text("body")

        desk = browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": 900})
        page = desk.new_page()
        page.set_default_timeout(120_000)
        log_in(page, stack.url, ADMIN, stack.initial_admin_password())
        page.goto(stack.url + SERVICE + "points")
        page.check("#jha-points-pupils")
        page.locator("#jha-points-settings").get_by_role("button", name="Enregistrer").click()
        page.locator("#jha-flash", has_text="Réglages enregistrés").wait_for()

        own.goto(stack.url + "/hub/home")
        own.click("#jha-own-files")
        assert own.locator("#jha-restore-user option").all_inner_texts() == ["eleve.un"]
        own.locator("#jha-restore-entries a", has_text="projet/").click()
        own.locator("#jha-restore-entries tr[data-name='brouillon.py']").get_by_role("button", name="Restaurer").click()
        assert f"brouillon (restauré {day} 2).py" in own.inner_text("#jha-flash")
        assert own.goto(stack.url + "/services/jhub-password/files?user=eleve.deux").status == 403
        pupil.close()

        # a whole home from the point, while the hub runs: a safety export first, then the swap
        page.goto(stack.url + SERVICE + "points")
        page.locator("#jha-points-list tbody tr").first.get_by_role("link", name="Restaurer…").click()
        code = re.search(r"code du point\u00a0: ([0-9a-f]{8})", page.inner_text("#jha-point-volumes-form")).group(1)
        page.fill("#jha-point-user", "eleve.deux")
        page.fill("#jha-point-confirm", code)
        page.get_by_role("button", name="Restaurer").click()
        page.wait_for_url("**/exports?job=*")
        job_id = page.url.rsplit("job=", 1)[1]
        deadline = time.monotonic() + 300
        while (job := page.request.get(stack.url + SERVICE + "api/exports/jobs/" + job_id).json())["state"] \
                in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(1)
        assert job["state"] == "done" and job["result"]["restored"] == ["home/eleve.deux"], job
        desk.close()

    restored = un.run("cat", "projet/brouillon.py", f"projet/brouillon (restauré {day}).py").stdout
    assert restored == "version cassée\nversion du lundi\n"
    owners = un.run("stat", "-c", "%U", f"projet/brouillon (restauré {day}).py").stdout.split()
    assert owners == ["eleve.un"]
    # eleve.deux's home is the point's again: the notes in place, the copy restored since gone
    assert f"notes (restauré {day}).txt" not in deux.run("ls").stdout
    assert deux.run("cat", "notes.txt").stdout == "mes notes de lundi\n"


# The school year: closed after the lesson above (the last tests of this module: it ends the classes)

SERVICE = "/services/jhub-admin/"
SCHOOL_YEAR = "2026-2027"


def admin_session(stack):
    admin = HubUser(stack, ADMIN, stack.initial_admin_password())
    assert admin.login()
    admin.make_token()
    return admin


def service_job(admin, job_id, timeout=900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = admin.api("GET", f"{SERVICE}api/jobs/{job_id}?wait=30", timeout=60).json()
        if job["state"] not in ("queued", "running"):
            return job
    raise AssertionError(f"job {job_id} did not end")


#: Last year's second class: its teacher, and a pupil whom the next year's lists do not name.
SECOND_COURSE = "cours_luc_bernard"
SECOND_CLASS = {"luc.bernard": ("teacher", "Luc", "Bernard"), "eleve.quatre": ("student", "Quatre", "Élève")}
SIECLE_YEAR_1 = "NOM;PRENOM;NE(E) LE;DIV.\nPERIN;Jade;11/03/2010;2NDE3\n".encode("cp1252")
#: The next year's lists, previewed with the close and applied in the same step: the SIECLE export
#: corrects a name; eleve.quatre (2NDE5) is in none of them, so leaves.
NEXT_YEAR = {
    "siecle.csv": "NOM;PRENOM;NE(E) LE;DIV.\nPERRIN;Jade;11/03/2010;1ERE2\n".encode("cp1252"),
    "eleves.csv": ("login;password;role;class;first_name;last_name\neleve.un;;student;1ERE2;Une;Élève\n"
                   "eleve.trois;Trois-Passw0rd-x;student;2NDE3;Trois;Élève\n").encode(),
    "profs.csv": b"marie.martin;;1\nluc.bernard;;1\npaul.durand;Paul-Passw0rd-42;1\n",
}


@pytest.fixture(scope="module")
def second_class(stack, people):
    """Last year's second class (2NDE5) and its teacher's course, with a graded submission."""
    users = enrolled_class(stack, SECOND_CLASS, "2NDE5", SECOND_COURSE)
    luc, quatre = users["luc.bernard"], users["eleve.quatre"]
    luc.start_server()
    quatre.start_server()
    publish(luc, ASSIGNMENT, SECOND_COURSE)
    hand_in(quatre, ASSIGNMENT, correct=True, course=SECOND_COURSE)
    assert formgrader(luc, "POST", f"assignment/{ASSIGNMENT}/collect")["success"]
    graded = formgrader(luc, "POST", f"submission/{ASSIGNMENT}/eleve.quatre/autograde")
    assert graded["success"], graded.get("error") or graded
    return users


def test_the_year_closed_and_the_next_opened_in_one_previewed_step(stack, people, second_class):
    """Issue 22, from the School year page as the admin uses it: the next year's lists uploaded on
    the close's page, one preview of both, one button, one job. Two classes and two teachers of
    last year; a pupil marked as leaving, a pupil absent from the new lists, a pupil whose name the
    new SIECLE export corrects, a returning pupil, a new pupil and a new teacher."""
    admin = admin_session(stack)
    marie, luc = people["marie.martin"], second_class["luc.bernard"]
    # A pupil of the class from the school's SIECLE export (no login: names and birth date).
    r = admin.api("POST", f"{SERVICE}api/imports", timeout=120, files={"file": ("siecle.csv", SIECLE_YEAR_1)})
    assert r.status_code == 202 and service_job(admin, r.json()["id"])["state"] == "done", r.text[:300]
    people["eleve.deux"].run("sh", "-c", "echo 'mon travail' > ~/mon_projet.py")
    second_class["eleve.quatre"].run("sh", "-c", "echo 'travail de quatre' > ~/projet.py")
    r = admin.api("POST", f"{SERVICE}api/accounts/_bulk", json={"action": "leave", "logins": ["eleve.deux"]})
    assert r.status_code == 200, r.text
    uids = {login: stack.exec("hub", "id", "-u", login).stdout.strip() for login in ("eleve.un", "jade.perin")}
    graded = {COURSE: scores_of(marie, ASSIGNMENT), SECOND_COURSE: scores_of(luc, ASSIGNMENT)}
    assert graded[SECOND_COURSE] == {"eleve.quatre": (2, 3, True)}

    # The same preview from a shell (the CLI, second to the page): nothing done.
    for name, data in NEXT_YEAR.items():
        stack.exec("hub", "sh", "-c", f"cat > /tmp/{name}", input=data.decode("cp1252" if "siecle" in name else "utf-8"))
    shown = stack.exec("hub", "jhub-admin", "year", "close", "--school-year", SCHOOL_YEAR, "--dry-run", "--next",
                       *(f"/tmp/{name}" for name in NEXT_YEAR)).stdout
    assert "2 leaver(s) removed" in shown and "eleve.quatre" in shown and "2 new account(s)" in shown, shown
    assert "renamed: jade.perin -> Jade" in shown, shown
    assert stack.exec("hub", "id", "eleve.quatre", check=False).returncode == 0

    # The close's page, its form for the next year's lists, then the preview of both.
    page = admin.session.get(stack.url + SERVICE + f"year/close?school_year={SCHOOL_YEAR}",
                             headers={"Accept-Language": "fr"}, timeout=120)
    assert page.status_code == 200, page.text[:500]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = admin.session.post(stack.url + SERVICE + "year/close/lists", allow_redirects=False, timeout=120,
                           data={"_xsrf": xsrf, "school_year": SCHOOL_YEAR},
                           files=[("file", (name, data)) for name, data in NEXT_YEAR.items()])
    assert r.status_code == 303 and "next=" in r.headers["Location"], (r.status_code, r.text[:300])
    page = admin.session.get(stack.url + r.headers["Location"], headers={"Accept-Language": "fr"}, timeout=120)
    leavers = re.search(r'<li id="jha-close-leavers">(.*?)</li>', page.text, re.S).group(1)
    assert "2 partants supprimés" in leavers and "eleve.deux" in leavers and "eleve.quatre" in leavers
    assert "eleve.un" not in leavers and "jade.perin" not in leavers
    opens = re.search(r'<li id="jha-close-open">(.*?)</ul>', page.text, re.S).group(1)
    assert "2 nouveaux comptes" in opens and "eleve.trois" in opens and "paul.durand" in opens
    assert re.search(r"jade\.perin → Jade PERRIN \(siecle\.csv:2\)", opens, re.I), opens
    next_id = re.search(r'name="next" value="([^"]+)"', page.text).group(1)
    r = admin.session.post(stack.url + SERVICE + "year/close", allow_redirects=False, timeout=60, data={
        "_xsrf": xsrf, "school_year": SCHOOL_YEAR, "confirm": SCHOOL_YEAR, "next": next_id})
    assert r.status_code == 303 and "/jobs/" in r.headers["Location"], (r.status_code, r.text[:300])
    started = time.monotonic()
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    job = service_job(admin, job_id)
    print(f"\n[e2e] the year closed and the next opened in {time.monotonic() - started:.0f} s: {job['summary']}")
    assert job["state"] == "done" and not job["warnings"], job
    summary = job["summary"]
    assert summary["finished"] and summary["removed"] == ["eleve.deux", "eleve.quatre"]
    assert summary["opened"]["renamed"] == ["jade.perin"] and summary["opened"]["counts"]["create"] == 2

    # 1. A verified export named after the year, which the retention rules keep.
    export = summary["export"]
    assert export["name"].startswith(f"jhub-all-{SCHOOL_YEAR}-")
    archives = {a["name"]: a for a in admin.api("GET", f"{SERVICE}api/exports").json()["archives"]}
    assert archives[export["name"]]["kind"] == "year" and archives[export["name"]]["sha256"] == export["sha256"]

    # 2. Each course's grades sheet, on the School year page and in its teacher's home, with the
    # scores that the Formgrader showed before the close.
    year_page = admin.session.get(stack.url + SERVICE + "year", timeout=60).text
    courses_page = admin.session.get(stack.url + SERVICE + "courses", timeout=60).text
    for course, teacher in ((COURSE, marie), (SECOND_COURSE, luc)):
        link = f"year/files/{SCHOOL_YEAR}/grades/{course}.xlsx"
        assert link in year_page and link in courses_page
        rows = xlsx_rows(admin.session.get(stack.url + SERVICE + link, timeout=60).content)
        tp1 = rows[0].index(f"{ASSIGNMENT} points")
        assert {(r[1], r[0]): r[tp1] for r in rows[1:] if r[0] == "Élève"} == {
            (PEOPLE | SECOND_CLASS)[login][1:]: score for login, (score, _, _) in graded[course].items()}, rows
        in_home = teacher.run("sh", "-c", f"ls ~/archives/{SCHOOL_YEAR} ~/archives/{SCHOOL_YEAR}/{course}").stdout
        assert f"notes-{course}-{SCHOOL_YEAR}.xlsx" in in_home and "gradebook.db" in in_home and "submitted" in in_home
        # The teacher keeps the course, its sources, and a new gradebook.
        assert teacher.run("test", "-d", f"{course}/source/{ASSIGNMENT}", check=False).returncode == 0
        assert teacher.run("test", "-f", f"{course}/gradebook.db", check=False).returncode == 0
        # 3. The exchange is empty (its folders kept), and its ZIP is listed.
        left = stack.exec("hub", "find", f"/srv/nbgrader/exchange/{course}", "-mindepth", "2").stdout
        assert left == "", left
        assert f"year/files/{SCHOOL_YEAR}/exchange/{course}.zip" in year_page
    rows = xlsx_rows(admin.session.get(stack.url + SERVICE + f"year/files/{SCHOOL_YEAR}/grades/{COURSE}.xlsx").content)
    assert [r[3] for r in rows[1:] if r[1] == "Jade"] == ["non rendu"]  # enrolled, nothing handed in
    # The teachers' servers were stopped before their gradebooks moved: started again, the
    # Formgrader opens the new year's gradebook, not the one put away.
    assert not (admin.api("GET", "/hub/api/users/marie.martin").json().get("servers") or {}).get("")
    marie.start_server()
    assert all(a.get("num_submissions", 0) == 0 for a in formgrader(marie, "GET", "assignments")), \
        formgrader(marie, "GET", "assignments")

    # 4. The leavers are gone; the ZIP of each one's work holds their file; their homes are kept
    # in the year's export (no second archive), from which the Year page can bring them back.
    files = {"eleve.deux": ("mon_projet.py", b"mon travail\n"), "eleve.quatre": ("projet.py", b"travail de quatre\n")}
    restorable = {a["login"]: a for a in admin.api("GET", f"{SERVICE}api/year/restorable").json()["archives"]}
    for login, (name, content) in files.items():
        assert stack.exec("hub", "id", login, check=False).returncode != 0
        assert admin.api("GET", f"/hub/api/users/{login}").status_code == 404
        handover = re.search(rf'year/handover/({re.escape(login)}-[0-9-]+\.zip)', year_page).group(1)
        zipped = admin.session.get(stack.url + SERVICE + "year/handover/" + handover, timeout=60).content
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            assert z.read(name) == content
        assert restorable[login]["in_export"] == export["name"]
    kept = stack.exec("hub", "ls", "/srv/jupyterhub/archived-homes").stdout.split()
    assert not [name for name in kept if name.endswith(".tar.gz")], kept

    # 5. The next year: the returning pupils keep their uid and files, in their new classes; the
    # corrected name is the same account renamed; the courses take the pupils of their classes.
    for login, uid in uids.items():
        assert stack.exec("hub", "id", "-u", login).stdout.strip() == uid
    assert stack.exec("hub", "id", "jade.perrin", check=False).returncode != 0
    renamed = admin.api("GET", f"{SERVICE}api/accounts/jade.perin").json()
    assert (renamed["last_name"].upper(), renamed["classes"]) == ("PERRIN", ["1ERE2"])
    assert admin.api("GET", f"{SERVICE}api/accounts/paul.durand").json()["role"] == "teacher"
    assert people["eleve.un"].run("test", "-d", COURSE, check=False).returncode == 0  # last year's work stays
    assert sorted(admin.api("GET", "/hub/api/groups/class-1ere2").json()["users"]) == ["eleve.un", "jade.perin"]
    assert admin.api("GET", "/hub/api/groups/class-2nde3").json()["users"] == ["eleve.trois"]
    assert admin.api("GET", "/hub/api/groups/class-2nde5").status_code == 404  # no class of that name returns
    assert admin.api("GET", f"/hub/api/groups/nbgrader-{COURSE}").json()["users"] == ["eleve.trois"]
    assert admin.api("GET", f"/hub/api/groups/nbgrader-{SECOND_COURSE}").json()["users"] == []
    # The newcomers' passwords, once, with their slips: the job's credentials.
    credentials = admin.session.get(stack.url + SERVICE + f"jobs/{job_id}/credentials.csv", timeout=60)
    logins = {line.split(";")[0] for line in credentials.content.decode("utf-8-sig").splitlines()[1:]}
    assert {"eleve.trois", "paul.durand"} <= logins and "eleve.un" not in logins

    # Run again (the close alone): everything is recorded, nothing is done twice or undone.
    again = admin.api("POST", f"{SERVICE}api/year/close", json={"school_year": SCHOOL_YEAR})
    assert again.status_code == 202, again.text
    job = service_job(admin, again.json()["id"])
    assert job["state"] == "done" and job["summary"]["export"]["name"] == export["name"], job
    assert len([a for a in admin.api("GET", f"{SERVICE}api/exports").json()["archives"] if a["kind"] == "year"]) == 1
    assert sorted(admin.api("GET", "/hub/api/groups/class-1ere2").json()["users"]) == ["eleve.un", "jade.perin"]


def xlsx_rows(data: bytes) -> list:
    from openpyxl import load_workbook

    return [list(row) for row in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)]
