"""End-to-end: an import killed at any moment, on a stack in use, converges (issue 26).

The stack already holds thousands of accounts and has students' servers running. Twenty imports
through the admin service's API (the route of the Import page's button) are each killed
(`docker kill -s KILL` of the hub container, then `docker start`) at a point spread evenly over
an uninterrupted import's timeline, denser in its first second where all but the hashing happens;
what each kill left says which phase it interrupted (before the registry, after it, after the
local accounts, after the hub users, after the passwords), and several are. After each restart, the registry holds
every account that the product made on the machine. Then every list is imported again, and
everything converges: accounts, uids, homes, hashes, hub users and class groups.
"""
import json
import subprocess
import threading
import time

import requests

from e2e_stack import DOCKER, HubUser

ADMIN, ADMIN_PASSWORD = "crashadmin", "Crash-Admin-Passw0rd-42"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN, "JHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
ALREADY = 3000  # accounts the stack holds before
BATCH = 400  # accounts of each killed import
KILLS = 20
FIRST_UID, LAST_UID = 10000, 59999

#: The machine's state as the checks need it: registry rows, local accounts in the managed range,
#: shadow hashes, the owners of the homes.
STATE = r"""
import json, os, pwd, sqlite3
db = sqlite3.connect("file:/srv/jupyterhub/jhub-admin.sqlite?mode=ro", uri=True)
registry = {login: {"uid": uid, "hash": h, "classes": json.loads(c)} for login, uid, h, c in
            db.execute("SELECT login, uid, password_hash, classes FROM accounts")}
local = {u.pw_name: u.pw_uid for u in pwd.getpwall() if 10000 <= u.pw_uid <= 59999}
shadow = dict(line.split(":")[:2] for line in open("/etc/shadow") if line.count(":") > 2)
homes = {e.name: os.stat(e.path).st_uid for e in os.scandir("/home") if e.is_dir(follow_symlinks=False)}
print(json.dumps({"registry": registry, "local": local, "shadow": {k: v for k, v in shadow.items() if k in local},
                  "homes": homes}))
"""


def roster(prefix: str, count: int, classes: int = 10) -> bytes:
    lines = [f"{prefix}{i:04d};student;{prefix.upper()}{i % classes};Prénom{i};Nom{i}" for i in range(count)]
    return ("login;role;class;first_name;last_name\n" + "\n".join(lines) + "\n").encode()


def machine(stack) -> dict:
    return json.loads(stack.exec("hub", "python3", "-c", STATE).stdout)


def import_job(admin, data: bytes) -> str:
    """Start an import; after a restart the service first reconciles (409 Busy meanwhile), as an
    admin who clicks again would."""
    deadline = time.monotonic() + 300
    while True:
        r = admin.api("POST", "/services/jhub-admin/api/imports", data=data, allow_redirects=False, timeout=120)
        if r.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.status_code == 202, (r.status_code, r.text[:500])
    return r.json()["id"]


def wait_job(admin, job_id, timeout=900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = admin.api("GET", f"/services/jhub-admin/api/jobs/{job_id}?wait=30", timeout=60).json()
        if job["state"] not in ("queued", "running", "pending"):
            return job
    raise AssertionError(f"job {job_id} did not end")


def kill_and_start(stack, after: float = 0.0):
    cid = stack.container("hub")
    time.sleep(after)
    subprocess.run([DOCKER, "kill", "-s", "KILL", cid], check=True, capture_output=True)
    subprocess.run([DOCKER, "start", cid], check=True, capture_output=True)
    stack.wait_for_hub(timeout=300)


def log_in_admin(stack):
    admin = HubUser(stack, ADMIN, ADMIN_PASSWORD)
    deadline = time.monotonic() + 120
    while not admin.login():  # the admin service may still be starting
        assert time.monotonic() < deadline, "the admin cannot log in after the restart"
        time.sleep(2)
    admin.make_token()
    while admin.api("GET", "/services/jhub-admin/api/jobs").status_code != 200:
        assert time.monotonic() < deadline, "the admin service does not answer after the restart"
        time.sleep(2)
    return admin


def test_imports_killed_at_every_stage_converge_on_a_stack_in_use(stack):
    passwords = "login;password;role;class\n" + "".join(f"deja{i:05d};Deja-Passw0rd-42;student;D{i % 100}\n"
                                                         for i in range(ALREADY))
    stack.exec("hub", "sh", "-c", "umask 077; cat > /tmp/deja.csv && jhub-admin import /tmp/deja.csv --yes "
               ">/dev/null && rm /tmp/deja.csv", input=passwords)
    running = []
    for i in range(3):  # students' servers running, as during a lesson
        student = HubUser(stack, f"deja{i:05d}", "Deja-Passw0rd-42")
        assert student.login()
        student.make_token()
        student.start_server()
        running.append(student.name)

    admin = log_in_admin(stack)
    # An uninterrupted import of the same size, from its upload, gives the timeline that the kills
    # are spread over.
    started = time.monotonic()
    reference = wait_job(admin, import_job(admin, roster("ref", BATCH)))
    duration = time.monotonic() - started
    assert reference["state"] == "done", reference

    reached = []
    for k in range(KILLS):
        prefix = f"k{k:02d}x"
        # Most of an import is hashing; its other phases come in its first seconds: the kill points,
        # timed from the upload itself, are denser there (quadratic spacing over the whole import).
        kill = threading.Thread(target=kill_and_start, args=(stack, duration * (k / (KILLS - 1)) ** 2))
        kill.start()
        try:
            import_job(admin, roster(prefix, BATCH))
        except (requests.RequestException, AssertionError):
            pass  # killed before it answered: the upload itself was interrupted
        kill.join()
        state = machine(stack)
        made_but_unknown = sorted(set(state["local"]) - set(state["registry"]))
        assert not made_but_unknown, f"kill {k}: local accounts the registry lost: {made_but_unknown[:10]}"
        uids = [a["uid"] for a in state["registry"].values()]
        assert len(uids) == len(set(uids)), f"kill {k}: a uid given twice"
        admin = log_in_admin(stack)
        reached.append(phase_reached(admin, state, prefix))
    print(f"\n[e2e] import of {BATCH} took {duration:.1f} s uninterrupted; phases the kills left: {reached}")
    # The kills are spread over the whole import: they interrupted it in several of its phases.
    assert len(set(reached)) >= 3, reached

    # Every list again, in one file: everything converges.
    everything = b"login;role;class;first_name;last_name\n" + b"".join(
        roster(f"k{k:02d}x", BATCH).split(b"\n", 1)[1] for k in range(KILLS))
    job = wait_job(admin, import_job(admin, everything))
    assert job["state"] == "done" and not job.get("error"), job
    state = machine(stack)
    wanted = {f"k{k:02d}x{i:04d}" for k in range(KILLS) for i in range(BATCH)}
    assert wanted <= set(state["registry"]) and wanted <= set(state["local"])
    for login in wanted:
        account = state["registry"][login]
        assert state["local"][login] == account["uid"] == state["homes"][login], login
        assert account["hash"] not in ("!", "") and state["shadow"][login] == account["hash"], login
    # The same file again changes nothing.
    r = admin.api("POST", "/services/jhub-admin/api/imports?dry_run=1", data=everything, timeout=300).json()
    assert r["create"] == [] and r["update"] == [] and r["rejected"] == [], {k: len(v) for k, v in r.items()
                                                                             if isinstance(v, list)}
    hub_users = {u["name"] for u in paginate(admin, "/hub/api/users")}
    assert wanted <= hub_users
    classes = {g["name"]: set(g["users"]) for g in paginate(admin, "/hub/api/groups")}
    for k in (0, KILLS - 1):
        members = {f"k{k:02d}x{i:04d}" for i in range(BATCH) if i % 10 == 3}
        assert any(members == users for users in classes.values()), f"the class K{k:02d}X3 is not a hub group"


def phase_reached(admin, state, prefix) -> str:
    """How far a killed import of the accounts named prefix* had got, from what it left."""
    batch = {login for login in state["registry"] if login.startswith(prefix)}
    if not batch:
        return "before the registry"
    if not batch & set(state["local"]):
        return "registry"
    users = {u["name"] for u in paginate(admin, "/hub/api/users") if u["name"].startswith(prefix)}
    if batch - users:
        return "local accounts"
    if any(state["registry"][login]["hash"] == "!" for login in batch):
        return "hub users"
    return "passwords"


def paginate(user, path):
    out, offset = [], 0
    while True:
        r = user.api("GET", path, params={"offset": offset, "limit": 200},
                     headers={"Accept": "application/jupyterhub-pagination+json"}).json()
        out += r["items"]
        if not r["_pagination"]["next"]:
            return out
        offset = r["_pagination"]["next"]["offset"]
