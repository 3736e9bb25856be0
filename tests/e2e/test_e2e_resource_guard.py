"""End-to-end, in the built images: no student can take the server from the others. Real kernels
of real users' servers (started by the hub's spawner, so with its limits), real runaway code,
the real guard. Every misbehaving cell bounds itself (memory allocated, processes forked, time
busy) so that the test cannot take the machine down if the limit under test were missing; the
hub container's own memory limit (compose.yaml) is the last bound."""
import json
import re
import secrets
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from browsertools import ARTIFACTS, SCREENSHOTS, chromium, log_in  # noqa: E402
from e2e_stack import HubUser, class_of_students, kernel_template_pid, process_alive  # noqa: E402
from remote_kernel import RemoteKernel  # noqa: E402

ADMIN, ADMIN_PASSWORD = "direction", "Garde-Fou-2026"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN, "JHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
OFFENDER, NEIGHBOUR, NEWCOMER = "eleve.gourmand", "eleve.sage", "eleve.curieux"
STUDENT_MEMORY_MB, STUDENT_PROCESSES = 400, 200


@pytest.fixture(scope="module")
def students(stack, tmp_path_factory):
    return class_of_students(stack, tmp_path_factory.mktemp("roster"), (OFFENDER, NEIGHBOUR, NEWCOMER), "2B", STUDENT_MEMORY_MB,
                             STUDENT_PROCESSES)


def guard_events(stack):
    out = stack.exec("hub", "cat", "/run/jhub-guard/usage.json", check=False).stdout
    return json.loads(out)["events"] if out else []


def test_a_cell_over_the_memory_limit_gets_a_memory_error_the_kernel_lives_on(students):
    kernel = RemoteKernel(students[OFFENDER])
    # At most 40 x 25 MB = 1 GB, whatever the limit.
    result = kernel.execute("x = []\nfor i in range(40):\n    x.append(bytes(25 * 2**20))\n")
    assert result["ename"] == "MemoryError", result
    assert "Mémoire insuffisante" in result["stderr"] and f"{STUDENT_MEMORY_MB} Mo par élève" in result["stderr"]
    assert kernel.execute("del x\nprint(6 * 7)")["stdout"] == "42\n"
    kernel.shutdown()


def test_processes_over_the_limit_together_lose_their_biggest_kernel_and_nothing_else(stack, students):
    offender, neighbour = RemoteKernel(students[OFFENDER]), RemoteKernel(students[NEIGHBOUR])
    neighbour_pid = neighbour.execute("import os; print(os.getpid())")["stdout"].strip()
    kernel_pid = int(offender.execute("import os; print(os.getpid())")["stdout"])
    # Three children of 200 MB each, written (so resident), each under the per-process limit and
    # together over it; each ends by itself after 60 s.
    started = offender.execute(
        "import subprocess, sys, time\n"
        "code = 'import time; b = bytes(range(256)) * (200 * 2**20 // 256); time.sleep(60)'\n"
        "children = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(3)]\n")
    assert started["status"] == "ok", started
    deadline = time.monotonic() + 60
    events = []
    while time.monotonic() < deadline and not events:
        events = [e for e in guard_events(stack) if e["kind"] == "memory" and e["pid"] == kernel_pid]
        time.sleep(0.5)
    assert events, stack.logs("hub", tail=40)
    assert events[0]["user"] == OFFENDER and f"limit of {STUDENT_MEMORY_MB} MB" in events[0]["reason"]
    # The neighbour's kernel, the hub and the offender's server live on.
    assert neighbour.execute("print(os.getpid())")["stdout"].strip() == neighbour_pid
    assert students[NEIGHBOUR].api("GET", "/hub/api/").status_code == 200
    # The offender's kernel restarts; its next cell says why the previous one stopped.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and offender.model().get("execution_state") not in ("idle", "busy"):
        time.sleep(0.5)
    after = offender.execute("import os; print(os.getpid())")
    assert int(after["stdout"]) != kernel_pid
    assert "Votre noyau précédent a été arrêté" in after["stderr"] and f"limite de {STUDENT_MEMORY_MB} Mo" in after[
        "stderr"]
    hub_log = stack.logs("hub", tail=400)
    assert re.search(rf"memory: user {re.escape(OFFENDER)}, pid {kernel_pid}: .*over the limit", hub_log)


def test_a_detached_program_holding_the_memory_is_stopped_not_the_innocent_kernel(stack, students):
    """Issue 20, point 5: the memory is held outside any kernel (a program in a session of its
    own, as from a terminal): the guard stops that program, and the kernel lives on and says why."""
    kernel = RemoteKernel(students[OFFENDER])
    kernel_pid = int(kernel.execute("import os; print(os.getpid())")["stdout"])
    # Two processes of 200 MB each (under the per-process limit), in a session of their own; each
    # ends by itself after 60 s.
    hog = ("import os, time\n"
           "os.fork()\n"
           "b = bytes(range(256)) * (200 * 2**20 // 256)\n"
           "time.sleep(60)\n")
    started = kernel.execute("import subprocess, sys\n"
                             f"hog = subprocess.Popen([sys.executable, '-c', {hog!r}], start_new_session=True)\n"
                             "print(hog.pid)")
    hog_pid = int(started["stdout"])
    deadline = time.monotonic() + 60
    events = []
    while time.monotonic() < deadline and not events:
        events = [e for e in guard_events(stack) if e["kind"] == "memory" and e["user"] == OFFENDER
                  and e["pid"] in (hog_pid, kernel_pid)]
        time.sleep(0.5)
    assert events and events[0]["pid"] == hog_pid, (events, stack.logs("hub", tail=40))
    assert "this program" in events[0]["reason"] and f"limit of {STUDENT_MEMORY_MB} MB" in events[0]["reason"]
    after = kernel.execute("import os\nprint(os.getpid(), hog.wait(timeout=10))")
    assert after["stdout"].split() == [str(kernel_pid), "-9"], after  # the kernel lives; the program was killed
    assert "Un de vos programmes" in after["stderr"] and "Ce noyau continue" in after["stderr"], after
    kernel.shutdown()


def test_a_fork_loop_stops_at_the_process_limit(stack, students):
    template = kernel_template_pid(stack)
    neighbour = RemoteKernel(students[NEIGHBOUR])
    kernel = RemoteKernel(students[OFFENDER])
    pid = int(kernel.execute("import os; print(os.getpid())")["stdout"])
    result = kernel.execute(
        "import os, time\n"
        "children, error = [], None\n"
        "for i in range(400):  # twice the limit under test, no more\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError as exc:\n"
        "        error = exc\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    children.append(pid)\n"
        "time.sleep(8)  # the guard judges them: they share the kernel's pages, which count once\n"
        "for pid in children:\n"
        "    os.kill(pid, 9)\n"
        "    os.waitpid(pid, 0)\n"
        "print(len(children), type(error).__name__)\n", timeout=180)
    forked, error = result["stdout"].split()
    assert error == "BlockingIOError" and int(forked) < STUDENT_PROCESSES, result
    assert kernel.execute("print('encore là', os.getpid())")["stdout"] == f"encore là {pid}\n"
    assert not [e for e in guard_events(stack) if e["kind"] == "memory" and e["pid"] == pid]
    # The kernel template that forked it, and another pupil's kernel, never noticed.
    assert template and kernel_template_pid(stack) == template and process_alive(stack, template)
    assert neighbour.execute("print(6 * 7)")["stdout"] == "42\n"
    neighbour.shutdown()
    kernel.shutdown()


def test_busy_loops_get_the_lowest_priority(stack, students):
    kernel = RemoteKernel(students[OFFENDER])
    pids = kernel.execute(
        "import subprocess, sys\n"
        "code = 'import time\\nt = time.time()\\nwhile time.time() - t < 60: pass'\n"
        "busy = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(4)]\n"
        "print(' '.join(str(p.pid) for p in busy))")["stdout"].split()
    deadline = time.monotonic() + 40
    niceness = {}
    while time.monotonic() < deadline and set(niceness.values()) != {19}:
        out = kernel.execute("import os\nprint(' '.join(str(os.getpriority(os.PRIO_PROCESS, int(p))) for p in "
                             f"{pids!r}))")["stdout"].split()
        niceness = dict(zip(pids, map(int, out)))
        time.sleep(1)
    assert set(niceness.values()) == {19}, niceness
    cpu_events = {e["pid"] for e in guard_events(stack) if e["kind"] == "cpu" and e["user"] == OFFENDER}
    assert {int(p) for p in pids} <= cpu_events
    kernel.execute("for p in busy: p.kill()")
    kernel.shutdown()


#: Run by a pupil: for 40 s, stops (SIGSTOP) every process of theirs that the guard forked, as
#: soon as it appears, and busy-loops meanwhile (so the guard has something to renice). At its
#: end it lets them go (SIGCONT) and prints how many it stopped.
FREEZE_THE_GUARD = r"""
import os, signal, time
me = str(os.getuid())
def parent_and_uid(pid):
    status = open(f'/proc/{pid}/status').read().split('\n')
    fields = dict(line.split(':', 1) for line in status if ':' in line)
    return fields['PPid'].strip(), fields['Uid'].split()[0]
guards = {p for p in os.listdir('/proc') if p.isdigit()
          and b'classroom.guard' in open(f'/proc/{p}/cmdline', 'rb').read()}
stopped = set()
end = time.time() + 40
while time.time() < end:
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or pid in stopped:
            continue
        try:
            parent, uid = parent_and_uid(pid)
            if parent in guards and uid == me:
                os.kill(int(pid), signal.SIGSTOP)
                stopped.add(pid)
        except (OSError, KeyError, IndexError, ValueError):
            pass
for pid in stopped:
    try:
        os.kill(int(pid), signal.SIGCONT)
    except OSError:
        pass
print(len(stopped), 'stopped')
"""


def test_a_pupil_cannot_freeze_the_guard_for_everyone(stack, students):
    """Issue 20, point 2: the guard renices a pupil's busy processes and reads their memory without
    forking anything that the pupil could stop: while a pupil stops whatever the guard forks, it
    goes on renicing, and its snapshot stays fresh."""
    kernel = RemoteKernel(students[OFFENDER])
    started = kernel.execute(
        "import subprocess, sys\n"
        f"freezer = subprocess.Popen([sys.executable, '-c', {FREEZE_THE_GUARD!r}], stdout=subprocess.PIPE, text=True)\n"
        "busy = 'import time\\nt = time.time()\\nwhile time.time() - t < 35: pass'\n"
        "first = [subprocess.Popen([sys.executable, '-c', busy]) for _ in range(3)]\n")
    assert started["status"] == "ok", started

    def niceness(pids):
        out = kernel.execute("import os\nprint(' '.join(str(os.getpriority(os.PRIO_PROCESS, p)) for p in "
                             f"{pids!r}))")["stdout"].split()
        return set(map(int, out))

    def wait_lowered(expression):
        pids = [int(p) for p in kernel.execute(f"print(' '.join(str(p.pid) for p in {expression}))")["stdout"].split()]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and niceness(pids) != {19}:
            time.sleep(1)
        return niceness(pids)

    assert wait_lowered("first") == {19}
    kernel.execute("later = [subprocess.Popen([sys.executable, '-c', busy]) for _ in range(2)]")
    assert wait_lowered("later") == {19}  # the guard still works after the first ones
    snapshot = json.loads(stack.exec("hub", "cat", "/run/jhub-guard/usage.json").stdout)
    assert time.time() - snapshot["time"] < 10, snapshot["time"]
    told = kernel.execute("print(freezer.communicate(timeout=60)[0])", timeout=90)["stdout"]
    assert told.strip() == "0 stopped", told  # the guard forked nothing that was the pupil's
    kernel.execute("for p in first + later: p.kill()")
    kernel.shutdown()


OOM_SCORES = ("import json, os\n"
              "out = []\n"
              "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
              "    try:\n"
              "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()\n"
              "        out.append([int(open(f'/proc/{pid}/oom_score_adj').read()), cmd])\n"
              "    except OSError:\n"
              "        pass\n"
              "print(json.dumps(out))\n")


def test_users_processes_go_first_to_the_oom_killer_and_the_hub_last(stack, students):
    scores = json.loads(stack.exec("hub", "python3", "-c", OOM_SCORES).stdout)

    def score_of(word, but="kernel_template"):  # the template names the kernels' command in its own
        return {score for score, command in scores if word in command and but not in command}
    lowest = min(score for score, _ in scores)
    assert score_of("bin/jupyterhub ") == {lowest} and score_of("configurable-http-proxy") == {lowest}
    assert score_of("jupyterhub-singleuser") == {1000} and score_of("ipykernel_launcher") <= {1000}
    assert score_of("kernel_template", but="\0") == {lowest}  # root's, like the preloading process
    assert lowest < 1000
    assert int(stack.inspect("hub")["HostConfig"]["Memory"]) > 0


def test_the_servers_page_shows_each_user_heaviest_first_and_an_admin_stops_one_kernel(stack, students):
    admin = HubUser(stack, ADMIN, ADMIN_PASSWORD)
    assert admin.login()
    admin.make_token()
    kernel = RemoteKernel(students[NEIGHBOUR])
    kernel_pid = int(kernel.execute("import os; b = bytes(range(256)) * (100 * 2**20 // 256); print(os.getpid())")[
        "stdout"])
    time.sleep(2.5)  # two scans of the guard
    usage = admin.api("GET", "/services/jhub-admin/api/usage").json()["usage"]
    logins = [u["login"] for u in usage["users"]]
    assert logins[0] == NEIGHBOUR and OFFENDER in logins
    mine = usage["users"][0]
    assert mine["memory"] >= 100 * 2 ** 20 and mine["limit"] == STUDENT_MEMORY_MB * 2 ** 20
    assert kernel_pid in [k["pid"] for k in mine["kernels"]]
    # A notebook's kernel is shown by the notebook's name, not a pid (issue 21, point 15).
    session = students[NEIGHBOUR].api("POST", f"/user/{NEIGHBOUR}/api/sessions", json={
        "path": "devoir-de-maths.ipynb", "type": "notebook", "name": "devoir-de-maths.ipynb",  # as JupyterLab asks
        "kernel": {"name": "python3"}})
    assert session.status_code == 201, session.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        users = admin.api("GET", "/services/jhub-admin/api/usage").json()["usage"]["users"]
        named = {k["pid"]: k["notebook"] for u in users if u["login"] == NEIGHBOUR for k in u["kernels"]}
        if "devoir-de-maths.ipynb" in named.values():
            break
        time.sleep(1)
    # The notebook's kernel by its name; the one started without a notebook (and the pupil's
    # others, from the tests before) by none.
    assert [name for name in named.values() if name] == ["devoir-de-maths.ipynb"] and named[kernel_pid] == "", named
    page = admin.session.get(stack.url + "/services/jhub-admin/servers", timeout=60).text
    assert "devoir-de-maths.ipynb" in page and "Notebooks en cours (noyaux)" in page
    students[NEIGHBOUR].api("DELETE", f"/user/{NEIGHBOUR}/api/sessions/{session.json()['id']}")
    r = admin.api("POST", f"/services/jhub-admin/servers/{NEIGHBOUR}/kernels/{kernel_pid}/stop",
                  allow_redirects=False)
    assert r.status_code == 303
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and kernel.model().get("execution_state") not in ("idle", "busy"):
        time.sleep(0.5)
    after = kernel.execute("import os; print(os.getpid())")
    assert int(after["stdout"]) != kernel_pid and "arrêté par un administrateur" in after["stderr"]


def test_the_student_sees_why_in_the_notebook(stack, students):
    student = students[NEWCOMER]  # no other kernel: the whole limit is this notebook's
    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 800})
        page.set_default_timeout(120_000)
        log_in(page, stack.url, student.name, student.password)
        page.wait_for_url(f"**/user/{student.name}/lab**")
        page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
        page.get_by_text("Python 3 (lycée) | Inactif").wait_for()  # the kernel is up: the cell will run
        page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
        page.keyboard.type("donnees = [bytes(25 * 2**20) for i in range(40)]")
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-OutputArea-output", has_text="Mémoire insuffisante").first
        try:
            output.wait_for()
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "memory-limit-failed.png"))
            raise
        assert "MemoryError" in page.locator(".jp-OutputArea").first.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "memory-limit.png"))
        page.screenshot(path=str(SCREENSHOTS / "memory-limit.png"))


def test_a_warm_started_class_finds_its_servers_ready_at_login_and_kept(stack, tmp_path):
    passwords = {f"eleve.w{i}": "Ws-" + secrets.token_urlsafe(9) for i in range(3)}
    roster = tmp_path / "2w.csv"
    roster.write_text("login;password;role;class\n" + "".join(f"{login};{pw};student;2W\n"
                                                               for login, pw in passwords.items()))
    stack.copy_to("hub", roster, "/tmp/2w.csv")
    stack.exec("hub", "jhub-admin", "import", "/tmp/2w.csv", "--yes")
    admin = HubUser(stack, ADMIN, ADMIN_PASSWORD)
    assert admin.login()
    admin.make_token()
    r = admin.api("POST", "/services/jhub-admin/api/servers/warm", json={"class": "2W", "minutes": 30})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 180
    job = {}
    while time.monotonic() < deadline and job.get("done") != 3:
        job = admin.api("GET", f"/services/jhub-admin/api/jobs/{job_id}").json()
        time.sleep(1)
    assert job["done"] == 3 and job["state"] == "running", job  # ready, and kept for the lesson
    assert job["meta"]["until"] - time.time() > 25 * 60
    page = admin.api("GET", "/services/jhub-admin/servers").text
    assert "2W\u00a0: 3 serveurs prêts sur 3" in page or "2W: 3 of 3 servers ready" in page
    for login, password in passwords.items():
        assert admin.api("GET", f"/hub/api/users/{login}").json()["servers"][""]["ready"]
        student = HubUser(stack, login, password)
        assert student.login()
        # The hub sends the student to their running server: no spawn page, no wait.
        r = student.session.get(stack.url + "/hub/", timeout=30)
        assert r.status_code == 200 and f"/user/{login}/lab" in r.url, r.url


def test_kernels_started_together_never_race_for_ports(students):
    """Six kernels of one student started at once all answer: they talk to the server over Unix
    sockets in the student's own runtime folder, not over TCP ports picked at random."""
    import concurrent.futures

    user = students[NEIGHBOUR]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        kernels = list(pool.map(lambda _: RemoteKernel(user), range(6)))
        outputs = list(pool.map(lambda k: k.execute("import json, ipykernel.connect as c\n"
                                                     "print(json.load(open(c.get_connection_file()))['transport'], "
                                                     "c.get_connection_file())"), kernels))
    for kernel, output in zip(kernels, outputs):
        transport, path = output["stdout"].split()
        uid = user.run("id", "-u").stdout.strip()
        assert transport == "ipc" and path.startswith(f"/run/jupyter/{uid}/"), output
        kernel.shutdown()
