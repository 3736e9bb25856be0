"""The login storm (issue 12, section 1; issue 23): a class of N students logs in at the start of a lesson.

Each simulated student does what a browser does, without a browser (requests + websocket-client):

1. **login**: GET /hub/login, POST the login form (PAM, with the hub's _xsrf);
2. **server ready**: follow the hub's redirects to /hub/spawn-pending/<name> and read the spawn's
   progress event stream (/hub/api/users/<name>/server/progress) until ``ready``;
3. **lab page**: GET /user/<name>/lab (through the hub's OAuth redirects, as a browser does);
4. **kernel started**: POST /user/<name>/api/kernels on the teaching kernel ("python3",
   "Python 3 (lycée)" in the image);
5. **cell done**: open the kernel's websocket channels, wait for the kernel to answer a
   ``kernel_info_request``, then send an ``execute_request`` for the first cell and wait for its
   output and its ``execute_reply`` (status ok). ``--first-cell`` chooses the cell:

   - ``print``: ``print(6*7)``, whose output is the ``stream`` "42";
   - ``plot``: a lesson's first cell, whose output is a ``display_data`` with an ``image/png``::

         import numpy as np, pandas as pd
         import matplotlib.pyplot as plt
         x = np.linspace(0, 10, 50)
         plt.plot(x, x**2); plt.show()

   A cell without its output (once the kernel is idle again) fails the student. **cell alone** is
   the time from the ``execute_request`` to the ``execute_reply``: the cell without the rest.

A run: every bench account's server stopped; then the **lone student** (an account of its own, on
a fresh server, alone on the hub) ``--lone-repeats`` times, servers stopped between; then the
**storm**: N students whose start times are spread evenly over ``--spread`` seconds (0: all at
once). Several ``--spread`` values give several storms, each after its own lone-student runs;
``--warm`` adds a storm of all at once on servers that the admin warm-started from the Servers
page (the service's ``api/servers/warm``) and that are all ready before the first login. Several
``--first-cell`` values run each lone-student runs and storm once per cell, servers stopped
between, and print one report block per cell (the cell named in its header), then the cells'
headline figures side by side.
For each phase it prints the median, p95 and slowest time since the student's first request,
and the ratio to the lone student's median of the same run; then the targets (35 at once on
2 cores: median time to a ready server <= 20 s, slowest <= 35 s, no failed login, no 429 shown to
a student; to "cell done": the print cell's slowest <= 12 s, the plot cell's median <= 8 s and
slowest <= 15 s; the lone student's cell alone <= 0.3 s), the HTTP 429s and failures counted, the
load average, and the CPU seconds spent by each single-user server process (read from /proc in
the hub container) and by the hub.

It also prints, per student (median over the students):

- **CPU per pupil**, split into the single-user server (its process, read after the cell), the
  kernel until it answered (read as soon as it answered the ``kernel_info_request``) and the first
  cell (the kernel's CPU after the cell minus before it), and their sum. The readings come from
  /proc in the hub container (the kernel: the process whose command line has
  ``ipykernel_launcher`` and the kernel's ``kernel-<id>.json``, else the student's
  ``ipykernel_launcher``), through one ``docker exec`` kept open for the run; the time a student
  waits for a reading is taken out of its times. A reading that fails is reported as missing.
- **the kernels' memory after the first cell**: once the storm's last student is done and before
  the servers stop, the PSS (``Pss:`` of /proc/PID/smaps_rollup, each shared page divided between
  the processes that map it) summed over the storm's kernels, and their RSS summed for
  comparison; the lone student's kernel alone too (close to a fresh kernel's). Read from the
  host's /proc (the bench runs on the docker host as root; the hub container's processes are
  found with ``docker top``). Kernels forked from the kernel template (classroom/kernel_template.py)
  share its pages, so that a part of their memory is counted in the template's PSS: that is
  printed apart. The target (the kernels of 35 students hold at most half the PSS of 35 fresh
  kernels) is for the reader to compare.

Run it from the repository root (no install needed; it uses requests and websocket-client):

    # build the images with a tag of your own, then let the bench start and remove its own stack
    JHUB_IMAGE_TAG=storm docker/build.sh
    PYTHONPATH=. python3 bench/login_storm.py --image-tag storm --spread 0 --spread 60

    # both first cells, one after the other, on the same stack (each phase twice: allow the time)
    PYTHONPATH=. python3 bench/login_storm.py --image-tag storm --first-cell print --first-cell plot \\
        --timeout 2400

    # only the CPU of a server start (its process, from its start to ready): the lone student
    # 5 times, no storm
    PYTHONPATH=. python3 bench/login_storm.py --image-tag storm --students 0 --lone-repeats 5 --cpu-at-ready

    # against a running compose stack (its project name, to create the accounts in its hub
    # container with `jhub-admin import --yes`, and its first admin's password)
    PYTHONPATH=. python3 bench/login_storm.py --url http://127.0.0.1:8000 --project jhub-admin \\
        --admin-user admin --admin-password '...'

The bench creates the accounts ``storm01`` ... ``stormNN`` and ``stormsolo`` (students of the
class "STORM", passwords generated and reset at each run) and leaves them in place on a stack it
did not start. ``--timeout`` bounds the whole run (default 1200 s): past it the bench prints what
it has, removes the stack it started and exits with status 3. Exit status 1 when a target is
missed, 0 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from e2e_stack import LentCgroups, Stack  # noqa: E402

# The bench's own modules, beside this one: storm_student.py (the simulated pupil), storm_report.py
# (the figures and the verdicts), storm_probes.py (the CPU and memory readings). The bench folder
# is sys.path[0] when the bench runs as a script, not when it is imported.
sys.path.insert(0, str(REPO / "bench"))
from storm_probes import ProcReader, cpu_totals, kernels_memory  # noqa: E402
from storm_report import PHASES, log, lone_report, report, side_by_side  # noqa: E402
from storm_student import CELLS, Counters, Student  # noqa: E402

CLASS = "STORM"


# The hub, its accounts and its servers ---------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.stack = None
        self.lent = None
        self.own_stack = False
        self.base = args.url
        self.admin = None
        self.passwords = {}
        self.reader = None  # ProcReader, made by the first reading (of a student's thread)
        self.reader_lock = threading.Lock()

    # stack
    def start_stack(self):
        os.environ["JHUB_IMAGE_TAG"] = self.args.image_tag
        admin_password = "Storm-" + secrets.token_urlsafe(12)
        self.lent = LentCgroups() if self.args.cgroups else None
        stack = Stack(env={"JHUB_ADMIN_USER": "admin", "JHUB_ADMIN_PASSWORD": admin_password,
                           "JHUB_IMAGE_TAG": self.args.image_tag, **(self.lent.env if self.lent else {})},
                      overrides=(self.lent.override,) if self.lent else ())
        stack.project = self.args.project
        if self.args.port:
            stack.port = self.args.port
            stack.url = f"http://127.0.0.1:{stack.port}"
            stack.env["JHUB_HTTP_PORT"] = str(stack.port)
        self.stack, self.own_stack, self.base = stack, True, stack.url
        self.args.admin_user, self.args.admin_password = "admin", admin_password
        log(f"starting compose project {stack.project} (jhub-admin/hub:{self.args.image_tag}) on {stack.url}")
        stack.down(volumes=True)
        stack.up()
        stack.wait_for_hub()

    def attach_stack(self):
        stack = Stack()
        stack.project = self.args.project
        stack.url = self.base
        self.stack = stack

    def remove_stack(self):
        if self.own_stack and not self.args.keep:
            log(f"removing compose project {self.stack.project}")
            self.stack.destroy()
            if self.lent:
                self.lent.remove()

    # accounts
    def accounts(self):
        names = [f"storm{i:02d}" for i in range(1, self.args.students + 1)] + ["stormsolo"]
        self.passwords = {n: "St-" + secrets.token_urlsafe(10) for n in names}
        roster = "login;password;role;class\n" + "".join(
            f"{n};{p};student;{CLASS}\n" for n, p in self.passwords.items())
        start = time.monotonic()
        self.stack.exec("hub", "sh", "-c",
                        "umask 077; cat > /tmp/storm.csv && jhub-admin import /tmp/storm.csv --yes "
                        "--reset-passwords >/dev/null; rc=$?; rm -f /tmp/storm.csv; exit $rc",
                        input=roster)
        log(f"{len(names)} accounts imported in {time.monotonic() - start:.1f} s")

    def admin_session(self):
        s = requests.Session()
        s.get(self.base + "/hub/login", timeout=30).raise_for_status()
        xsrf = next(c.value for c in s.cookies if c.name == "_xsrf")
        r = s.post(self.base + "/hub/login", allow_redirects=False, timeout=60,
                   data={"username": self.args.admin_user, "password": self.args.admin_password, "_xsrf": xsrf})
        if r.status_code != 302 or "/hub/login" in r.headers.get("Location", ""):
            raise SystemExit(f"the admin {self.args.admin_user} cannot log in ({r.status_code})")
        xsrf = next(c.value for c in s.cookies if c.name == "_xsrf")  # a new one after the login
        r = s.post(self.base + f"/hub/api/users/{self.args.admin_user}/tokens", headers={"X-XSRFToken": xsrf},
                   json={"note": "login storm bench", "expires_in": 7200}, timeout=30)
        r.raise_for_status()
        self.admin = {"Authorization": f"token {r.json()['token']}"}

    def hub_api(self, method, path, **kw):
        return requests.request(method, self.base + "/hub/api" + path, headers=self.admin,
                                timeout=kw.pop("timeout", 60), **kw)

    def stop_servers(self, timeout=120):
        names = list(self.passwords)
        for name in names:
            r = self.hub_api("DELETE", f"/users/{name}/server")
            if r.status_code not in (202, 204, 400, 404):
                log(f"stopping {name}'s server: {r.status_code}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [n for n in names if (self.hub_api("GET", f"/users/{n}").json().get("servers") or {})]
            if not running:
                break
            time.sleep(1)
        else:
            log(f"servers still running after {timeout} s: {running}")
        # no process of a bench user left (the server's kernels go with it)
        self.stack.exec("hub", "python3", "-c", self.GONE_SCRIPT, *names, check=False)

    GONE_SCRIPT = r"""
import os, pwd, sys, time
uids = {pwd.getpwnam(n).pw_uid for n in sys.argv[1:]}
for _ in range(60):
    left = [p for p in os.listdir('/proc') if p.isdigit() and os.path.exists(f'/proc/{p}')
            and os.stat(f'/proc/{p}').st_uid in uids]
    if not left:
        break
    time.sleep(0.5)
"""

    def site_config(self, path):
        """Install a hub site config (jupyterhub_site_config.py on the data volume), restart the hub."""
        text = Path(path).read_text()
        self.stack.exec("hub", "sh", "-c", "cat > /srv/jupyterhub/jupyterhub_site_config.py", input=text)
        log(f"site config {path} installed; restarting the hub")
        self.stack.compose("restart", "hub")
        self.stack.wait_for_hub()

    # CPU read from /proc in the hub container
    def cpu(self, names):
        if self.stack is None or not self.args.project:
            return None
        return cpu_totals(self.stack, names)

    def read_cpu(self, student):
        """A student's server and kernel CPU now (Student.cpu_probe), or None."""
        if self.stack is None or not self.args.project:
            return None
        with self.reader_lock:  # one reader for the students' threads
            if self.reader is None:
                self.reader = ProcReader(self.stack)
        return self.reader.read(student.name, student.kernel_id)

    def kernels_memory(self, students):
        """The students' kernels' memory (storm_probes.kernels_memory), or None."""
        return kernels_memory(self.stack, students)


    # runs
    def run_students(self, names, spread, counters, on_ready=None, cell="print"):
        students = [Student(self.base, n, self.passwords[n], counters, self.args.student_timeout, cell)
                    for n in names]
        for student in students:
            student.on_ready = on_ready
            student.cpu_probe = self.read_cpu
        threads = []
        start = time.monotonic()
        for i, student in enumerate(students):
            delay = spread * i / max(1, len(students) - 1) if spread else 0.0
            t = threading.Timer(max(0.0, start + delay - time.monotonic()), student.run)
            t.daemon = True
            threads.append(t)
            t.start()
        for t in threads:
            t.join()
        return students

    def lone(self, cell="print"):
        results = []
        for i in range(self.args.lone_repeats):
            self.stop_servers()
            counters = Counters()
            at_ready = {}
            if self.args.cpu_at_ready:
                def probe(student):
                    at_ready.update((self.cpu(["stormsolo"]) or {}).get("servers", {}))
            else:
                probe = None
            [student] = self.run_students(["stormsolo"], 0, counters, on_ready=probe, cell=cell)
            # its kernel alone after the first cell: about a fresh kernel's memory
            student.kernel_memory = self.kernels_memory([student])
            cpu = self.cpu(["stormsolo"]) if student.error is None else None
            server_cpu = (cpu or {}).get("servers", {}).get("stormsolo")
            if self.args.cpu_at_ready:
                server_cpu = at_ready.get("stormsolo")
            results.append((student, counters, server_cpu))
            log(f"lone student #{i + 1} ({cell}): " + (student.error or " ".join(
                f"{p}={student.marks[p]:.2f}s" for p in PHASES) + f" cell alone={student.cell_alone:.2f}s") +
                (f", server CPU {server_cpu:.2f} s" if server_cpu is not None else ""))
        return results

    def warm_start(self, names, timeout=600):
        """The admin starts the class's servers from the Servers page (its JSON API) and waits
        until they are all ready, as an admin would before the lesson."""
        start = time.monotonic()
        r = requests.post(self.base + "/services/jhub-admin/api/servers/warm", headers=self.admin,
                          json={"class": CLASS, "minutes": 30}, timeout=60)
        r.raise_for_status()
        while time.monotonic() - start < timeout:
            users = {u["name"]: u for u in self.hub_api("GET", "/users", params={"state": "ready"}).json()}
            if all(n in users for n in names):
                log(f"warm start: {len(names)} servers ready in {time.monotonic() - start:.1f} s")
                return time.monotonic() - start
            time.sleep(2)
        raise SystemExit("warm start: the servers did not all become ready")

    def storm(self, spread, warm=False, cell="print"):
        self.stop_servers()
        names = [f"storm{i:02d}" for i in range(1, self.args.students + 1)]
        if warm:
            self.warm_start(names)
        counters = Counters()
        cpu_before = self.cpu([])
        load_before = os.getloadavg()
        start = time.monotonic()
        students = self.run_students(names, spread, counters, cell=cell)
        wall = time.monotonic() - start
        memory = self.kernels_memory(students)  # every student is done, no server stopped yet
        cpu = self.cpu(names)
        return {"students": students, "counters": counters, "wall": wall, "load_before": load_before,
                "load_after": os.getloadavg(), "kernels_memory": memory,
                "server_cpu": list((cpu or {}).get("servers", {}).values()),
                "kernel_cpu": list((cpu or {}).get("kernels", {}).values()),
                "hub_cpu": (cpu["hub"] - cpu_before["hub"]) if cpu and cpu_before else None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", "-n", type=int, default=35, help="students in the storm (default 35)")
    p.add_argument("--spread", type=float, action="append",
                   help="seconds over which the students' start times are spread (0: all at once; "
                        "repeat for several storms; default 0)")
    p.add_argument("--lone-repeats", type=int, default=3, help="lone-student runs before each storm (default 3)")
    p.add_argument("--student-timeout", type=float, default=240, help="seconds a student waits in all (default 240)")
    p.add_argument("--timeout", type=float, default=1200, help="hard limit of the whole run, seconds (default 1200)")
    p.add_argument("--url", help="a running stack (default: start one from docker/compose.yaml)")
    p.add_argument("--project", default="jhub-storm", help="compose project name (default jhub-storm)")
    p.add_argument("--port", type=int, default=0, help="host port of a stack the bench starts (default: free)")
    p.add_argument("--image-tag", default=os.environ.get("JHUB_IMAGE_TAG", "latest"),
                   help="tag of jhub-admin/hub and jhub-admin/sidecar for a stack the bench starts")
    p.add_argument("--admin-user", default="admin")
    p.add_argument("--admin-password", default=os.environ.get("JHUB_ADMIN_PASSWORD"))
    p.add_argument("--cpu-at-ready", action="store_true",
                   help="read the lone student's server CPU as soon as it is ready (else after the cell)")
    p.add_argument("--site-config", help="a hub site config to try on the stack the bench starts "
                   "(copied to its data volume as jupyterhub_site_config.py, then the hub restarts)")
    p.add_argument("--cgroups", action="store_true",
                   help="lend the host's cgroups to the stack the bench starts, as docker/build.sh up does")
    p.add_argument("--keep", action="store_true", help="leave the stack the bench started running")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--warm", action="store_true", help="then a storm of all at once on servers warm-started by "
                                                       "the admin (target: ready within 3 s of the login)")
    p.add_argument("--first-cell", action="append", choices=sorted(CELLS),
                   help="the cell each student runs on its new kernel: print (print(6*7)) or plot (numpy, "
                        "pandas, a matplotlib plot); repeat to run each phase once per cell (default print)")
    args = p.parse_args(argv)
    args.spread = args.spread or [0.0]
    # (not argparse's default: "append" would add to it)
    args.first_cell = list(dict.fromkeys(args.first_cell or ["print"]))
    if args.site_config and args.url:
        p.error("--site-config only for a stack the bench starts (it replaces the hub's site config)")

    bench = Bench(args)

    def watchdog():
        log(f"overall timeout ({args.timeout:.0f} s): giving up")
        try:
            bench.remove_stack()
        finally:
            os._exit(3)

    timer = threading.Timer(args.timeout, watchdog)
    timer.daemon = True
    timer.start()
    results = []
    try:
        if args.url:
            bench.attach_stack()
        else:
            bench.start_stack()
        if args.site_config:
            bench.site_config(args.site_config)
        bench.accounts()
        bench.admin_session()
        log(f"hub {bench.base}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        runs = [(spread, False) for spread in args.spread] + ([(0.0, True)] if args.warm else [])
        for spread, warm in runs:
            for cell in args.first_cell:  # lone() and storm() stop every bench server first
                lone = bench.lone(cell)
                if args.students:
                    log(f"storm: {args.students} students over {spread:g} s, first cell {cell}"
                        + (", servers warm-started" if warm else ""))
                    storm = bench.storm(spread, warm=warm, cell=cell)
                    if warm:
                        print("\n(warm start: the class's servers started from the Servers page before the logins)")
                    results.append({**report(lone, storm, spread, args.students, cell), "warm": warm})
                    sys.stdout.flush()
                else:
                    results.append(lone_report(lone, cell, args.cpu_at_ready))
        bench.stop_servers()
        if len(args.first_cell) > 1:
            side_by_side(results, args.first_cell)
    finally:
        timer.cancel()
        if bench.reader:
            bench.reader.close()
        bench.remove_stack()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0 if all(r.get("targets_met", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
