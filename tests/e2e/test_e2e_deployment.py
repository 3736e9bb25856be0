"""End-to-end: the product as the README starts it, on a real Docker engine.

One compose project for the whole module, in order: the hub answers, the
first admin logs in, accounts are imported (CLI, and the service's JSON API),
a student logs in through PAM and starts a server, the Docker socket stays in
the sidecar, and recreating the containers (volumes kept) loses nothing.
"""
import json
import socket
import subprocess
import time

import pytest
import requests

from e2e_stack import DOCKER, HubUser

# The first admin gets a non-default name and no password: the entrypoint
# must generate one, print it once and keep it in a 0600 file.
ADMIN = "e2eadmin"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN}


@pytest.fixture(scope="module")
def admin(stack):
    password = stack.initial_admin_password()
    assert password, "the hub logs do not show the generated first-admin password:\n" + stack.logs("hub", tail=60)
    user = HubUser(stack, ADMIN, password)
    assert user.login(), "the first admin cannot log in with the generated password"
    user.make_token()
    return user


@pytest.fixture(scope="module")
def accounts(stack, tmp_path_factory):
    """Two students and a teacher imported with the CLI inside the hub container."""
    import secrets

    people = {
        "eleve1": ("student", "Élise", "Durand"),
        "eleve2": ("student", "Hugo", "Martin"),
        "prof1": ("teacher", "Anne", "Lefèvre"),
    }
    passwords = {login: "E2e-" + secrets.token_urlsafe(9) for login in people}
    roster = tmp_path_factory.mktemp("roster") / "classe.csv"
    lines = ["login;password;role;class;first_name;last_name"]
    lines += [f"{login};{passwords[login]};{role};2nde1;{first};{last}"
              for login, (role, first, last) in people.items()]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stack.copy_to("hub", roster, "/tmp/classe.csv")
    # As an admin would, from a shell: `docker exec HUB jhub-admin import FILE`
    # (the CLI finds the hub and the service token on the data volume).
    res = stack.exec("hub", "bash", "-c",
                     "jhub-admin import /tmp/classe.csv --json --yes; rc=$?; rm -f /tmp/classe.csv; exit $rc")
    return {"passwords": passwords, "people": people, "import_output": res.stdout}


# uid and parent of each process running jupyterhub-singleuser (no procps in the image): "UID
# preloaded" for a server forked by the preloading process (classroom/preload.py), "UID exec" else.
SINGLEUSER_OWNERS = """
import os
def cmdline(pid):
    return open(f'/proc/{pid}/cmdline', 'rb').read()
for pid in filter(str.isdigit, os.listdir('/proc')):
    if int(pid) == os.getpid():
        continue
    try:
        if b'jupyterhub-singleuser' in cmdline(pid):
            parent = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1]
            how = 'preloaded' if b'classroom.preload' in cmdline(parent) else 'exec'
            print(os.stat(f'/proc/{pid}').st_uid, how)
    except OSError:
        pass
"""
SIGNAL_PRELOADING = """
import os, signal, sys
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        if b'classroom.preload' in open(f'/proc/{pid}/cmdline', 'rb').read():
            os.kill(int(pid), getattr(signal, sys.argv[1]))
            print(pid)
    except OSError:
        pass
"""


def uid_of(stack, login):
    return stack.exec("hub", "id", "-u", login).stdout.strip()


# --- basic run ---------------------------------------------------------------

def test_hub_answers(stack):
    r = requests.get(stack.url + "/hub/health", timeout=10)
    assert r.status_code == 200
    r = requests.get(stack.url + "/hub/login", timeout=10)
    assert r.status_code == 200 and "password" in r.text.lower()


def test_first_admin_logs_in(stack, admin):
    me = admin.api("GET", "/hub/api/user").json()
    assert me["name"] == ADMIN and me["admin"] is True
    # Kept once, 0600, on the data volume; printed once in the logs.
    res = stack.exec("hub", "stat", "-c", "%a %U", "/srv/jupyterhub/initial-admin-password")
    assert res.stdout.split() == ["600", "root"]
    assert stack.exec("hub", "cat", "/srv/jupyterhub/initial-admin-password").stdout.strip() == admin.password
    assert stack.logs("hub").count(admin.password) == 1
    # A wrong password is refused.
    assert not HubUser(stack, ADMIN, admin.password + "x").login()


def test_exchange_and_secret_prepared(stack):
    assert stack.exec("hub", "stat", "-c", "%a %U", "/srv/nbgrader/exchange").stdout.split() == ["1777", "root"]
    assert stack.exec("hub", "stat", "-c", "%a %U", "/srv/jupyterhub-secrets/sidecar.secret").stdout.split() \
        == ["600", "root"]


def test_cli_import_creates_local_and_hub_accounts(stack, admin, accounts):
    for login, (role, _, _) in accounts["people"].items():
        uid = int(uid_of(stack, login))
        assert uid >= 1000
        assert stack.exec("hub", "stat", "-c", "%a %u", f"/home/{login}").stdout.split() == ["700", str(uid)]
        model = admin.api("GET", f"/hub/api/users/{login}")
        assert model.status_code == 200, f"{login} is not a hub user: {model.text}"
    groups = {g["name"]: g for g in admin.api("GET", "/hub/api/groups").json()}
    assert set(groups["students"]["users"]) >= {"eleve1", "eleve2"}
    assert "prof1" in groups["teachers"]["users"]


def test_import_through_service_json_api(stack, admin):
    """The admin service's JSON API: preview (dry run), then apply as a job; the
    generated password comes back once through the job's credentials."""
    base = "/services/jhub-admin/api/imports"
    roster = "login;role;class;first_name;last_name\nsvc-eleve1;student;1ere2;Zoé;Bernard\n".encode()

    r = admin.api("POST", base + "?dry_run=1", data=roster, allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    plan = r.json()
    assert [a["login"] for a in plan["create"]] == ["svc-eleve1"], plan
    assert plan["rejected"] == []
    assert stack.exec("hub", "id", "svc-eleve1", check=False).returncode != 0, "a dry run created the account"

    r = admin.api("POST", base, data=roster, allow_redirects=False)
    assert r.status_code == 202, (r.status_code, r.text[:500])
    job_id = r.json()["id"]
    deadline = time.monotonic() + 180
    while True:
        job = admin.api("GET", f"/services/jhub-admin/api/jobs/{job_id}?wait=30").json()
        if job["state"] not in ("queued", "running", "pending"):
            break
        assert time.monotonic() < deadline, f"the import job is still {job['state']}"
    assert job["state"] == "done" and not job.get("error"), job
    creds = admin.api("GET", f"/services/jhub-admin/api/jobs/{job_id}/credentials").json()["credentials"]
    password = {c["login"]: c["password"] for c in creds}["svc-eleve1"]

    assert admin.api("GET", "/hub/api/users/svc-eleve1").status_code == 200
    assert stack.exec("hub", "id", "svc-eleve1", check=False).returncode == 0
    assert HubUser(stack, "svc-eleve1", password).login(), "the imported student cannot log in"
    # Re-importing the same list changes nothing.
    r = admin.api("POST", base + "?dry_run=1", data=roster)
    assert r.json()["create"] == [] and [a["login"] for a in r.json()["unchanged"]] == ["svc-eleve1"]


def test_non_admin_cannot_see_the_service(stack, accounts):
    student = HubUser(stack, "eleve2", accounts["passwords"]["eleve2"])
    assert student.login()
    student.make_token()
    r = student.api("GET", "/services/jhub-admin/", allow_redirects=False)
    assert r.status_code == 403, (r.status_code, r.text[:300])


def test_student_logs_in_and_starts_a_server(stack, accounts):
    student = HubUser(stack, "eleve1", accounts["passwords"]["eleve1"])
    assert student.login(), "eleve1 cannot log in through PAM"
    student.make_token()
    student.start_server()
    # Write a file through the student's own Jupyter server.
    r = student.api("PUT", "/user/eleve1/api/contents/devoir.txt",
                    json={"type": "file", "format": "text", "content": "bonjour e2e\n"})
    assert r.status_code in (200, 201), r.text
    uid = uid_of(stack, "eleve1")
    assert stack.exec("hub", "cat", "/home/eleve1/devoir.txt").stdout == "bonjour e2e\n"
    assert stack.exec("hub", "stat", "-c", "%u", "/home/eleve1/devoir.txt").stdout.strip() == uid
    # A file deletes as from an exec'd server, and nothing of it lands outside the student's home
    # (send2trash computes its trash folder when imported, and the preloading process is root:
    # see classroom/preload.py).
    r = student.api("PUT", "/user/eleve1/api/contents/brouillon.txt",
                    json={"type": "file", "format": "text", "content": "à jeter\n"})
    assert r.status_code in (200, 201), r.text
    r = student.api("DELETE", "/user/eleve1/api/contents/brouillon.txt")
    assert r.status_code == 204, r.text
    found = stack.exec("hub", "sh", "-c", "find / -xdev -name 'brouillon*'; find /home -name 'brouillon*'",
                       check=False).stdout.split()
    assert all(path.startswith("/home/eleve1/") for path in found), found
    # The server runs as the student, not as root, forked by the preloading process.
    owners = stack.exec("hub", "python3", "-c", SINGLEUSER_OWNERS).stdout.splitlines()
    assert owners == [f"{uid} preloaded"], owners
    # Issue 20, point 3: JupyterLab's settings (the language, the theme) and workspaces save into
    # the student's home, not into the preloading process's (/root: 500 "Permission denied").
    r = student.api("PUT", "/user/eleve1/lab/api/settings/@jupyterlab/translation-extension:plugin",
                    json={"raw": '{"locale": "en"}'})
    assert r.status_code == 204, (r.status_code, r.text[:300])
    r = student.api("PUT", "/user/eleve1/lab/api/workspaces/cours",
                    json={"data": {}, "metadata": {"id": "cours"}})
    assert r.status_code == 204, (r.status_code, r.text[:300])
    saved = stack.exec("hub", "sh", "-c", "cd /home/eleve1/.jupyter/lab && stat -c '%u %n' "
                       "user-settings/@jupyterlab/translation-extension/plugin.jupyterlab-settings "
                       "workspaces/cours-*.jupyterlab-workspace").stdout.split("\n")
    assert [line.split()[0] for line in saved if line] == [uid, uid], saved
    runtime = f"/run/jupyter/{uid}"
    assert stack.exec("hub", "sh", "-c", f"ls {runtime} | grep -c '^jpserver-'").stdout.strip() == "2"
    student.stop_server()
    # Issue 20, point 8: its stop leaves no server file behind (one holds its token).
    left = stack.exec("hub", "ls", runtime).stdout.split()
    assert not [name for name in left if name.startswith("jpserver-")], left


def test_a_hung_preloading_process_costs_a_slower_start_not_a_failed_one(stack, accounts):
    """The hub never depends on the preloading process: while it does not answer, a start is
    exec'd as LocalProcessSpawner does (after 10 s), and the late request forks nothing."""
    assert stack.exec("hub", "python3", "-", "SIGSTOP", input=SIGNAL_PRELOADING).stdout.split()
    student = HubUser(stack, "eleve2", accounts["passwords"]["eleve2"])
    try:
        assert student.login()
        student.make_token()
        student.start_server()
    finally:
        stack.exec("hub", "python3", "-", "SIGCONT", input=SIGNAL_PRELOADING)
    uid = uid_of(stack, "eleve2")
    time.sleep(2)  # what the resumed process does with the late request
    assert stack.exec("hub", "python3", "-c", SINGLEUSER_OWNERS).stdout.splitlines() == [f"{uid} exec"]
    r = student.api("GET", "/user/eleve2/api/contents")
    assert r.status_code == 200, r.text
    student.stop_server()
    student.start_server()
    assert stack.exec("hub", "python3", "-c", SINGLEUSER_OWNERS).stdout.splitlines() == [f"{uid} preloaded"]
    student.stop_server()

def test_a_wrong_password_or_unmanaged_account_is_refused(stack, accounts):
    assert not HubUser(stack, "eleve1", "not-the-password").login()
    assert not HubUser(stack, "root", "root").login()


def test_containers_are_healthy(stack):
    assert stack.wait_for_health_status("hub") == "healthy"
    assert stack.wait_for_health_status("sidecar") == "healthy"


# --- nbgrader: a teacher releases, a student fetches and submits ----------------

def as_user(stack, user, *cmd, cwd=None, check=True):
    """A command as a local user, with the environment a single-user server gives them."""
    return user.run(*cmd, cwd=cwd, check=check)


def assignment_notebook():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "def carres(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n    ### END SOLUTION",
            metadata={"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "carres",
                                   "schema_version": 3}}),
        nbformat.v4.new_code_cell(
            "assert carres(3) == [1, 4, 9]",
            metadata={"nbgrader": {"solution": False, "grade": True, "locked": True, "grade_id": "test_carres",
                                   "points": 1, "schema_version": 3}}),
    ]
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def submission(stack, accounts, tmp_path_factory):
    """prof1 gets a course with class 2nde1, releases ps1; eleve1 fetches and submits it."""
    if stack.exec("hub", "jhub-admin", "courses", "--help", check=False).returncode != 0:
        pytest.skip("the image has no `jhub-admin courses` yet (nbgrader issue not landed)")
    stack.exec("hub", "jhub-admin", "courses", "sync")
    courses = json.loads(stack.exec("hub", "jhub-admin", "courses", "list", "--json").stdout)
    course = next(c["course_id"] for c in courses if c.get("teacher") == "prof1")
    stack.exec("hub", "jhub-admin", "courses", "enrol", course, "--class", "2nde1")

    teacher = HubUser(stack, "prof1", accounts["passwords"]["prof1"])
    student = HubUser(stack, "eleve1", accounts["passwords"]["eleve1"])
    for user in (teacher, student):
        assert user.login(), f"{user.name} cannot log in"
        user.make_token()

    course_dir = f"/home/prof1/{course}"
    as_user(stack, teacher, "mkdir", "-p", f"{course_dir}/source/ps1")
    nb = tmp_path_factory.mktemp("nb") / "ps1.ipynb"
    nb.write_text(assignment_notebook(), encoding="utf-8")
    stack.copy_to("hub", nb, "/tmp/ps1.ipynb")
    stack.exec("hub", "bash", "-c", f"install -m 0644 -o prof1 -g $(id -g prof1) /tmp/ps1.ipynb "
                                    f"{course_dir}/source/ps1/ps1.ipynb && rm /tmp/ps1.ipynb")
    as_user(stack, teacher, "nbgrader", "generate_assignment", "ps1", cwd=course_dir)
    as_user(stack, teacher, "nbgrader", "release_assignment", "ps1", cwd=course_dir)

    listing = as_user(stack, student, "nbgrader", "list")
    assert "ps1" in listing.stdout + listing.stderr, listing
    as_user(stack, student, "nbgrader", "fetch_assignment", "ps1", "--course", course)
    as_user(stack, student, "nbgrader", "submit", "ps1", "--course", course)
    inbound = stack.exec("hub", "bash", "-c",
                         f"ls -d /srv/nbgrader/exchange/{course}/inbound/eleve1+ps1+*").stdout.splitlines()
    assert len(inbound) == 1, inbound
    return {"course": course, "path": inbound[0] + "/ps1.ipynb", "teacher": teacher}


def test_student_submits_an_nbgrader_assignment(stack, submission):
    path = submission["path"]
    owner = stack.exec("hub", "stat", "-c", "%U", path).stdout.strip()
    assert owner == "eleve1"
    assert stack.exec("hub", "stat", "-c", "%a", "/srv/nbgrader/exchange").stdout.strip() == "1777"
    # The teacher collects it into the course folder.
    course_dir = f"/home/prof1/{submission['course']}"
    as_user(stack, submission["teacher"], "nbgrader", "collect", "ps1", cwd=course_dir)
    collected = f"{course_dir}/submitted/eleve1/ps1/ps1.ipynb"
    assert stack.exec("hub", "stat", "-c", "%U", collected).stdout.strip() == "prof1"


# --- the Docker socket stays in the sidecar ----------------------------------

def test_hub_container_has_no_docker_socket(stack):
    hub = stack.inspect("hub")
    sources = [m.get("Source", "") for m in hub["Mounts"]]
    assert not any("docker.sock" in src for src in sources), sources
    assert stack.exec("hub", "test", "-e", "/var/run/docker.sock", check=False).returncode != 0
    assert not any(e.startswith("DOCKER_HOST=") for e in hub["Config"]["Env"])
    assert not hub["HostConfig"].get("Privileged")
    # ...and the sidecar is the one that has it.
    sidecar = stack.inspect("sidecar")
    assert any(m.get("Source") == "/var/run/docker.sock" for m in sidecar["Mounts"])


def test_sidecar_runs_without_privileges(stack):
    host = stack.inspect("sidecar")["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd"), host
    assert host["ReadonlyRootfs"] is True
    assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"] or []), host["SecurityOpt"]
    assert not host.get("Privileged")


def test_no_sidecar_port_is_reachable_from_the_host(stack):
    sidecar = stack.inspect("sidecar")
    published = {port: bindings for port, bindings in (sidecar["NetworkSettings"]["Ports"] or {}).items()
                 if bindings}
    assert published == {}, f"the sidecar publishes ports: {published}"
    assert not sidecar["HostConfig"].get("PortBindings")
    # Only on the internal network shared with the hub.
    networks = sidecar["NetworkSettings"]["Networks"]
    assert list(networks) == [f"{stack.project}_backend"]
    net = json.loads(subprocess.run([DOCKER, "network", "inspect", f"{stack.project}_backend"],
                                    capture_output=True, text=True, check=True).stdout)[0]
    assert net["Internal"] is True
    # Nothing listens on the host for it.
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.1", 8750)) != 0 or _port_is_not_ours(8750)
    # The hub reaches it by name over the internal network.
    res = stack.exec("hub", "python3", "-c",
                     "import urllib.request; print(urllib.request.urlopen('http://sidecar:8750/health', timeout=10).status)")
    assert res.stdout.strip() == "200"


def _port_is_not_ours(port):
    """Another program on this machine may use 8750; it is then not our sidecar."""
    for cid in subprocess.run([DOCKER, "ps", "-q"], capture_output=True, text=True).stdout.split():
        out = subprocess.run([DOCKER, "port", cid], capture_output=True, text=True).stdout
        if f":{port}" in out:
            return False
    return True


# --- recreation: down (volumes kept), up --------------------------------------

def test_recreation_keeps_accounts_passwords_uids_and_files(stack, admin, accounts):
    logins = sorted(accounts["passwords"])
    uids = {login: uid_of(stack, login) for login in [ADMIN, *logins]}
    before = stack.exec("hub", "stat", "-c", "%u %g %a %s", "/home/eleve1/devoir.txt").stdout
    old_hub = stack.container("hub")
    inbound_before = stack.exec("hub", "bash", "-c", "ls /srv/nbgrader/exchange/*/inbound/ 2>/dev/null",
                                check=False).stdout.splitlines()

    stack.down(volumes=False)
    stack.up()
    stack.wait_for_hub()
    assert stack.container("hub") != old_hub, "the hub container was not recreated"

    # The admin password is not generated again, and still works.
    assert stack.logs("hub").count("initial password") == 0
    assert HubUser(stack, ADMIN, admin.password).login()
    for login in logins:
        assert uid_of(stack, login) == uids[login], f"uid of {login} changed"
        assert HubUser(stack, login, accounts["passwords"][login]).login(), f"{login} lost its password"
    assert uid_of(stack, ADMIN) == uids[ADMIN]
    assert stack.exec("hub", "stat", "-c", "%u %g %a %s", "/home/eleve1/devoir.txt").stdout == before
    assert stack.exec("hub", "cat", "/home/eleve1/devoir.txt").stdout == "bonjour e2e\n"
    submitted = stack.exec("hub", "bash", "-c", "ls /srv/nbgrader/exchange/*/inbound/ 2>/dev/null", check=False)
    assert submitted.stdout.splitlines() == inbound_before

    # The student can start a server again and sees the file.
    student = HubUser(stack, "eleve1", accounts["passwords"]["eleve1"])
    assert student.login()
    student.make_token()
    student.start_server()
    r = student.api("GET", "/user/eleve1/api/contents/devoir.txt")
    assert r.status_code == 200 and r.json()["content"] == "bonjour e2e\n"
    student.stop_server()
