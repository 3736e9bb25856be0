"""End-to-end, in the built images, with the host's cgroups delegated to the hub as `docker/build.sh
up` does (docker/compose.cgroups-v1.yaml or -v2.yaml, by the host): each user's server runs in a
cgroup of their own, where the kernel caps the user's processes together. The teaching kernels,
forked from the kernel template (classroom/kernel_template.py), get what their server has. The misbehaving cell
bounds itself (3 children of at most 230 MB, each ending after a few seconds, under the
per-process limit too), so that a missing limit cannot take the machine down."""
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
from e2e_stack import (HubUser, LentCgroups, class_of_students, kernel_facts, kernel_template_pid,  # noqa: E402
                       process_alive)
from remote_kernel import RemoteKernel  # noqa: E402

from jhub_admin_service.classroom import cgroups  # noqa: E402

LENT = LentCgroups()
V2 = LENT.v2
COMPOSE_OVERRIDES = (LENT.override,)
ADMIN, ADMIN_PASSWORD = "direction", "Cgroupes-2026"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN, "JHUB_ADMIN_PASSWORD": ADMIN_PASSWORD, **LENT.env}
OFFENDER, NEIGHBOUR = "eleve.vorace", "eleve.calme"
STUDENT_MEMORY_MB, STUDENT_PROCESSES = 400, 200
MB = 2 ** 20


def host_folder(controller: str, uid: int) -> Path:
    return LENT.user_folder(controller, uid)


@pytest.fixture(scope="module", autouse=True)
def lent_cgroups():
    """Autouse: set up before the stack, so torn down after it."""
    yield
    LENT.remove()


@pytest.fixture(scope="module")
def students(stack, tmp_path_factory):
    return class_of_students(stack, tmp_path_factory.mktemp("roster"), (OFFENDER, NEIGHBOUR), "2G", STUDENT_MEMORY_MB,
                             STUDENT_PROCESSES)


def kernel_processes(stack, uid: int) -> list:
    """The pids of the user's kernels in the hub's container."""
    out = stack.exec("hub", "python3", "-c", (
        "import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n    try:\n"
        f"        if os.stat('/proc/' + p).st_uid == {uid} and b'ipykernel_launcher' in "
        "open(f'/proc/{p}/cmdline', 'rb').read():\n            print(p)\n    except OSError:\n        pass")).stdout
    return out.split()


def uid_of(stack, login) -> int:
    return int(stack.exec("hub", "id", "-u", login).stdout)


def host_oom_kills(uid: int) -> int:
    """What the host's kernel counts in the user's cgroup (not what the hub says)."""
    events = host_folder("memory", uid) / ("memory.events" if V2 else "memory.oom_control")
    return next(int(line.split()[1]) for line in events.read_text().splitlines() if line.startswith("oom_kill "))


def snapshot(stack) -> dict:
    out = stack.exec("hub", "cat", "/run/jhub-guard/usage.json", check=False).stdout
    return json.loads(out) if out else {}


def test_each_user_s_server_and_kernels_run_in_a_cgroup_of_their_own_with_the_role_s_limits(stack, students):
    uid = uid_of(stack, OFFENDER)
    kernel = RemoteKernel(students[OFFENDER])
    own = kernel.execute("print(open('/proc/self/cgroup').read())")["stdout"]
    if V2:  # seen from the container's own cgroup namespace, whose root is the container's cgroup
        assert f"0::/user-{uid}\n" in own, own
    else:
        joined = {line.split(":")[1] for line in own.splitlines() if line.endswith(f"/{LENT.name}/user-{uid}")}
        assert joined == {"memory", "pids"}, own  # the CPU is shared per process (cpu_per_user is off)
    limit_file = "memory.max" if V2 else "memory.limit_in_bytes"
    hard = int((host_folder("memory", uid) / limit_file).read_text())
    assert hard == cgroups.hard_limit(STUDENT_MEMORY_MB * MB)
    assert int((host_folder("pids", uid) / "pids.max").read_text()) == STUDENT_PROCESSES
    # The users together: at most what the hub container may use (v2: inside the container's cgroup).
    total = host_folder("memory", uid).parent / limit_file
    assert 0 < int(total.read_text()) == int(stack.inspect("hub")["HostConfig"]["Memory"])
    kernel.shutdown()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and snapshot(stack).get("mode") is None:
        time.sleep(0.5)
    mode = "cgroup v2" if V2 else "cgroup v1"
    assert snapshot(stack)["mode"] == mode
    admin = HubUser(stack, ADMIN, ADMIN_PASSWORD)
    assert admin.login()
    admin.make_token()
    assert f'data-mode="{mode}"' in admin.api("GET", "/services/jhub-admin/servers").text


def test_a_burst_faster_than_the_guard_is_stopped_in_the_user_s_own_cgroup(stack, students):
    uid = uid_of(stack, OFFENDER)
    template = kernel_template_pid(stack)
    neighbour = RemoteKernel(students[NEIGHBOUR])
    neighbour_pid = neighbour.execute("import os; print(os.getpid())")["stdout"].strip()
    before = host_oom_kills(uid)

    # A fresh kernel, so the guard (which lets a kernel settle 5 s) is not first: three children of
    # 230 MB each, written at once (past the cgroup's hard limit of 656 MB with the server and
    # the kernel), each ending after 5 s. The guard may stop the kernel afterwards: what is left
    # (two children) is still over the role's limit.
    offender = RemoteKernel(students[OFFENDER])
    result = offender.execute(
        "import subprocess, sys\n"
        "code = 'import time; b = bytes(range(256)) * (230 * 2**20 // 256); time.sleep(5)'\n"
        "children = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(3)]\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and host_oom_kills(uid) == before:
        time.sleep(0.5)
    assert host_oom_kills(uid) > before, result

    deadline = time.monotonic() + 20
    events = []
    while time.monotonic() < deadline and not events:
        events = [e for e in snapshot(stack).get("events", []) if e["user"] == OFFENDER and "OOM killer" in e["reason"]]
        time.sleep(0.5)
    assert events and f"hard limit of {cgroups.hard_limit(STUDENT_MEMORY_MB * MB) // MB} MB" in events[0]["reason"]
    assert f"memory: user {OFFENDER}, pid 0: the kernel's OOM killer" in stack.logs("hub", tail=400)

    # Nobody else lost anything: the neighbour's kernel, the hub.
    assert neighbour.execute("print(os.getpid())")["stdout"].strip() == neighbour_pid
    assert students[NEIGHBOUR].api("GET", "/hub/api/").status_code == 200
    assert host_oom_kills(uid_of(stack, NEIGHBOUR)) == 0
    assert template and kernel_template_pid(stack) == template and process_alive(stack, template)
    # The offender's next cell (in this kernel, or the one restarted after it) says why.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and offender.model().get("execution_state") not in ("idle", "busy"):
        time.sleep(0.5)
    note = offender.execute("print('suite')")
    assert "a été arrêté" in note["stderr"], note
    neighbour.shutdown()
    offender.shutdown()


def test_a_kernel_forked_from_the_template_is_its_user_s_with_its_server_s_limits_and_cgroup(stack, students):
    """Started as JupyterLab starts it (the REST API, then its websocket)."""
    kernel = RemoteKernel(students[OFFENDER])
    facts = kernel_facts(kernel)
    assert facts["preloaded"] and "kernel_template" in facts["parent"], facts
    # Root never imports from the kernel's path (the school's site packages, anyone's wheels):
    # the template runs without it, and the kernel has it, first, as an exec'd kernel would.
    template_env = stack.exec("hub", "cat", f"/proc/{kernel_template_pid(stack)}/environ").stdout.split("\0")
    assert not [v for v in template_env if v.startswith("PYTHONPATH=")], template_env
    path = kernel.execute("import sys\nprint(sys.path[1])")["stdout"].strip()
    assert path == "/opt/kernel-site/current/lib/python3.11/site-packages", path
    # The guard and the Servers page know it as a kernel, by its own command line.
    assert f"ipykernel_launcher -f /run/jupyter/{uid_of(stack, OFFENDER)}/kernel-{kernel.id}.json" in facts["command"]
    kernel_data, server_data = (int(facts[p]["limits"][0][0]) for p in ("kernel", "server"))
    for part in ("kernel", "server"):
        facts[part]["limits"][0] = "(compared below)"
    assert facts["kernel"] == facts["server"], facts  # ids and groups, process limit, cgroups, nice, OOM score
    uid = str(uid_of(stack, OFFENDER))
    assert facts["kernel"]["ids"][0].split() == [uid] * 4 and facts["kernel"]["nice"] == 5
    assert facts["kernel"]["limits"][1][:2] == [str(STUDENT_PROCESSES)] * 2
    # The data limit: the server's, plus the libraries' pages shared with the template (not the pupil's).
    assert server_data < kernel_data < server_data + 300 * MB, (kernel_data, server_data)
    # Dumpable, as an exec'd kernel: the user (hence the guard, which reads as the user) reads its memory map.
    read = stack.exec("hub", "python3", "-c", f"import os; os.setgid({uid}); os.setuid({uid}); "
                      f"print(open('/proc/{facts['pid']}/smaps_rollup').read())", check=False)
    assert read.returncode == 0 and "Pss:" in read.stdout, read.stderr
    kernel.shutdown()


def test_two_pupils_forked_kernels_draw_different_numbers_and_plot_inline_with_a_decimal_comma(stack, students):
    kernels = [RemoteKernel(students[name]) for name in (OFFENDER, NEIGHBOUR)]
    draws = [k.execute("import random, numpy as np\nprint(np.random.random(), np.random.randint(10**9), "
                       "random.random())")["stdout"] for k in kernels]
    assert all(kernel_facts(k)["preloaded"] for k in kernels)
    first, second = (d.split() for d in draws)
    assert len(first) == 3 and all(a != b for a, b in zip(first, second)), draws
    plot = kernels[0].execute(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1], [0, 2.5])\n"
        "fig.canvas.draw()\nprint([t.get_text() for t in ax.get_yticklabels()])\nplt.show()")
    assert plot["status"] == "ok" and "image/png" in plot["displayed"], plot
    assert "'0,5'" in plot["stdout"], plot
    # OpenBLAS's threads, stopped in the template before each fork, start again in the kernel.
    product = kernels[1].execute("a = np.ones((400, 400))\nprint((a @ a)[0, 0])", timeout=60)
    assert product["stdout"].strip() == "400.0", product
    # matplotlib's cache is the pupil's, not the template's (root's).
    cache = kernels[0].execute("import matplotlib, os\nprint(matplotlib.get_cachedir().startswith(os.path.expanduser('~')))")
    assert cache["stdout"].strip() == "True", cache
    for k in kernels:
        k.shutdown()


def test_a_notebook_beside_a_file_named_like_a_library_gets_an_exec_d_kernel_that_imports_that_file(stack, students):
    """As JupyterLab opens a notebook: a session, whose kernel runs in the notebook's folder."""
    pupil = students[NEIGHBOUR]
    contents = f"/user/{NEIGHBOUR}/api/contents"
    assert pupil.api("PUT", f"{contents}/tp-hasard", json={"type": "directory"}).status_code in (200, 201)
    r = pupil.api("PUT", f"{contents}/tp-hasard/numpy.py", json={"type": "file", "format": "text",
                                                                  "content": "VALEUR = 'la mienne'\n"})
    assert r.status_code in (200, 201), r.text
    session = pupil.api("POST", f"/user/{NEIGHBOUR}/api/sessions", json={
        "path": "tp-hasard/cours.ipynb", "type": "notebook", "name": "cours.ipynb", "kernel": {"name": "python3"}})
    assert session.status_code == 201, session.text
    kernel = RemoteKernel(pupil, kernel_id=session.json()["kernel"]["id"])
    assert not kernel_facts(kernel)["preloaded"]
    out = kernel.execute("import numpy\nprint(getattr(numpy, 'VALEUR', 'la bibliothèque'))")
    assert out["stdout"].strip() == "la mienne", out  # as an exec'd kernel would import it
    pupil.api("DELETE", f"/user/{NEIGHBOUR}/api/sessions/{session.json()['id']}")


def test_with_the_template_hung_a_kernel_starts_the_ordinary_way_and_forks_again_once_it_wakes(stack, students):
    template = kernel_template_pid(stack)
    signal_template = "import os, signal, sys; os.kill(int(sys.argv[1]), getattr(signal, sys.argv[2]))"
    stack.exec("hub", "python3", "-c", signal_template, str(template), "SIGSTOP")
    try:
        kernel = RemoteKernel(students[NEIGHBOUR])
        facts = kernel_facts(kernel)
        assert not facts["preloaded"] and "jupyterhub-singleuser" in facts["parent"], facts
    finally:
        stack.exec("hub", "python3", "-c", signal_template, str(template), "SIGCONT")
    # The request it took while stopped was given up on: its child gets no GO, never a second kernel.
    forked = RemoteKernel(students[NEIGHBOUR])
    assert kernel_facts(forked)["preloaded"]
    assert "refused a request of uid" in stack.logs("hub", tail=300)
    running = students[NEIGHBOUR].api("GET", f"/user/{NEIGHBOUR}/api/kernels").json()
    assert len(running) == len(kernel_processes(stack, uid_of(stack, NEIGHBOUR))) == 2, running
    kernel.shutdown()
    forked.shutdown()


def test_with_the_template_killed_a_kernel_starts_the_ordinary_way(stack, students):
    """Last of the module: the template comes back at the next server start."""
    template = kernel_template_pid(stack)
    assert template
    stack.exec("hub", "python3", "-c", f"import os; os.kill({template}, 9)")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_alive(stack, template):
        time.sleep(0.2)
    kernel = RemoteKernel(students[NEIGHBOUR])
    facts = kernel_facts(kernel)
    assert not facts["preloaded"] and "jupyterhub-singleuser" in facts["parent"], facts
    assert kernel.execute("import pandas\nprint(pandas.Series([1, 2]).sum())")["stdout"].strip() == "3"
    kernel.shutdown()
