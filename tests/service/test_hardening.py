"""What a student or a stranger cannot make the admin service do (a real hub in a sandbox)."""
import re
import socket
import time

import pytest

from servicetools import ADMIN, ADMIN_PASSWORD, PREFIX, STUDENT, TEACHER, login, xsrf_of

pytestmark = [pytest.mark.hub, pytest.mark.sandbox]


def raw_upload(hub, path, headers=(), announced=200 * 1024 * 1024, sent=64 * 1024, timeout=20):
    """POST announcing a huge body, send only its first bytes, and read the answer's status line.
    A service that waited for the body would never answer: the socket's timeout fails the test."""
    host, port = "127.0.0.1", int(hub.url.rsplit(":", 1)[1])
    with socket.create_connection((host, port), timeout=timeout) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {announced}",
                "Content-Type: text/csv", *headers, "", ""]
        s.sendall("\r\n".join(head).encode() + b"x" * sent)
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


@pytest.mark.parametrize("who", ["anonymous", "student"])
def test_an_upload_from_someone_not_an_admin_is_refused_before_its_body_is_read(running, who):
    _, hub = running
    headers = () if who == "anonymous" else (f"Authorization: token {hub.user_token(STUDENT)}",)
    for path in ("import", "api/imports"):
        status = raw_upload(hub, PREFIX + path, headers)
        # The service answers 403 and closes the connection without reading the rest; the proxy,
        # still sending the body, may see the connection close first and answer 503 itself.
        # Either way the answer comes though the client sent 64 KiB of the 200 MB it announced.
        assert status.startswith(("HTTP/1.1 403", "HTTP/1.1 503")), (path, status)


# A script on the hub's origin (a student's server's page, opened by an admin) versus page views

PAGE_VIEW = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none"}
SCRIPT = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"}
FRAME = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def admin_session(running):
    _, hub = running
    s = login(hub, ADMIN, ADMIN_PASSWORD)
    r = s.get(hub.url + PREFIX + "accounts", headers=PAGE_VIEW)
    assert r.status_code == 200 and TEACHER in r.text
    return s


def test_a_script_of_another_page_reads_no_page_of_the_service(running, admin_session):
    _, hub = running
    token = xsrf_of(admin_session.get(hub.url + PREFIX + "accounts", headers=PAGE_VIEW).text)
    for path in ("accounts", "api/accounts", "settings", "nowhere"):
        for headers in (SCRIPT, FRAME):
            r = admin_session.get(hub.url + PREFIX + path, headers=headers, allow_redirects=False)
            assert r.status_code == 403, (path, headers, r.status_code)
            assert TEACHER not in r.text and token not in r.text  # not even in the error page


def test_a_download_link_is_a_page_view(running, admin_session):
    """<a download>: navigate into "empty"; the file goes to the disk, out of reach of scripts."""
    _, hub = running
    download = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"}
    r = admin_session.get(hub.url + PREFIX + "api/accounts", headers=download)
    assert r.status_code == 200 and TEACHER in r.text


def test_the_service_s_own_scripts_read_with_the_token_of_its_pages(running, admin_session):
    _, hub = running
    page = admin_session.get(hub.url + PREFIX + "accounts", headers=PAGE_VIEW).text
    token = xsrf_of(page)
    r = admin_session.get(hub.url + PREFIX + "api/accounts", headers={**SCRIPT, "X-XSRFToken": token})
    assert r.status_code == 200 and TEACHER in r.text
    r = admin_session.get(hub.url + PREFIX + "api/accounts", headers={**SCRIPT, "X-XSRFToken": token[:-2] + "AA"})
    assert r.status_code == 403


def test_no_cookie_readable_by_scripts_holds_the_service_s_token(running, admin_session):
    _, hub = running
    token = xsrf_of(admin_session.get(hub.url + PREFIX + "accounts", headers=PAGE_VIEW).text)
    for cookie in admin_session.cookies:
        if cookie.path.startswith(PREFIX.rstrip("/")) or cookie.path == "/":
            assert cookie.has_nonstandard_attr("HttpOnly"), cookie.name
            assert cookie.value != token


@pytest.mark.parametrize("path, expected", [("", 200), ("nowhere", 404), ("api/accounts", 403)])
def test_every_answer_of_the_service_forbids_framing_and_openers(running, admin_session, path, expected):
    _, hub = running
    headers = PAGE_VIEW if expected != 403 else SCRIPT
    r = admin_session.get(hub.url + PREFIX + path, headers=headers, allow_redirects=False)
    assert r.status_code == expected
    assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_script_reads_no_page_of_the_hub_and_no_cookie_holds_its_token(running, admin_session):
    _, hub = running
    r = admin_session.get(hub.url + "/hub/admin", headers=SCRIPT)
    assert r.status_code == 403 and "xsrf" not in r.text
    r = admin_session.get(hub.url + "/hub/admin", headers=PAGE_VIEW)
    assert r.status_code == 200 and "xsrf_token" in r.text
    assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    hub_xsrf = [c for c in admin_session.cookies if c.name == "_xsrf" and c.path.startswith("/hub")]
    assert hub_xsrf and all(c.has_nonstandard_attr("HttpOnly") for c in hub_xsrf)
    # The hub's API and its own scripts are as before: JSON with the page's token.
    token = re.search(r'xsrf_token: "([^"]+)"', r.text).group(1)
    r = admin_session.get(hub.url + "/hub/api/users", headers={**SCRIPT, "X-XSRFToken": token})
    assert r.status_code == 200 and STUDENT in r.text


def test_a_script_gets_no_page_of_the_hub_from_the_browser_s_cache(running, admin_session):
    """The tab's copy of a page cannot be revalidated by a script (a 304 would hand it over)."""
    _, hub = running
    r = admin_session.get(hub.url + "/hub/admin", headers=PAGE_VIEW)
    assert r.headers["Cache-Control"] == "no-store" and "Etag" not in r.headers
    # Files stay cacheable: a font or a script is revalidated by any request, scripts' included.
    static = admin_session.get(hub.url + "/hub/static/js/jhapi.js", headers=PAGE_VIEW)
    assert static.status_code == 200 and static.headers.get("Last-Modified")
    r = admin_session.get(hub.url + "/hub/static/js/jhapi.js",
                          headers={**SCRIPT, "If-Modified-Since": static.headers["Last-Modified"]})
    assert r.status_code == 304


# Disk use of each home: shown, and pointed out above the admin's threshold

def test_each_home_s_disk_use_is_shown_and_heavy_ones_pointed_out(running, admin_session):
    box, hub = running
    # 3 MB really written, and a 15 TB sparse file that holds nothing: du counts what is stored.
    box.as_user(STUDENT, "head -c 3145728 /dev/urandom > ~/data.bin && truncate -s 15T ~/vide")
    page = admin_session.get(hub.url + PREFIX + "settings", headers=PAGE_VIEW).text
    r = admin_session.post(hub.url + PREFIX + "settings", data={"_xsrf": xsrf_of(page), "home_warning_mb": "2"},
                           headers=PAGE_VIEW)
    assert r.status_code == 200 and 'value="2"' in admin_session.get(hub.url + PREFIX + "settings").text
    deadline = time.monotonic() + 60
    sizes = {}
    while time.monotonic() < deadline and (sizes.get(STUDENT) or 0) < 3 * 2 ** 20:  # measured again
        accounts = admin_session.get(hub.url + PREFIX + "api/accounts").json()["accounts"]
        sizes = {a["login"]: a["home_bytes"] for a in accounts}
        time.sleep(0.5)
    assert 3 * 2 ** 20 <= sizes[STUDENT] < 100 * 2 ** 20, sizes
    assert sizes[TEACHER] < 2 * 2 ** 20
    dashboard = admin_session.get(hub.url + PREFIX, headers={**PAGE_VIEW, "Accept-Language": "en"}).text
    assert re.search(r"1 home uses more than 2 MB: " + re.escape(STUDENT) + r" \(3(\.\d)? MB\)", dashboard)
    listing = admin_session.get(hub.url + PREFIX + "accounts", headers={**PAGE_VIEW, "Accept-Language": "en"}).text
    row = listing[listing.index(f">{STUDENT}</a>"):]
    assert re.search(r'jha-home-size">3(\.\d)? MB <span class="badge', row[:2000])
    r = admin_session.post(hub.url + PREFIX + "settings", data={"_xsrf": xsrf_of(page), "home_warning_mb": "x"})
    assert r.status_code == 400


def test_the_settings_page_keeps_each_role_s_limits_for_the_spawner(running, admin_session):
    box, hub = running
    page = admin_session.get(hub.url + PREFIX + "settings", headers=PAGE_VIEW).text
    assert 'id="jha-limits-student"' in page and 'id="jha-limits-teacher"' in page
    r = admin_session.post(hub.url + PREFIX + "settings", headers=PAGE_VIEW, data={
        "_xsrf": xsrf_of(page), "limits_role": "student", "memory_mb": "700", "processes": "120"})
    assert r.status_code == 200
    page = admin_session.get(hub.url + PREFIX + "settings", headers=PAGE_VIEW).text
    assert 'id="jha-memory-student" name="memory_mb" value="700"' in page
    # What the hub's spawner reads (classroom/limits.py), from the same file.
    from jhub_admin_service.classroom.limits import Limits, read_limits
    assert read_limits(str(box.srv / "jupyterhub" / "jhub-admin-preferences.json"))["student"] == Limits(700, 120)
    r = admin_session.post(hub.url + PREFIX + "settings", headers=PAGE_VIEW, data={
        "_xsrf": xsrf_of(page), "limits_role": "student", "memory_mb": "12", "processes": "120"})
    assert r.status_code == 400


def test_a_home_whose_account_is_gone_is_named_on_the_accounts_page(running, admin_session):
    """A home left by an account the registry lost (issue 26) is kept, and the Accounts page says so."""
    import sqlite3
    import sys

    box, hub = running
    (box.root / "perdu.csv").write_text("login;password;role\nperdu.home;Perdu-Passw0rd-42;student\n")
    box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(box.root / "perdu.csv"), "--yes",
             "--credentials", str(box.root / "perdu.creds")], env=hub.cli_env())
    uid = int(box.passwd()["perdu.home"][2])
    with sqlite3.connect(box.srv / "jupyterhub" / "jhub-admin.sqlite") as db:
        db.execute("DELETE FROM accounts WHERE login = 'perdu.home'")
    box.run(["userdel", "perdu.home"])
    page = admin_session.get(hub.url + PREFIX + "accounts", headers=PAGE_VIEW).text
    assert 'id="jha-orphan-homes"' in page and f"perdu.home ({uid})" in page, page[:3000]
    assert "ne sont jamais donnés à un nouveau compte" in page
