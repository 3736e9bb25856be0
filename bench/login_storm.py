"""The login storm (issue 12, section 1): a class of N students logs in at the start of a lesson.

Each simulated student does what a browser does, without a browser (requests + websocket-client):

1. **login**: GET /hub/login, POST the login form (PAM, with the hub's _xsrf);
2. **server ready**: follow the hub's redirects to /hub/spawn-pending/<name> and read the spawn's
   progress event stream (/hub/api/users/<name>/server/progress) until ``ready``;
3. **lab page**: GET /user/<name>/lab (through the hub's OAuth redirects, as a browser does);
4. **kernel started**: POST /user/<name>/api/kernels on the teaching kernel ("python3",
   "Python 3 (lycée)" in the image);
5. **cell done**: open the kernel's websocket channels, send an ``execute_request`` for
   ``print(6*7)`` and wait for the ``stream`` "42" and the ``execute_reply``.

A run: every bench account's server stopped; then the **lone student** (an account of its own, on
a fresh server, alone on the hub) ``--lone-repeats`` times, servers stopped between; then the
**storm**: N students whose start times are spread evenly over ``--spread`` seconds (0: all at
once). Several ``--spread`` values give several storms, each after its own lone-student runs;
``--warm`` adds a storm of all at once on servers that the admin warm-started from the Servers
page (the service's ``api/servers/warm``) and that are all ready before the first login.
For each phase it prints the median, p95 and slowest time since the student's first request,
and the ratio to the lone student's median of the same run; then the targets (35 at once on
2 cores: median time to a ready server <= 20 s, slowest <= 35 s, no failed login, no 429 shown to
a student), the HTTP 429s and failures counted, the load average, and the CPU seconds spent by
each single-user server process (read from /proc in the hub container) and by the hub.

Run it from the repository root (no install needed; it uses requests and websocket-client):

    # build the images with a tag of your own, then let the bench start and remove its own stack
    JHUB_IMAGE_TAG=storm docker/build.sh
    PYTHONPATH=. python3 bench/login_storm.py --image-tag storm --spread 0 --spread 60

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
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

try:
    import websocket  # websocket-client
except ImportError:  # pragma: no cover
    websocket = None

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from e2e_stack import LentCgroups, Stack  # noqa: E402

KERNEL_NAME = "python3"  # the image's teaching kernel, "Python 3 (lycée)" (docker/Dockerfile)
CLASS = "STORM"
PHASES = ("login", "server ready", "lab page", "kernel started", "cell done")
TARGET_MEDIAN_READY, TARGET_MAX_READY = 20.0, 35.0


# Statistics -------------------------------------------------------------------------------------

def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def summary(values):
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values), "p95": percentile(values, 95),
            "max": max(values)}


# One student ------------------------------------------------------------------------------------

class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}  # HTTP status >= 400 -> count
        self.requests = 0

    def hook(self, response, *args, **kwargs):
        with self.lock:
            self.requests += 1
            if response.status_code >= 400:
                self.status[response.status_code] = self.status.get(response.status_code, 0) + 1


class StudentFailed(Exception):
    def __init__(self, phase, message):
        super().__init__(f"{phase}: {message}")
        self.phase = phase


class Student:
    """One browser-free student: login form, spawn progress, lab page, kernel, one cell."""

    def __init__(self, base_url, name, password, counters, timeout):
        self.base, self.name, self.password = base_url.rstrip("/"), name, password
        self.counters, self.timeout = counters, timeout
        self.session = requests.Session()
        self.session.hooks["response"].append(counters.hook)
        self.t0 = None
        self.marks = {}  # phase -> seconds since t0
        self.error = None
        self.retries_429 = 0
        self.ws_retries = 0
        self.on_ready = None  # called once the server is ready (the CPU probe of --cpu-at-ready)

    # helpers
    def remaining(self):
        left = self.timeout - (time.monotonic() - self.t0)
        if left <= 0:
            raise StudentFailed(self.current, f"no answer within {self.timeout:.0f} s")
        return left

    def mark(self, phase):
        self.marks[phase] = time.monotonic() - self.t0

    def cookie(self, name, path_prefix):
        for c in self.session.cookies:
            if c.name == name and c.path.rstrip("/").startswith(path_prefix.rstrip("/")):
                return c.value
        return None

    def request(self, method, path, **kw):
        """A request; a 429 is what a student would see, then reload a few seconds later."""
        while True:
            kw["timeout"] = min(60.0, self.remaining())
            r = self.session.request(method, urljoin(self.base + "/", path.lstrip("/")), **kw)
            if r.status_code != 429:
                return r
            self.retries_429 += 1
            time.sleep(min(float(r.headers.get("Retry-After") or 5), 10.0, self.remaining()))

    # phases
    def run(self):
        self.t0 = time.monotonic()
        try:
            self.current = "login"
            self.login()
            self.current = "server ready"
            self.wait_for_server()
            if self.on_ready:
                self.on_ready(self)
            self.current = "lab page"
            self.open_lab()
            self.current = "kernel started"
            kernel_id = self.start_kernel()
            self.current = "cell done"
            self.run_cell(kernel_id)
        except StudentFailed as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 - a failure to count, whatever it is
            self.error = f"{self.current}: {type(e).__name__}: {e}"
        return self

    def login(self):
        r = self.request("GET", "/hub/login")
        if r.status_code != 200:
            raise StudentFailed("login", f"GET /hub/login -> {r.status_code}")
        r = self.request("POST", "/hub/login", allow_redirects=False,
                         data={"username": self.name, "password": self.password,
                               "_xsrf": self.cookie("_xsrf", "/hub/")})
        location = r.headers.get("Location", "")
        if r.status_code != 302 or "/hub/login" in location:
            raise StudentFailed("login", f"POST /hub/login -> {r.status_code} {location}")
        self.mark("login")
        self.next_url = location

    def wait_for_server(self):
        """Follow the redirects after the login as a browser does: to the server when it runs,
        else through /hub/spawn to /hub/spawn-pending, whose page reads the progress events."""
        url = self.next_url
        for _ in range(20):
            r = self.request("GET", url, allow_redirects=False)
            if r.status_code in (301, 302, 303, 307):
                url = r.headers["Location"]
                path = urlsplit(url).path
                if path.startswith(f"/user/{self.name}/") and "oauth" not in path:
                    # the proxy routes /user/<name>/ to the server: it is up
                    self.mark("server ready")
                    self.next_url = url
                    return
                if path.startswith("/hub/spawn-pending/"):
                    self.follow_progress()
                    self.next_url = f"/user/{self.name}/lab"
                    return
                continue
            if r.status_code == 200 and "/hub/spawn-pending/" in urlsplit(r.url).path:
                self.follow_progress()
                self.next_url = f"/user/{self.name}/lab"
                return
            raise StudentFailed("server ready", f"GET {url} -> {r.status_code}")
        raise StudentFailed("server ready", "too many redirects")

    def follow_progress(self):
        xsrf = self.cookie("_xsrf", "/hub/")
        url = self.base + f"/hub/api/users/{self.name}/server/progress"
        with self.session.get(url, params={"_xsrf": xsrf}, stream=True,
                              timeout=(30, min(60.0, self.remaining())),
                              headers={"Accept": "text/event-stream"}) as r:
            if r.status_code != 200:
                raise StudentFailed("server ready", f"progress -> {r.status_code}")
            for line in r.iter_lines(decode_unicode=True):
                self.remaining()
                if not line or not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("ready"):
                    self.mark("server ready")
                    return
                if event.get("failed"):
                    raise StudentFailed("server ready", f"spawn failed: {event.get('message')}")
        raise StudentFailed("server ready", "the progress stream ended before the server was ready")

    def open_lab(self):
        r = self.request("GET", self.next_url)  # redirects: OAuth with the hub, then the page
        if r.status_code != 200 or not urlsplit(r.url).path.startswith(f"/user/{self.name}/lab"):
            raise StudentFailed("lab page", f"GET {self.next_url} -> {r.status_code} at {r.url}")
        self.mark("lab page")

    def server_headers(self):
        return {"X-XSRFToken": self.cookie("_xsrf", f"/user/{self.name}/") or ""}

    def start_kernel(self):
        r = self.request("POST", f"/user/{self.name}/api/kernels", json={"name": KERNEL_NAME},
                         headers=self.server_headers())
        if r.status_code != 201:
            raise StudentFailed("kernel started", f"POST api/kernels -> {r.status_code} {r.text[:200]}")
        self.mark("kernel started")
        return r.json()["id"]

    def run_cell(self, kernel_id):
        if websocket is None:
            raise StudentFailed("cell done", "websocket-client is not installed")
        prefix = f"/user/{self.name}/"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies
                            if prefix.startswith(c.path.rstrip("/") + "/") or c.path.startswith(prefix))
        session_id = uuid.uuid4().hex
        ws_url = (self.base.replace("http", "ws", 1)
                  + f"{prefix}api/kernels/{kernel_id}/channels?session_id={session_id}")
        # The server answers the websocket's upgrade once the kernel answers: no shorter limit
        # than the student's own (a browser waits, then reconnects).
        while True:
            try:
                ws = websocket.create_connection(ws_url, header=[f"Cookie: {cookies}"], origin=self.base,
                                                 timeout=self.remaining())
                break
            except (websocket.WebSocketTimeoutException, ConnectionError) as e:
                self.ws_retries += 1
                if self.remaining() < 1:
                    raise StudentFailed("cell done", f"websocket: {type(e).__name__}: {e}")
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "username": self.name, "session": session_id,
                           "msg_type": "execute_request", "version": "5.3",
                           "date": datetime.now(timezone.utc).isoformat()},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": "print(6*7)", "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }))
            printed = replied = False
            while not (printed and replied):
                ws.settimeout(self.remaining())
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg.get("msg_type") or msg["header"]["msg_type"]
                if kind == "stream" and "42" in msg["content"].get("text", ""):
                    printed = True
                elif kind == "error":
                    raise StudentFailed("cell done", f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}")
                elif kind == "execute_reply":
                    if msg["content"].get("status") != "ok":
                        raise StudentFailed("cell done", f"execute_reply {msg['content'].get('status')}")
                    replied = True
            self.mark("cell done")
        finally:
            ws.close()


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
    CPU_SCRIPT = r"""
import json, os, pwd, sys
hz = os.sysconf('SC_CLK_TCK')
names = set(sys.argv[1:])
out = {"servers": {}, "kernels": {}, "hub": 0.0}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
        uid = os.stat(f'/proc/{pid}').st_uid
    except OSError:
        continue
    cpu = sum(int(x) for x in fields[11:15]) / hz  # with its waited-for children
    user = pwd.getpwuid(uid).pw_name if uid else 'root'
    if user in names and 'jupyterhub-singleuser' in cmd:
        out["servers"][user] = out["servers"].get(user, 0.0) + cpu
    elif user in names and 'ipykernel' in cmd:
        out["kernels"][user] = out["kernels"].get(user, 0.0) + cpu
    elif uid == 0 and ('bin/jupyterhub ' in cmd or 'configurable-http-proxy' in cmd):
        out["hub"] += cpu
print(json.dumps(out))
"""

    def cpu(self, names):
        if self.stack is None or not self.args.project:
            return None
        res = self.stack.exec("hub", "python3", "-c", self.CPU_SCRIPT, *names, check=False)
        try:
            return json.loads(res.stdout)
        except ValueError:
            return None

    # runs
    def run_students(self, names, spread, counters, on_ready=None):
        students = [Student(self.base, n, self.passwords[n], counters, self.args.student_timeout) for n in names]
        for student in students:
            student.on_ready = on_ready
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

    def lone(self):
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
            [student] = self.run_students(["stormsolo"], 0, counters, on_ready=probe)
            cpu = self.cpu(["stormsolo"]) if student.error is None else None
            server_cpu = (cpu or {}).get("servers", {}).get("stormsolo")
            if self.args.cpu_at_ready:
                server_cpu = at_ready.get("stormsolo")
            results.append((student, counters, server_cpu))
            log(f"lone student #{i + 1}: " + (student.error or " ".join(
                f"{p}={student.marks[p]:.2f}s" for p in PHASES)) +
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

    def storm(self, spread, warm=False):
        self.stop_servers()
        names = [f"storm{i:02d}" for i in range(1, self.args.students + 1)]
        if warm:
            self.warm_start(names)
        counters = Counters()
        cpu_before = self.cpu([])
        load_before = os.getloadavg()
        start = time.monotonic()
        students = self.run_students(names, spread, counters)
        wall = time.monotonic() - start
        cpu = self.cpu(names)
        return {"students": students, "counters": counters, "wall": wall, "load_before": load_before,
                "load_after": os.getloadavg(),
                "server_cpu": list((cpu or {}).get("servers", {}).values()),
                "kernel_cpu": list((cpu or {}).get("kernels", {}).values()),
                "hub_cpu": (cpu["hub"] - cpu_before["hub"]) if cpu and cpu_before else None}


# Report -----------------------------------------------------------------------------------------

def log(msg):
    print(f"[storm {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt(s, ref=None):
    if s is None:
        return "-"
    text = f"{s['median']:6.2f} {s['p95']:6.2f} {s['max']:6.2f}"
    if ref:
        text += f"   x{s['median'] / ref:5.2f} x{s['max'] / ref:5.2f}"
    return text


def report(lone_results, storm, spread, n):
    ok_lone = [s for s, _c, _cpu in lone_results if s.error is None]
    lone = {p: statistics.median([s.marks[p] for s in ok_lone]) for p in PHASES} if ok_lone else {}
    lone_cpu = [cpu for _s, _c, cpu in lone_results if cpu is not None]
    students = storm["students"]
    done = [s for s in students if s.error is None]
    print(f"\n=== {n} students, start times spread over {spread:g} s "
          f"(lone student: median of {len(ok_lone)}) ===")
    print(f"{'phase (s since first request)':32} {'lone':>7}   {'median':>6} {'p95':>6} {'max':>6}"
          f"   {'ratio median / max to lone'}")
    stats = {}
    for p in PHASES:
        values = [s.marks[p] for s in students if p in s.marks]
        stats[p] = summary(values)
        label = p + (" (total)" if p == "cell done" else "")
        print(f"{label:32} {lone.get(p, float('nan')):7.2f}   {fmt(stats[p], lone.get(p))}"
              + (f"   ({len(values)}/{n})" if len(values) != n else ""))
    steps = {}
    print(f"{'step durations (s)':32} {'lone':>7}   {'median':>6} {'p95':>6} {'max':>6}")
    for prev, p in zip(("start",) + PHASES, PHASES):
        values = [s.marks[p] - s.marks.get(prev, 0.0) for s in students if p in s.marks and
                  (prev == "start" or prev in s.marks)]
        steps[p] = summary(values)
        lone_step = lone.get(p, float("nan")) - (lone.get(prev, 0.0) if prev != "start" else 0.0)
        print(f"  {prev + ' -> ' + p:30} {lone_step:7.2f}   {fmt(steps[p])}")
    http_errors = dict(sorted(storm["counters"].status.items()))
    retries = sum(s.retries_429 for s in students)
    failures = [f"{s.name}: {s.error}" for s in students if s.error]
    ws_retries = sum(s.ws_retries for s in students)
    print(f"requests {storm['counters'].requests}, HTTP errors {http_errors or 'none'}, "
          f"429 shown to students {retries}, websocket reconnections {ws_retries}, "
          f"failures {len(failures)}/{n}, wall {storm['wall']:.1f} s")
    for f in failures[:10]:
        print("  failed:", f)
    if storm["server_cpu"]:
        print(f"CPU per single-user server (s, its process until the cell ran): storm median "
              f"{statistics.median(storm['server_cpu']):.2f} max {max(storm['server_cpu']):.2f}; lone median "
              + (f"{statistics.median(lone_cpu):.2f}" if lone_cpu else "-"))
    if storm["kernel_cpu"]:
        print(f"CPU per teaching kernel (s, until the cell ran): storm median "
              f"{statistics.median(storm['kernel_cpu']):.2f} max {max(storm['kernel_cpu']):.2f}")
    if storm["hub_cpu"] is not None and n:
        print(f"CPU of the hub and its proxy during the storm: {storm['hub_cpu']:.1f} s "
              f"({storm['hub_cpu'] / n:.2f} s per student)")
    print("load average before / after: " + " ".join(f"{x:.2f}" for x in storm["load_before"])
          + " / " + " ".join(f"{x:.2f}" for x in storm["load_after"]) + f" ({os.cpu_count()} CPUs)")
    ready = stats["server ready"]
    verdicts = []
    if ready and len(done) == n:
        verdicts.append((f"median time to a ready server {ready['median']:.1f} s <= {TARGET_MEDIAN_READY:g} s"
                         f" (x{ready['median'] / lone['server ready']:.1f} the lone student)" if lone else "",
                         ready["median"] <= TARGET_MEDIAN_READY))
        verdicts.append((f"slowest ready server {ready['max']:.1f} s <= {TARGET_MAX_READY:g} s"
                         + (f" (x{ready['max'] / lone['server ready']:.1f} the lone student)" if lone else ""),
                         ready["max"] <= TARGET_MAX_READY))
    verdicts.append(("no failed login", not any(s.error and s.error.startswith("login") for s in students)))
    verdicts.append(("no 429 shown to a student", retries == 0 and 429 not in http_errors))
    verdicts.append(("every student ran the cell", len(done) == n))
    for text, ok in verdicts:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    return {"spread": spread, "n": n, "lone": lone, "lone_server_cpu": lone_cpu, "phases": stats, "steps": steps,
            "http_errors": http_errors, "shown_429": retries, "failures": failures,
            "server_cpu": storm["server_cpu"], "kernel_cpu": storm["kernel_cpu"], "hub_cpu": storm["hub_cpu"],
            "load_before": storm["load_before"], "load_after": storm["load_after"],
            "targets_met": all(ok for _t, ok in verdicts)}


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
    args = p.parse_args(argv)
    args.spread = args.spread or [0.0]
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
            lone = bench.lone()
            if args.students:
                log(f"storm: {args.students} students over {spread:g} s" + (", servers warm-started" if warm else ""))
                storm = bench.storm(spread, warm=warm)
                if warm:
                    print("\n(warm start: the class's servers started from the Servers page before the logins)")
                results.append(report(lone, storm, spread, args.students))
                sys.stdout.flush()
            else:
                cpu = [c for _s, _c, c in lone if c is not None]
                ok = [s for s, _c, _cpu in lone if s.error is None]
                sys.stdout.flush()
                print(f"\n=== lone student, {len(ok)}/{len(lone)} runs ===")
                for ph in PHASES:
                    print(f"{ph:16} median {statistics.median([s.marks[ph] for s in ok]):.2f} s" if ok else ph)
                if cpu:
                    when = "when ready" if args.cpu_at_ready else "after the cell"
                    print(f"CPU of the single-user server {when} (s): median {statistics.median(cpu):.2f}, "
                          f"runs {' '.join(f'{c:.2f}' for c in cpu)}")
                results.append({"spread": None, "lone_server_cpu": cpu,
                                "lone": {ph: [s.marks.get(ph) for s in ok] for ph in PHASES}})
        bench.stop_servers()
    finally:
        timer.cancel()
        bench.remove_stack()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0 if all(r.get("targets_met", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
