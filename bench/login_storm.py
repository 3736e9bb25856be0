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
import select
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

try:
    import websocket  # websocket-client
except ImportError:  # pragma: no cover
    websocket = None

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from e2e_stack import DOCKER, LentCgroups, Stack  # noqa: E402

KERNEL_NAME = "python3"  # the image's teaching kernel, "Python 3 (lycée)" (docker/Dockerfile)
CLASS = "STORM"
PHASES = ("login", "server ready", "lab page", "kernel started", "cell done")
TARGET_MEDIAN_READY, TARGET_MAX_READY = 20.0, 35.0

# The first cells a student runs (--first-cell): its code, and what tells that it did its work
# (an iopub message of the request: msg_type, content -> bool).
CELLS = {
    "print": {"code": "print(6*7)", "output": "the stream \"42\"",
              "seen": lambda kind, content: kind == "stream" and "42" in content.get("text", "")},
    "plot": {"code": ("import numpy as np, pandas as pd\n"
                      "import matplotlib.pyplot as plt\n"
                      "x = np.linspace(0, 10, 50)\n"
                      "plt.plot(x, x**2); plt.show()\n"),
             "output": "a display_data with an image/png",
             "seen": lambda kind, content: kind == "display_data" and "image/png" in (content.get("data") or {})},
}
# Issue 23's targets for "cell done" (35 students at once on 2 cores), and for the lone student's
# cell alone (execute_request -> execute_reply) on a kernel that has answered.
TARGET_CELL_DONE = {"print": {"max": 12.0}, "plot": {"median": 8.0, "max": 15.0}}
TARGET_CELL_ALONE = 0.3
MIB = 1024 * 1024


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

    def __init__(self, base_url, name, password, counters, timeout, cell="print"):
        self.base, self.name, self.password = base_url.rstrip("/"), name, password
        self.counters, self.timeout, self.cell = counters, timeout, cell
        self.session = requests.Session()
        self.session.hooks["response"].append(counters.hook)
        self.t0 = None
        self.marks = {}  # phase -> seconds since t0
        self.error = None
        self.retries_429 = 0
        self.ws_retries = 0
        self.on_ready = None  # called once the server is ready (the CPU probe of --cpu-at-ready)
        # reads the CPU seconds of the student's server and kernel: student -> {"server", "kernel",
        # "uid"} or None (Bench.read_cpu)
        self.cpu_probe = None
        self.kernel_id = None
        self.cell_alone = None  # s from the execute_request to the execute_reply
        self.cpu_split = {"server": None, "kernel start": None, "first cell": None}
        self.uid = None  # the student's uid, as the CPU probe found it (to find its kernel on the host)
        self.kernel_memory = None  # the lone student's kernel after its cell (Bench.kernels_memory)

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
            self.kernel_id = self.start_kernel()
            self.current = "cell done"
            self.run_cell(self.kernel_id)
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
            if r.status_code == 200 and urlsplit(r.url).path.startswith("/services/jhub-password/"):
                # A pupil's first login offers a password of their own: "Later", as the class does.
                url = parse_qs(urlsplit(r.url).query).get("next", ["/hub/spawn"])[0]
                continue
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
            self.wait_for_kernel(ws, session_id)
            before = self.read_cpu()  # the kernel until it answered: its start
            self.execute(ws, session_id)
            self.mark("cell done")
            after = self.read_cpu()
        finally:
            ws.close()
        if after:
            self.cpu_split["server"] = after.get("server")
            self.uid = after.get("uid")
        kernel_before, kernel_after = (before or {}).get("kernel"), (after or {}).get("kernel")
        self.cpu_split["kernel start"] = kernel_before
        if kernel_before is not None and kernel_after is not None:
            self.cpu_split["first cell"] = kernel_after - kernel_before

    def send(self, ws, session_id, msg_type, content):
        """Send a message on the shell channel; its msg_id."""
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.name, "session": session_id,
                       "msg_type": msg_type, "version": "5.3",
                       "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [], "content": content,
        }))
        return msg_id

    def replies(self, ws, msg_id):
        """The messages of the request msg_id, (msg_type, content), as they come."""
        while True:
            ws.settimeout(self.remaining())
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            yield msg.get("msg_type") or msg["header"]["msg_type"], msg.get("content") or {}

    def wait_for_kernel(self, ws, session_id):
        """Until the kernel answers a kernel_info_request: it is started, and its CPU until then
        is its start's, not the cell's."""
        msg_id = self.send(ws, session_id, "kernel_info_request", {})
        for kind, _content in self.replies(ws, msg_id):
            if kind == "kernel_info_reply":
                return

    def execute(self, ws, session_id):
        """Run the first cell: done when its execute_reply says ok and its output came (or failed
        when the kernel is idle again without it)."""
        cell = CELLS[self.cell]
        sent = time.monotonic()
        msg_id = self.send(ws, session_id, "execute_request", {
            "code": cell["code"], "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        output = replied = idle = False
        # The reply comes on the shell channel, the output and the kernel's status on iopub: no
        # order between them, but on iopub the status idle comes after every output of the request.
        for kind, content in self.replies(ws, msg_id):
            if cell["seen"](kind, content):
                output = True
            elif kind == "error":
                raise StudentFailed("cell done", f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "execute_reply":
                if content.get("status") != "ok":
                    raise StudentFailed("cell done", f"execute_reply {content.get('status')}")
                replied = True
                self.cell_alone = time.monotonic() - sent
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            if output and replied:
                return
            if replied and idle:
                raise StudentFailed("cell done", f"the cell ran without its output ({cell['output']})")

    def read_cpu(self):
        """The CPU probe's reading, None without a probe or when it failed. The student waits
        for the bench here, not for the hub: that wait is taken out of its times."""
        if self.cpu_probe is None:
            return None
        start = time.monotonic()
        try:
            return self.cpu_probe(self)
        except Exception as e:  # noqa: BLE001 - a missing figure, not a failed student
            log(f"CPU reading for {self.name}: {type(e).__name__}: {e}")
            return None
        finally:
            self.t0 += time.monotonic() - start


# The hub, its accounts and its servers ---------------------------------------------------------

class ProcReader:
    """CPU seconds of one student's server and kernel, read from /proc in the hub container by
    one `docker exec` kept open (one request, one answer, a JSON line each): a `docker exec` per
    reading, twice per student, would cost more CPU than the cells it measures, in the storm it
    measures."""

    SCRIPT = r"""
import json, os, pwd, sys
hz = os.sysconf('SC_CLK_TCK')
me = str(os.getpid())

def cpu_of(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / hz  # with its waited-for children

for line in sys.stdin:
    try:
        req = json.loads(line)
        uid = pwd.getpwnam(req['user']).pw_uid
        tag = 'kernel-%s.json' % req['kernel'] if req.get('kernel') else None
        server = by_id = by_owner = None
        for pid in filter(str.isdigit, os.listdir('/proc')):
            if pid == me:
                continue  # this script's own command line names what it looks for
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
                owner = os.stat(f'/proc/{pid}').st_uid
                if owner == uid and 'jupyterhub-singleuser' in cmd:
                    server = (server or 0.0) + cpu_of(pid)
                elif 'ipykernel_launcher' in cmd and tag and tag in cmd:
                    by_id = (by_id or 0.0) + cpu_of(pid)
                elif 'ipykernel_launcher' in cmd and owner == uid:
                    by_owner = (by_owner or 0.0) + cpu_of(pid)
            except OSError:
                continue  # gone meanwhile
        answer = {"server": server, "kernel": by_id if by_id is not None else by_owner, "uid": uid}
    except Exception as e:
        answer = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(answer), flush=True)
"""

    def __init__(self, stack):
        self.stack = stack
        self.proc = None
        self.pending = b""
        self.lock = threading.Lock()

    def read(self, user, kernel_id, timeout=15.0):
        """{"server": s, "kernel": s, "uid": n} (a part None when its process was not found), or
        None when the reading failed."""
        with self.lock:
            try:
                if self.proc is None or self.proc.poll() is not None:
                    self.proc = subprocess.Popen(
                        [DOCKER, "exec", "-i", self.stack.container("hub"), "python3", "-u", "-c", self.SCRIPT],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                    self.pending = b""
                self.proc.stdin.write(json.dumps({"user": user, "kernel": kernel_id}).encode() + b"\n")
                self.proc.stdin.flush()
                deadline = time.monotonic() + timeout
                while b"\n" not in self.pending:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                        raise TimeoutError(f"no answer within {timeout:.0f} s")
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    if not chunk:
                        raise EOFError("the reader in the hub container ended")
                    self.pending += chunk
                line, self.pending = self.pending.split(b"\n", 1)
                answer = json.loads(line)
            except (OSError, EOFError, ValueError, RuntimeError, subprocess.SubprocessError) as e:
                log(f"CPU reading for {user}: {type(e).__name__}: {e}")
                self.close()  # started again at the next reading
                return None
        if "error" in answer:
            log(f"CPU reading for {user}: {answer['error']}")
            return None
        return answer

    def close(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # the script's end of input: it ends, in the container too
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


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

    def read_cpu(self, student):
        """A student's server and kernel CPU now (Student.cpu_probe), or None."""
        if self.stack is None or not self.args.project:
            return None
        with self.reader_lock:  # one reader for the students' threads
            if self.reader is None:
                self.reader = ProcReader(self.stack)
        return self.reader.read(student.name, student.kernel_id)

    def kernels_memory(self, students):
        """PSS and RSS summed over the students' kernel processes, from the host's /proc: the
        hub container's processes (`docker top`), those of ipykernel_launcher whose connection
        file is a student's kernel's (kernel-<id>.json) or whose owner is a student. Kernels
        forked from the kernel template (classroom/kernel_template.py) share pages with it, so
        that a part of their memory is in the template's PSS: the template's PSS is given apart.
        A dict of bytes and the number of kernels, or None when no kernel could be read."""
        ids = {s.kernel_id for s in students if s.kernel_id}
        uids = {s.uid for s in students if s.uid is not None}
        if not ids or self.stack is None:
            return None
        try:
            top = subprocess.run([DOCKER, "top", self.stack.container("hub"), "-eo", "pid"],
                                 capture_output=True, text=True, timeout=60)
            pids = [p for p in top.stdout.split()[1:] if p.isdigit()]  # under the header "PID"
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            log(f"docker top: {type(e).__name__}: {e}")
            pids = []
        if not pids:
            # the kernel ids are UUIDs: the host's every process will do
            log("docker top listed no process: the kernels looked for among the host's processes")
            pids = [p for p in os.listdir("/proc") if p.isdigit()]

        def smaps(pid):
            seen = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("Pss", "Rss"):
                    seen[key] = int(value.split()[0]) * 1024  # kB
            if len(seen) != 2:
                raise ValueError(f"no Pss or Rss in /proc/{pid}/smaps_rollup")
            return seen

        pss = rss = kernels = unreadable = 0
        template_pss = None
        for pid in pids:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "ipykernel_launcher" not in cmd:
                    continue
                owner = os.stat(f"/proc/{pid}").st_uid
                if owner == 0 and "kernel_template" in cmd:
                    template_pss = (template_pss or 0) + smaps(pid)["Pss"]
                    continue
                if not (any(f"kernel-{k}.json" in cmd for k in ids) or owner in uids):
                    continue
                seen = smaps(pid)
            except (OSError, ValueError):
                unreadable += 1  # gone meanwhile, or not ours to read (not root)
                continue
            pss, rss, kernels = pss + seen["Pss"], rss + seen["Rss"], kernels + 1
        if unreadable:
            log(f"kernels' memory: {unreadable} process(es) not read")
        if not kernels:
            return None
        return {"kernels": kernels, "students_with_kernel": len(ids), "pss": pss, "rss": rss,
                "template_pss": template_pss}

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


CPU_PARTS = ("server", "kernel start", "first cell")


def cpu_per_pupil(students):
    """The median over the students of each part of their CPU (Student.cpu_split), None where
    no reading; the total is the sum of the parts' medians."""
    out = {}
    for part in CPU_PARTS:
        values = [s.cpu_split[part] for s in students if s.cpu_split[part] is not None]
        out[part] = statistics.median(values) if values else None
        out[part + " n"] = len(values)
    out["total"] = None if any(out[p] is None for p in CPU_PARTS) else sum(out[p] for p in CPU_PARTS)
    return out


def fmt_cpu(split, n):
    def one(x):
        return "missing" if x is None else f"{x:.2f} s"
    text = (f"server {one(split['server'])}, kernel start {one(split['kernel start'])}, "
            f"first cell {one(split['first cell'])}, total {one(split['total'])}")
    read = [split[p + " n"] for p in CPU_PARTS]
    if any(k != n for k in read):
        text += f" (read for {'/'.join(map(str, read))} of {n})"
    return text


def fmt_memory(memory):
    if not memory:
        return "missing"
    text = (f"PSS {memory['pss'] / MIB:.0f} MiB together ({memory['pss'] / MIB / memory['kernels']:.0f} MiB "
            f"per kernel), RSS {memory['rss'] / MIB:.0f} MiB together ({memory['kernels']} kernels)")
    if memory.get("template_pss") is not None:
        text += f"; the kernel template, whose pages they share, PSS {memory['template_pss'] / MIB:.0f} MiB more"
    return text


def memory_json(memory):
    if not memory:
        return None
    return {**memory, "pss_mib": memory["pss"] / MIB, "rss_mib": memory["rss"] / MIB,
            "pss_mib_per_kernel": memory["pss"] / MIB / memory["kernels"],
            "template_pss_mib": None if memory.get("template_pss") is None else memory["template_pss"] / MIB}


def cell_alone_verdict(values):
    """The lone student's cell alone (median) against its target, or None without a figure."""
    if not values:
        return None
    median = statistics.median(values)
    return (f"lone student's cell alone (execute_request -> execute_reply) {median:.2f} s "
            f"<= {TARGET_CELL_ALONE:g} s", median <= TARGET_CELL_ALONE)


def report(lone_results, storm, spread, n, cell="print"):
    ok_lone = [s for s, _c, _cpu in lone_results if s.error is None]
    lone = {p: statistics.median([s.marks[p] for s in ok_lone]) for p in PHASES} if ok_lone else {}
    lone_cpu = [cpu for _s, _c, cpu in lone_results if cpu is not None]
    lone_alone = [s.cell_alone for s in ok_lone if s.cell_alone is not None]
    students = storm["students"]
    done = [s for s in students if s.error is None]
    print(f"\n=== {n} students, start times spread over {spread:g} s, first cell \"{cell}\" "
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
    alone_values = [s.cell_alone for s in students if s.cell_alone is not None]
    alone = summary(alone_values)
    lone_alone_median = statistics.median(lone_alone) if lone_alone else float("nan")
    print(f"  {'cell alone (request -> reply)':30} {lone_alone_median:7.2f}   {fmt(alone)}")
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
    storm_split, lone_split = cpu_per_pupil(students), cpu_per_pupil(ok_lone)
    print(f"CPU per pupil (median): {fmt_cpu(storm_split, n)}")
    print(f"CPU per pupil, lone student (median): {fmt_cpu(lone_split, len(ok_lone))}")
    print(f"kernels' memory after the first cell: {fmt_memory(storm['kernels_memory'])}")
    lone_memory = [s.kernel_memory for s in ok_lone if s.kernel_memory]
    if lone_memory:
        print(f"  the lone student's kernel after its first cell (about a fresh kernel): "
              f"PSS {statistics.median(m['pss'] for m in lone_memory) / MIB:.0f} MiB, "
              f"RSS {statistics.median(m['rss'] for m in lone_memory) / MIB:.0f} MiB")
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
    cell_done, target = stats["cell done"], TARGET_CELL_DONE.get(cell, {})
    if cell_done and len(done) == n:
        if "median" in target:
            verdicts.append((f"{cell} cell: median time to cell done {cell_done['median']:.1f} s "
                             f"<= {target['median']:g} s", cell_done["median"] <= target["median"]))
        if "max" in target:
            verdicts.append((f"{cell} cell: slowest cell done {cell_done['max']:.1f} s <= {target['max']:g} s",
                             cell_done["max"] <= target["max"]))
    if cell_alone_verdict(lone_alone):
        verdicts.append(cell_alone_verdict(lone_alone))
    verdicts.append(("no failed login", not any(s.error and s.error.startswith("login") for s in students)))
    verdicts.append(("no 429 shown to a student", retries == 0 and 429 not in http_errors))
    verdicts.append(("every student ran the cell", len(done) == n))
    for text, ok in verdicts:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    return {"spread": spread, "n": n, "first_cell": cell, "lone": lone, "lone_server_cpu": lone_cpu,
            "phases": stats, "steps": steps,
            "cell_alone": {"lone": lone_alone, "storm": alone},
            "cpu_per_pupil": {"storm": storm_split, "lone": lone_split},
            "kernels_memory": memory_json(storm["kernels_memory"]),
            "lone_kernel_memory": [memory_json(m) for m in lone_memory],
            "http_errors": http_errors, "shown_429": retries, "failures": failures,
            "server_cpu": storm["server_cpu"], "kernel_cpu": storm["kernel_cpu"], "hub_cpu": storm["hub_cpu"],
            "load_before": storm["load_before"], "load_after": storm["load_after"],
            "targets_met": all(ok for _t, ok in verdicts),
            "headline": {"cell done median (s)": cell_done and cell_done["median"],
                         "cell done max (s)": cell_done and cell_done["max"],
                         "cell alone, lone student (s)": statistics.median(lone_alone) if lone_alone else None,
                         "CPU per pupil, total (s)": storm_split["total"],
                         "CPU of the first cell (s)": storm_split["first cell"],
                         "kernels' PSS, per kernel (MiB)": (memory_json(storm["kernels_memory"]) or {})
                         .get("pss_mib_per_kernel")}}


def lone_report(lone, cell, cpu_at_ready):
    """The lone student's runs without a storm (--students 0)."""
    cpu = [c for _s, _c, c in lone if c is not None]
    ok = [s for s, _c, _cpu in lone if s.error is None]
    alone = [s.cell_alone for s in ok if s.cell_alone is not None]
    sys.stdout.flush()
    print(f"\n=== lone student, first cell \"{cell}\", {len(ok)}/{len(lone)} runs ===")
    for ph in PHASES:
        print(f"{ph:16} median {statistics.median([s.marks[ph] for s in ok]):.2f} s" if ok else ph)
    if alone:
        print(f"{'cell alone':16} median {statistics.median(alone):.2f} s (execute_request -> execute_reply)")
    if cpu:
        when = "when ready" if cpu_at_ready else "after the cell"
        print(f"CPU of the single-user server {when} (s): median {statistics.median(cpu):.2f}, "
              f"runs {' '.join(f'{c:.2f}' for c in cpu)}")
    split = cpu_per_pupil(ok)
    print(f"CPU per pupil (median): {fmt_cpu(split, len(ok))}")
    memory = [s.kernel_memory for s in ok if s.kernel_memory]
    if memory:
        print(f"the kernel's memory after the first cell: PSS {statistics.median(m['pss'] for m in memory) / MIB:.0f}"
              f" MiB, RSS {statistics.median(m['rss'] for m in memory) / MIB:.0f} MiB")
    verdict = cell_alone_verdict(alone)
    if verdict:
        print(f"  [{'ok' if verdict[1] else 'MISSED'}] {verdict[0]}")
    return {"spread": None, "first_cell": cell, "lone_server_cpu": cpu,
            "lone": {ph: [s.marks.get(ph) for s in ok] for ph in PHASES},
            "cell_alone": {"lone": alone}, "cpu_per_pupil": {"lone": split},
            "lone_kernel_memory": [memory_json(m) for m in memory],
            "targets_met": verdict[1] if verdict else True,
            "headline": {"cell done median (s)": statistics.median([s.marks["cell done"] for s in ok]) if ok else None,
                         "cell alone (s)": statistics.median(alone) if alone else None,
                         "CPU per pupil, total (s)": split["total"],
                         "CPU of the first cell (s)": split["first cell"],
                         "kernel's PSS (MiB)": statistics.median(m["pss"] for m in memory) / MIB if memory else None}}


def side_by_side(results, cells):
    """The headline figures of each run, one column per first cell."""
    print("\n=== first cells side by side ===")
    print(f"{'':44}" + "".join(f"{c:>10}" for c in cells))
    runs = []
    for r in results:
        key = (r["spread"], r.get("warm", False))
        if key not in runs:
            runs.append(key)
    for spread, warm in runs:
        by_cell = {r["first_cell"]: r["headline"] for r in results
                   if (r["spread"], r.get("warm", False)) == (spread, warm)}
        print("lone student only" if spread is None else
              f"storm over {spread:g} s" + (", servers warm-started" if warm else ""))
        rows = next(iter(by_cell.values()))
        for row in rows:
            values = [by_cell.get(c, {}).get(row) for c in cells]
            print(f"  {row:42}" + "".join(f"{'-':>10}" if v is None else f"{v:10.2f}" for v in values))


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
