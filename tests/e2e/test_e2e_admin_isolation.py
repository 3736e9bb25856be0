"""End-to-end, in a browser: an admin who opens a student's server cannot be made to act by the
student's code. The student serves a page of their own from their server (same origin as the hub
and the service, as every user's server is without subdomains); the admin opens it; its script
tries every way a same-origin page has to read the service's and the hub's pages and tokens, then
to reset a teacher's password and to make the student an admin. None of it may work, and the admin
can still open the student's server and use the service afterwards."""
import json
import re
import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from browsertools import ARTIFACTS, chromium, log_in  # noqa: E402
from e2e_stack import HubUser  # noqa: E402

ADMIN, ADMIN_PASSWORD = "direction", "Isolation-2026"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN, "JHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
STUDENT, TEACHER = "eleve.malin", "prof.cible"
ATTACK_PAGE = Path(__file__).resolve().parent / "attack_page.html"
# The student's own server configuration: their folder served as static files, which a student can
# do (as they can install any extension): the page runs on the hub's origin, not in a sandbox.
SERVER_CONFIG = "c.ServerApp.extra_static_paths = ['/home/%s/site']\n" % STUDENT


@pytest.fixture(scope="module")
def student(stack, tmp_path_factory):
    passwords = {STUDENT: "El-" + secrets.token_urlsafe(9), TEACHER: "Pr-" + secrets.token_urlsafe(9)}
    roster = tmp_path_factory.mktemp("roster") / "classe.csv"
    roster.write_text(f"login;password;role;class\n{STUDENT};{passwords[STUDENT]};student;2A\n"
                      f"{TEACHER};{passwords[TEACHER]};teacher;\n", encoding="utf-8")
    stack.copy_to("hub", roster, "/tmp/classe.csv")
    stack.exec("hub", "jhub-admin", "import", "/tmp/classe.csv", "--yes")
    user = HubUser(stack, STUDENT, passwords[STUDENT])
    assert user.login()
    user.make_token()
    page = ATTACK_PAGE.read_text(encoding="utf-8").replace("@VICTIM@", TEACHER).replace("@STUDENT@", STUDENT)
    user.run("mkdir", "-p", ".jupyter", "site")
    user.run("sh", "-c", "cat > .jupyter/jupyter_server_config.py", input=SERVER_CONFIG)
    user.run("sh", "-c", "cat > site/devoir.html", input=page)
    user.start_server()
    return user


@pytest.fixture(scope="module")
def browser(stack):
    with chromium() as browser:
        yield browser


def shadow_hash(stack, login):
    return stack.exec("hub", "getent", "shadow", login).stdout.split(":")[1]


def test_a_student_page_opened_by_an_admin_cannot_act_on_the_service_or_the_hub(stack, student, browser):
    base = stack.url
    teacher_hash = shadow_hash(stack, TEACHER)
    page = browser.new_context(locale="fr-FR").new_page()
    page.set_default_timeout(120_000)
    log_in(page, base, ADMIN, ADMIN_PASSWORD)
    page.wait_for_url(re.compile(r".*/(hub|user)/.*"))  # the hub's pages, or the server it started
    # The admin has used the service and the hub's admin page: their cookies are all set.
    page.goto(base + "/services/jhub-admin/accounts")
    page.wait_for_url("**/services/jhub-admin/accounts")
    page.goto(base + "/hub/admin")
    page.wait_for_load_state("networkidle")

    # The admin helps the student: opens a page of the student's server.
    page.goto(base + f"/user/{STUDENT}/static/devoir.html")
    authorize = page.locator("form input[type=submit], form button[type=submit]")
    if "/oauth2/authorize" in page.url:
        authorize.first.click()
    page.wait_for_function("document.title === 'done'", timeout=120_000)
    report = page.evaluate("window.attackReport")
    (ARTIFACTS / "admin-isolation-report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")

    # The admin did reach the student's page (helping stays possible)...
    assert f"/user/{STUDENT}/static/devoir.html" in page.url
    # ...but the page found no token of the service or of the hub, and read none of their pages.
    assert json.loads(report["tokens"]) == [], report["tokens"]
    assert "_xsrf" not in report["cookies_service"] and "_xsrf" not in report["cookies_hub"]
    for name in ("fetch_service", "fetch_service_api", "fetch_hub_page", "fetch_hub_api"):
        assert TEACHER not in report[name] and not report[name].startswith("200"), (name, report[name][:300])
    for name in ("frame_service", "frame_hub", "popup_service", "popup_hub"):
        assert not report[name].startswith("read: "), (name, report[name][:300])
    # Nothing happened: the teacher's password and the student's rights are what they were.
    assert shadow_hash(stack, TEACHER) == teacher_hash
    admin = HubUser(stack, ADMIN, ADMIN_PASSWORD)
    assert admin.login()
    admin.make_token()
    assert admin.api("GET", f"/hub/api/users/{STUDENT}").json()["admin"] is False

    # The admin still uses the service and the hub as before.
    page.goto(base + "/services/jhub-admin/accounts")
    page.get_by_text(TEACHER).first.wait_for()
    page.goto(base + "/hub/admin")
    page.get_by_text(STUDENT).first.wait_for()


def test_service_responses_cannot_be_framed(stack, student):
    r = student.api("GET", "/services/jhub-admin/")  # refused (a student), still with the headers
    assert r.status_code == 403
    assert "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", "")
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert r.headers.get("Cross-Origin-Opener-Policy") == "same-origin"
