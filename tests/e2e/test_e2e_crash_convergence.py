"""End-to-end: an import killed at any moment, on a stack in use, converges (issue 26).

The stack already holds thousands of accounts and has students' servers running. Twenty imports
through the admin service's API (the route of the Import page's button) are each killed
(`docker kill -s KILL` of the hub container, then `docker start`) at a point spread evenly over
an uninterrupted import's timeline, denser in its first second where all but the hashing happens;
what each kill left says which phase it interrupted (before the registry, after it, after the
local accounts, after the hub users, after the passwords), and several are. After each restart, the registry holds
every account that the product made on the machine. Then every list is imported again, and
everything converges: accounts, uids, homes, hashes, hub users and class groups.

The first test kills the other long work that changes accounts the same way (point 4): single
removals at points spread over one's timeline, a bulk removal (a job) in its middle, and bulk
class changes of 400 accounts; each leaves the accounts whole, disabled or removed with their
archive, all or none of a class change, and doing it again converges. The second kills a close of
the school year (issue 22) in its export and in its removals. Both run first, while the stack is
small: each of their restarts then takes seconds, not the minute that a reconcile of 11,000
accounts takes; the imports' test needs the thousands of accounts and keeps them.
"""
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import tempfile
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
registry = {login: {"uid": uid, "hash": h, "classes": json.loads(c), "disabled": bool(d)} for login, uid, h, c, d in
            db.execute("SELECT login, uid, password_hash, classes, disabled FROM accounts")}
local = {u.pw_name: u.pw_uid for u in pwd.getpwall() if 10000 <= u.pw_uid <= 59999}
shadow = dict(line.split(":")[:2] for line in open("/etc/shadow") if line.count(":") > 2)
homes = {e.name: os.stat(e.path).st_uid for e in os.scandir("/home") if e.is_dir(follow_symlinks=False)}
groups = {line.split(":")[0]: set(filter(None, line.strip().split(":")[3].split(","))) for line in open("/etc/group")}
archives = sorted(os.listdir("/srv/jupyterhub/archived-homes")) if os.path.isdir("/srv/jupyterhub/archived-homes") else []
print(json.dumps({"registry": registry, "local": local, "shadow": {k: v for k, v in shadow.items() if k in local},
                  "homes": homes, "archives": archives,
                  "class_groups": {g: sorted(m) for g, m in groups.items() if g.startswith("jh-class-")}}))
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


def kill_and_start(stack, after: float = 0.0, seen: dict = None):
    """Kill the hub's container after some seconds, then start it again. ``seen`` receives what
    the killed container held (state_at_kill), read before the restart's reconcile changes it."""
    cid = stack.container("hub")
    time.sleep(after)
    subprocess.run([DOCKER, "kill", "-s", "KILL", cid], check=True, capture_output=True)
    if seen is not None:
        seen.update(state_at_kill(cid))
    subprocess.run([DOCKER, "start", cid], check=True, capture_output=True)
    stack.wait_for_hub(timeout=300)


def state_at_kill(cid: str) -> dict:
    """The registry's rows, the local accounts and the hub's users of a killed (stopped) container,
    copied out of it (docker cp reads a stopped container, its volumes too)."""
    with tempfile.TemporaryDirectory() as copy:
        for name in ("jhub-admin.sqlite", "jhub-admin.sqlite-wal", "jupyterhub.sqlite", "jupyterhub.sqlite-wal"):
            subprocess.run([DOCKER, "cp", f"{cid}:/srv/jupyterhub/{name}", copy], capture_output=True)  # no WAL: fine
        subprocess.run([DOCKER, "cp", f"{cid}:/etc/passwd", copy], check=True, capture_output=True)
        with contextlib.closing(sqlite3.connect(os.path.join(copy, "jhub-admin.sqlite"))) as db:
            registry = dict(db.execute("SELECT login, password_hash FROM accounts"))
        with contextlib.closing(sqlite3.connect(os.path.join(copy, "jupyterhub.sqlite"))) as db:
            hub = {name for (name,) in db.execute("SELECT name FROM users")}
        with open(os.path.join(copy, "passwd")) as f:
            local = {line.split(":")[0] for line in f if line.count(":") >= 6}
    return {"registry": registry, "local": local, "hub": hub}


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


REMOVALS = 6  # removals killed, each at its own point of an uninterrupted removal's timeline
CLASS_CHANGES = 4  # bulk class changes of BATCH accounts killed the same way
HOME_MB = 40  # what each removed home holds: its archive is most of a removal's time
BULK_REMOVAL = 6  # accounts of a bulk removal (the Accounts page's, a job)


class Killer:
    """Kills the hub container so that the SIGKILL lands about offset seconds after the request
    that it interrupts is sent. `docker kill` itself takes a moment (its latency, measured at each
    kill), longer than the first points of a short operation: for those the kill is started
    first and the request sent after."""

    def __init__(self, stack):
        self.stack, self.latency = stack, 0.5

    def around(self, offset: float, request) -> None:
        kill = threading.Thread(target=self._kill, args=(max(0.0, offset - self.latency),))
        kill.start()
        time.sleep(max(0.0, self.latency - offset))
        try:
            request()
        except requests.RequestException:
            pass  # killed before it answered
        kill.join()

    def _kill(self, after: float) -> None:
        cid = self.stack.container("hub")
        time.sleep(after)
        started = time.monotonic()
        subprocess.run([DOCKER, "kill", "-s", "KILL", cid], check=True, capture_output=True)
        self.latency = time.monotonic() - started
        subprocess.run([DOCKER, "start", cid], check=True, capture_output=True)
        self.stack.wait_for_hub(timeout=300)


def accounts_page_session(admin):
    """The admin's browser session on the Accounts page: (session, the page's XSRF value)."""
    page = admin.session.get(admin.stack.url + "/services/jhub-admin/accounts", timeout=60)
    assert page.status_code == 200, page.status_code
    return admin.session, re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)


def until_not_busy(request):
    """A request again while the service answers 409 (its start-up reconcile after a restart), as
    an admin who clicks again would."""
    deadline = time.monotonic() + 300
    while True:
        r = request()
        if r.status_code != 409 or time.monotonic() > deadline:
            return r
        time.sleep(1)


def change_classes(admin, logins, klass, page=None):
    """The Accounts page's bulk action: the ticked accounts into one class (its form's POST);
    page: the (session, XSRF value) of the page already open."""
    session, xsrf = page or accounts_page_session(admin)
    return until_not_busy(lambda: session.post(
        admin.stack.url + "/services/jhub-admin/accounts/_classes", timeout=300,
        data={"_xsrf": xsrf, "login": logins, "classes": klass}, allow_redirects=False))


def remove(admin, login):
    """The Accounts page's removal, through the API route that the CLI's and the page's share."""
    return until_not_busy(lambda: admin.api("DELETE", f"/services/jhub-admin/api/accounts/{login}", timeout=300))


def bulk_remove(admin, logins) -> str:
    """The Accounts page's bulk removal, through its JSON route: the job's id."""
    r = until_not_busy(lambda: admin.api("POST", "/services/jhub-admin/api/accounts/_bulk", timeout=120,
                                         json={"action": "remove", "logins": logins}))
    assert r.status_code == 202, (r.status_code, r.text[:500])
    return r.json()["id"]


def hub_class_members(admin, group):
    r = admin.api("GET", f"/hub/api/groups/{group}")
    return set(r.json()["users"]) if r.status_code == 200 else set()


def test_removals_and_bulk_class_changes_killed_converge(stack):
    """Issue 26, point 4: the other long work that changes accounts, killed the same way. A removal
    (the Accounts page's, through its API route) killed at any point leaves the account either
    whole or disabled, or gone with its home archived, never a local account or a home that the
    registry does not know; removing it again finishes it. A bulk class change of BATCH accounts
    (the Accounts page's form) killed at any point leaves all of them in the old class or all in
    the new one, with the hub's and the machine's groups following the registry after the
    restart; doing it again converges."""
    people = "login;password;role;class\n" + "".join(
        f"rm{i:03d};Rm-Passw0rd-42;student;RM\n" for i in range(REMOVALS + 1)) + "".join(
        f"{p}{i:02d};Rb-Passw0rd-42;student;RB\n" for p in ("ra", "rb") for i in range(BULK_REMOVAL)) + "".join(
        f"cc{i:04d};Cc-Passw0rd-42;student;CC0\n" for i in range(BATCH))
    stack.exec("hub", "sh", "-c", "umask 077; cat > /tmp/p.csv && jhub-admin import /tmp/p.csv --yes >/dev/null "
               "&& rm /tmp/p.csv", input=people)
    stack.exec("hub", "sh", "-c", f"for h in /home/rm* /home/ra* /home/rb*; do "
               f"head -c {HOME_MB}000000 /dev/urandom > $h/travail.bin && chown --reference=$h $h/travail.bin; done")
    admin = log_in_admin(stack)
    killer = Killer(stack)

    # Removals: the timeline of an uninterrupted one, then one killed at each point of it.
    started = time.monotonic()
    assert remove(admin, "rm000").status_code == 200
    duration = time.monotonic() - started
    left = []
    for k in range(1, REMOVALS + 1):
        login = f"rm{k:03d}"
        uid = machine(stack)["registry"][login]["uid"]
        killer.around(duration * (k - 1) / (REMOVALS - 1), lambda: remove(admin, login))
        state = machine(stack)
        assert not set(state["local"]) - set(state["registry"]), f"removal {k}: a local account the registry lost"
        account = state["registry"].get(login)
        if account is None:
            left.append("removed")
            assert login not in state["local"] and any(a.startswith(login) for a in state["archives"]), login
            assert state["homes"].get(login) in (None, uid), login  # gone, or kept under an id never given again
        else:
            left.append("disabled" if account["disabled"] else "untouched")
            assert state["local"][login] == account["uid"] == uid, login
            assert not account["disabled"] or state["shadow"][login].startswith("!"), login  # cannot log in
        admin = log_in_admin(stack)
        if account is not None:
            r = remove(admin, login)  # the admin removes it again: it finishes
            assert r.status_code == 200, (login, r.status_code, r.text[:500])
        state = machine(stack)
        assert login not in state["registry"] and login not in state["local"] and login not in state["homes"], login
        assert admin.api("GET", f"/hub/api/users/{login}").status_code == 404, login
        next_uid = machine(stack)["registry"]
        assert uid not in {a["uid"] for a in next_uid.values()}, f"removal {k}: its uid was given again"
    print(f"\n[e2e] a removal took {duration:.1f} s uninterrupted; what the kills left: {left}; "
          f"docker kill's latency {killer.latency:.2f} s")
    assert len(set(left)) >= 2, left  # the kills interrupted removals at different points

    # A bulk removal (a job, one account after the other): an uninterrupted one gives the timeline,
    # then another is killed in its middle and, once the stack is back, asked again.
    started = time.monotonic()
    job = wait_job(admin, bulk_remove(admin, [f"ra{i:02d}" for i in range(BULK_REMOVAL)]))
    assert job["state"] == "done" and job["summary"]["removed"] == BULK_REMOVAL, job
    duration = time.monotonic() - started
    bulk = [f"rb{i:02d}" for i in range(BULK_REMOVAL)]
    killer.around(duration / 2, lambda: bulk_remove(admin, bulk))
    state = machine(stack)
    assert not set(state["local"]) - set(state["registry"]), "bulk removal: a local account the registry lost"
    gone = [login for login in bulk if login not in state["registry"]]
    assert all(login not in state["local"] and any(a.startswith(login + "-") and a.endswith(".tar.gz")
                                                   for a in state["archives"]) for login in gone), gone
    assert all(state["registry"][login]["disabled"] for login in bulk if login not in gone)  # none can log in
    print(f"[e2e] a bulk removal of {BULK_REMOVAL} took {duration:.1f} s; killed in its middle, it had removed "
          f"{len(gone)}")
    admin = log_in_admin(stack)
    left = [login for login in bulk if login not in gone]
    if left:
        assert wait_job(admin, bulk_remove(admin, left))["state"] == "done"
    state = machine(stack)
    assert not set(bulk) & (set(state["registry"]) | set(state["local"]) | set(state["homes"]))

    # Bulk class changes: all or none, and the groups follow the registry after the restart.
    logins = [f"cc{i:04d}" for i in range(BATCH)]
    page = accounts_page_session(admin)
    started = time.monotonic()
    assert change_classes(admin, logins, "CC1", page).status_code == 303
    duration = time.monotonic() - started
    outcomes = []
    for k in range(CLASS_CHANGES):
        target = f"CC{k + 2}"
        page = accounts_page_session(admin)
        killer.around(duration * k / (CLASS_CHANGES - 1), lambda: change_classes(admin, logins, target, page))
        admin = log_in_admin(stack)
        state = machine(stack)
        classes = {tuple(state["registry"][login]["classes"]) for login in logins}
        assert len(classes) == 1, f"class change {k}: half applied: {sorted(classes)[:5]}"
        (now,) = classes
        outcomes.append("applied" if now == (target,) else "not applied")
        group = "class-" + now[0].lower()
        deadline = time.monotonic() + 300  # the service's start-up reconcile brings the hub's groups in line
        while hub_class_members(admin, group) != set(logins) and time.monotonic() < deadline:
            time.sleep(2)
        assert hub_class_members(admin, group) == set(logins), f"class change {k}: the hub's group {group}"
        assert set(state["class_groups"].get("jh-" + group, [])) == set(logins), f"class change {k}: jh-{group}"
    print(f"[e2e] a class change of {BATCH} took {duration:.1f} s uninterrupted; the kills left it: {outcomes}")
    assert change_classes(admin, logins, "CC9").status_code == 303  # once more, uninterrupted: it converges
    state = machine(stack)
    assert all(state["registry"][login]["classes"] == ["CC9"] for login in logins)
    assert set(state["class_groups"]["jh-class-cc9"]) == set(logins) == hub_class_members(admin, "class-cc9")
    for old in range(CLASS_CHANGES + 2):
        assert not hub_class_members(admin, f"class-cc{old}") and not state["class_groups"].get(f"jh-class-cc{old}")


LEAVERS = 16  # pupils of the class that leaves at the close
LEAVER_HOME_MB = 30  # what each of their homes holds: zipping it is most of a removal (the kill lands there)


def job_reaching(admin, job_id, stage, done=0, timeout=600) -> dict:
    """The job's state as soon as it is in stage with at least done steps done (polled fast)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = admin.api("GET", f"/services/jhub-admin/api/jobs/{job_id}").json()
        if job["state"] != "running" or (job.get("stage") == stage and job.get("done", 0) >= done):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {stage}")


def close_the_year(admin) -> str:
    r = until_not_busy(lambda: admin.api("POST", "/services/jhub-admin/api/year/close",
                                         json={"school_year": "2026-2027"}, timeout=120))
    assert r.status_code == 202, (r.status_code, r.text[:500])
    return r.json()["id"]


def test_a_close_of_the_year_killed_in_its_export_then_in_its_removals_converges(stack):
    """Issue 22: the service killed in the middle of a close, twice (while the sidecar exports,
    then while the leavers are removed), then the close run again: it finishes, with one export of
    the year, every leaver gone with their archive and their ZIP, and every class ended."""
    people = "login;password;role;class\n" + "".join(
        f"part{i:02d};Part-Passw0rd-42;student;PARTANTS\n" for i in range(LEAVERS)) + "".join(
        f"reste{i:02d};Reste-Passw0rd-42;student;RESTENT\n" for i in range(4)) + "prof.annee;Prof-Passw0rd-42;teacher;\n"
    stack.exec("hub", "sh", "-c", "umask 077; cat > /tmp/p.csv && jhub-admin import /tmp/p.csv --yes >/dev/null "
               "&& rm /tmp/p.csv", input=people)
    stack.exec("hub", "jhub-admin", "courses", "create", "annee_test", "--teacher", "prof.annee")
    stack.exec("hub", "jhub-admin", "courses", "enrol", "annee_test", "--class", "PARTANTS", "--class", "RESTENT")
    leavers = [f"part{i:02d}" for i in range(LEAVERS)]
    stack.exec("hub", "sh", "-c", f"for u in {' '.join(leavers)}; do head -c {LEAVER_HOME_MB}M /dev/urandom > "
               "/home/$u/donnees.bin; echo travail > /home/$u/devoir.py; chown $u /home/$u/*; done")
    admin = log_in_admin(stack)
    assert admin.api("POST", "/services/jhub-admin/api/accounts/_bulk",
                     json={"action": "leave", "logins": leavers}).status_code == 200

    job = job_reaching(admin, close_the_year(admin), "export")
    assert job["state"] == "running", job
    kill_and_start(stack)
    admin = log_in_admin(stack)
    job = job_reaching(admin, close_the_year(admin), "remove", done=LEAVERS // 2)
    assert job["state"] == "running", job
    kill_and_start(stack)
    admin = log_in_admin(stack)
    assert admin.api("GET", f"/services/jhub-admin/api/jobs/{job['id']}").json()["state"] == "interrupted"
    state = machine(stack)
    assert 0 < len([login for login in leavers if login in state["registry"]]) < LEAVERS  # killed halfway
    assert not set(state["local"]) - set(state["registry"]), "a local account that the registry lost"

    job = wait_job(admin, close_the_year(admin))
    assert job["state"] == "done" and job["summary"]["finished"] and not job["warnings"], job
    state = machine(stack)
    assert not set(leavers) & (set(state["registry"]) | set(state["local"]) | set(state["homes"]))
    assert {login for login in leavers if any(a.startswith(login + "-") for a in state["archives"])} == set(leavers)
    year_page = admin.session.get(admin.stack.url + "/services/jhub-admin/year", timeout=60).text
    assert all(re.search(rf"year/handover/{login}-[0-9-]+\.zip", year_page) for login in leavers)
    assert all(state["registry"][f"reste{i:02d}"]["classes"] == [] for i in range(4))
    assert not {"jh-class-partants", "jh-class-restent"} & set(state["class_groups"])
    assert not hub_class_members(admin, "class-restent") and not hub_class_members(admin, "class-partants")
    archives = admin.api("GET", "/services/jhub-admin/api/exports").json()["archives"]
    assert [a["school_year"] for a in archives if a.get("kind") == "year"] == ["2026-2027"], archives


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

    reached, kills = [], []
    for k in range(KILLS):
        prefix = f"k{k:02d}x"
        # Most of an import is hashing; its other phases last a few tenths of a second each, at a
        # moment that varies from run to run: each kill, timed from the upload, bisects between
        # two earlier kills that left phases apart (next_kill_time).
        at = next_kill_time(kills, duration)
        seen = {}
        kill = threading.Thread(target=kill_and_start, args=(stack, at, seen))
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
        reached.append(phase_at_kill(seen, prefix))
        kills.append((at, reached[-1]))
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


PHASES = ("before the registry", "registry", "local accounts", "hub users", "passwords")


def next_kill_time(kills, duration: float) -> float:
    """When to kill the next import, from the kills so far [(seconds after the upload, phase they
    left)]: halfway across the widest interval between two neighbouring kills whose phases are more
    than one apart (a phase between them was not hit yet), else whose phases differ, else the
    widest. The upload's moment and the uninterrupted import's end bound the search."""
    points = [(0.0, PHASES[0]), *sorted(kills), (duration, PHASES[-1])]
    pairs = list(zip(points, points[1:]))
    steps = [lambda a, b: PHASES.index(b[1]) - PHASES.index(a[1]) > 1, lambda a, b: a[1] != b[1],
             lambda a, b: True]
    for wanted in steps:
        chosen = [(b[0] - a[0], a, b) for a, b in pairs if wanted(a, b) and b[0] - a[0] > 0.02]
        if chosen:
            _, a, b = max(chosen)
            return (a[0] + b[0]) / 2
    return duration / 2


def phase_at_kill(seen: dict, prefix: str) -> str:
    """How far a killed import of the accounts named prefix* had got, from what the killed
    container held (the restart's reconcile then finishes local accounts and hub users at once)."""
    batch = {login for login in seen["registry"] if login.startswith(prefix)}
    if not batch:
        return "before the registry"
    if not batch & seen["local"]:
        return "registry"
    if batch - seen["hub"]:
        return "local accounts"
    if any(seen["registry"][login] == "!" for login in batch):
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
