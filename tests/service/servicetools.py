"""Helpers for tests of the admin service against a real JupyterHub (see tests/hubtools.py)."""
import re
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from hubtools import RunningHub  # noqa: E402
from sandbox import Sandbox, namespaces_available  # noqa: E402

PREFIX = "/services/jhub-admin/"
ADMIN, ADMIN_PASSWORD = "admin", "admin-test-password"
#: Non-admin accounts made through the CLI in the sandbox (historical format: 1 = teacher).
OTHERS = "prof.martin;Prof-Passw0rd-42;1\neleve.durand;Eleve-Passw0rd-42;\n"
TEACHER, TEACHER_PASSWORD = "prof.martin", "Prof-Passw0rd-42"
STUDENT, STUDENT_PASSWORD = "eleve.durand", "Eleve-Passw0rd-42"


def start_hub(prefix="jhub-service-", extra_env=None, others=True):
    """A sandbox and a running hub with its jhub-admin service; returns (sandbox, hub)."""
    if not namespaces_available():
        pytest.skip("needs root and unshare --mount to isolate local accounts from the host")
    box = Sandbox(tempfile.mkdtemp(prefix=prefix))
    (box.srv / "nbgrader" / "exchange").mkdir(parents=True)
    (box.srv / "nbgrader" / "exchange").chmod(0o1777)
    hub = RunningHub(box, extra_env=extra_env)
    try:
        hub.start()
        wait_for_service(hub)
        if others:
            roster = box.root / "others.csv"
            roster.write_text(OTHERS)
            box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(roster), "--yes"], env=hub.cli_env())
    except BaseException:
        hub.stop()
        box.cleanup()
        raise
    return box, hub


def wait_for_service(hub, timeout=60):
    """The service answers through the proxy (an anonymous request is sent to the hub's login)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(hub.url + PREFIX, allow_redirects=False, timeout=5)
            last = r.status_code
            if r.status_code in (302, 403):
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.3)
    raise RuntimeError(f"the jhub-admin service did not answer ({last}):\n{hub.log_tail()}")


def xsrf_of(html):
    m = re.search(r'name="_xsrf" value="([^"]+)"', html)
    assert m, "no _xsrf field in the page"
    return m.group(1)


def login(hub, username, password, lang="fr"):
    """A requests session logged in on the hub (cookie), as a browser would be."""
    s = requests.Session()
    s.headers["Accept-Language"] = lang
    r = s.get(hub.url + "/hub/login")
    r.raise_for_status()
    r = s.post(hub.url + "/hub/login?next=%2Fhub%2Fhome", data={"username": username, "password": password, "_xsrf": xsrf_of(r.text)})
    assert r.status_code == 200 and "/hub/login" not in r.url, f"login of {username} failed: {r.status_code} {r.url}"
    return s


def service_url(hub, path=""):
    return hub.url + PREFIX + path.lstrip("/")
