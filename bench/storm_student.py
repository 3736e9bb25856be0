"""The simulated pupil of the login storm bench: a `Student` does what a browser does, without a
browser (login form, spawn progress, lab page, kernel, first cell), and marks when each phase is
done; `StudentFailed` ends a student at the phase where it failed; `Counters` counts the HTTP
requests and errors of a run; `CELLS` are the first cells a student can run (--first-cell).

Kept apart from login_storm.py, which runs the students (login_storm.py's docstring describes the
phases and what they measure).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

try:
    import websocket  # websocket-client
except ImportError:  # pragma: no cover
    websocket = None

from storm_report import log

KERNEL_NAME = "python3"  # the image's teaching kernel, "Python 3 (lycée)" (docker/Dockerfile)

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
