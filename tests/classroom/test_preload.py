"""The preloading process (classroom/preload.py), for real: started as the hub starts it, asked for
a real `jupyterhub-singleuser` server through the hub's client, which must come up with the
user's environment (its URL prefix, its runtime folder), the limits of its ProcessSetup, a
session of its own and the command line of an exec'd server; its end must be reaped and logged,
and a bad request must not stop the service.

The user here is root itself: this host's Python lives in root's home, which no other user may
read. The switch to a student's account is tested in the hub's container, where every server is
preloaded (tests/e2e/test_e2e_deployment.py: the servers' uids, their parent)."""
import asyncio
import http.server
import json
import os
import re
import pwd
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import requests

from jhub_admin_service.classroom import preload
from jhub_admin_service.classroom.process_setup import ProcessSetup

pytestmark = pytest.mark.timeout(180)
LOGIN = pwd.getpwuid(os.geteuid()).pw_name
SINGLEUSER = os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what, timeout=90, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}" + (f"; its log:\n{log.read_text()[-4000:]}" if log else ""))


def answers(url):
    try:
        urllib.request.urlopen(url, timeout=2).read()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.fixture
def hub_api():
    """What a server asks the hub before it listens: its version (GET /hub/api)."""
    import jupyterhub

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"version": jupyterhub.__version__}).encode()
            self.send_response(200)
            self.send_header("X-JupyterHub-Version", jupyterhub.__version__)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()


def server_env(home, runtime, port, hub_api):
    prefix = f"/user/{LOGIN}/"
    return {
        "PATH": os.environ["PATH"], "HOME": str(home), "USER": LOGIN, "LANG": "C.UTF-8",
        "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERHUB_API_TOKEN": "test-not-a-token",
        "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{LOGIN}", "JUPYTERHUB_API_URL": hub_api,
        "JUPYTERHUB_BASE_URL": "/", "JUPYTERHUB_USER": LOGIN, "JUPYTERHUB_SERVER_NAME": "",
        "JUPYTERHUB_SERVICE_PREFIX": prefix, "JUPYTERHUB_OAUTH_CALLBACK_URL": prefix + "oauth_callback",
        "JUPYTERHUB_OAUTH_SCOPES": "[]", "JUPYTERHUB_OAUTH_ACCESS_SCOPES": "[]",
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}{prefix}",
    }


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def data_limit_of(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max data size"):
                return int(line.split()[3])
    raise AssertionError("no data limit line")


@pytest.fixture
def preloader(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the preloading process switches to the user: it needs root, as the hub has")
    log = tmp_path / "preload.log"
    socket_path = tmp_path / "run" / "preload.sock"
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    handle = preload.Preloader(str(socket_path), env)
    with open(log, "w") as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)  # the process logs to the hub's stderr: to the file here
        try:
            handle.ensure_running()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        wait_for(handle.ready, "the preloading process to listen (its imports done)")
        yield handle, log
    finally:
        handle.stop()


def test_a_preloaded_server_is_the_users_own(preloader, hub_api, tmp_path):
    handle, log = preloader
    assert oct(os.stat(os.path.dirname(handle.socket_path)).st_mode & 0o777) == "0o700"
    user = pwd.getpwnam(LOGIN)
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    for folder in (home, runtime):
        folder.mkdir(mode=0o700)
    port = free_port()
    env = server_env(home, runtime, port, hub_api)
    argv = [SINGLEUSER, f"--port={port}", "--ip=127.0.0.1", "--allow-root"]  # root: see above
    assert preload.can_preload(argv)
    setup = ProcessSetup(login=LOGIN, cgroup_procs=(), oom_score_adj=900, nice=5,
                         data_limit=3 * 2 ** 30, process_limit=4000)

    pid = asyncio.run(handle.launch(argv, env, setup))
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/user/{LOGIN}/api"), "the server to answer", log=log)
        status = proc_status(pid)
        assert int(status["Uid"][0]) == user.pw_uid and int(status["Gid"][0]) == user.pw_gid
        assert int(status["PPid"][0]) == handle._proc.pid  # forked, not exec'd by the hub
        assert os.getsid(pid) == pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"jupyterhub-singleuser" in f.read()
        # The user's environment is the server's: its URL prefix, its runtime folder...
        assert (runtime / "jupyter_cookie_secret").exists()
        # ... and its cookies' path, which JupyterHub's HubAuth takes from the environment when
        # imported: never "/", where the browser would send one user's cookie to every server.
        r = requests.get(f"http://127.0.0.1:{port}/user/{LOGIN}/lab", allow_redirects=False, timeout=30)
        assert r.status_code == 302 and "oauth2/authorize" in r.headers["Location"]
        cookies = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith(f"jupyterhub-user-{LOGIN}")]
        assert cookies and all(f"Path=/user/{LOGIN}/" in c for c in cookies), cookies
        with open(f"/proc/{pid}/oom_score_adj") as f:
            assert f.read().strip() == "900"
        with open(f"/proc/{pid}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[16]) == 5  # nice
        assert data_limit_of(pid) == 3 * 2 ** 30
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), "the server to end and be reaped")
    wait_for(lambda: f"server process {pid} ended" in log.read_text(), "its end to be logged")


class SetupMissingFields(ProcessSetup):
    def to_json(self):
        return {"login": self.login}


def ask(handle, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(handle.socket_path)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return s.recv(65536)


def test_bad_or_late_requests_start_no_server_and_the_service_goes_on(preloader):
    """The preloading process forks before it reads a request (so that it never holds a user's
    environment): the child refuses a bad one, or one too close to its deadline (after which the
    hub execs the server itself), answers nothing (the hub then execs) and ends."""
    handle, log = preloader
    late = {"argv": [SINGLEUSER], "env": {}, "deadline": time.time() + 1,  # within the margin
            "setup": ProcessSetup(LOGIN, (), 0, 0, 2 ** 30, 100).to_json()}
    assert ask(handle, b"not json") == b""
    with pytest.raises(OSError, match="no pid"):  # through the hub's own client
        asyncio.run(handle.launch([SINGLEUSER], {}, SetupMissingFields(LOGIN, (), 0, 0, 2 ** 30, 100)))
    assert ask(handle, json.dumps(late).encode()) == b""
    refusals = wait_for(lambda: re.findall(r"process (\d+) refused a request", log.read_text()) if
                        log.read_text().count("refused a request") == 3 else None, "three refusals", log=log)
    for pid in refusals:
        wait_for(lambda: f"server process {pid} ended (exit status 2)" in log.read_text(), "its end", log=log)
    assert handle.ready()
    text = log.read_text()
    assert "came after its deadline" in text and "server of" not in text  # none became a server


def test_only_the_standard_command_is_preloaded():
    assert preload.can_preload(["/opt/venv/bin/jupyterhub-singleuser", "--debug"])
    assert not preload.can_preload(["/usr/bin/sudo", "jupyterhub-singleuser"])
    assert not preload.can_preload([])
