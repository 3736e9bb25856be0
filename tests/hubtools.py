"""Start the real JupyterHub, with the repository's jupyterhub_config.py, inside a Sandbox.

As jupyterhub-idle-culler's tests do, the hub is a subprocess and the service token gets its
scopes from load_roles (here: the very roles the product's config declares).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = "/srv/jupyterhub"  # as seen inside the sandbox


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


class RunningHub:
    def __init__(self, sandbox, extra_env=None):
        self.sandbox = sandbox
        self.port, hub_port, proxy_port, service_port, password_port, class_port = (free_port() for _ in range(6))
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"http://127.0.0.1:{hub_port}/hub/api"
        self.env = {
            **os.environ,
            "JHUB_DATA_DIR": DATA_DIR,
            "JHUB_ADMIN_USER": "admin",
            "JHUB_ADMIN_PASSWORD": "admin-test-password",
            "JHUB_BIND_URL": self.url,
            "JHUB_HUB_BIND_URL": f"http://127.0.0.1:{hub_port}",
            "JHUB_PROXY_API_URL": f"http://127.0.0.1:{proxy_port}",
            "JHUB_ADMIN_SERVICE_PORT": str(service_port),
            "JHUB_PASSWORD_SERVICE_PORT": str(password_port),
            "JHUB_CLASS_SERVICE_PORT": str(class_port),
            "JHUB_ADMIN_REGISTRY": f"{DATA_DIR}/jhub-admin.sqlite",
            "JHUB_ADMIN_DISK_MEASURE_SECONDS": "1",
            # The guard acts on every process of the machine's users: not beside other tests.
            "JHUB_GUARD": "0",
            "JHUB_RUNTIME_ROOT": "/srv/jupyter-runtime",  # the sandbox's, not the host's /run
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            **(extra_env or {}),
        }
        self.log_path = sandbox.root / "jupyterhub.log"
        self.proc = None

    admin_password = "admin-test-password"

    @property
    def service_token(self):
        return (self.sandbox.srv / "jupyterhub" / "jhub-admin-api-token").read_text().strip()

    def cli_env(self):
        """Environment for `jhub-admin` run inside the sandbox, talking to this hub."""
        return {**self.env, "JUPYTERHUB_API_URL": self.api_url}

    def start(self, timeout=90):
        # As the container's entry point does: the first admin exists before the hub starts.
        admin = self.env.get("JHUB_ADMIN_USER", "admin")
        self.sandbox.run([sys.executable, "-m", "jhub_admin_service.cli", "bootstrap-admin", "--login", admin,
                          "--password-file", f"{DATA_DIR}/initial-admin-password"], env=self.env)
        log = open(self.log_path, "ab")
        self.proc = self.sandbox.popen(
            [sys.executable, "-m", "jupyterhub", "-f", REPO / "jupyterhub_config.py"],
            env=self.env, cwd=self.sandbox.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/hub/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterHub did not answer in {timeout}s:\n{self.log_tail()}")

    def _descendants(self):
        """{pid: command line} of every process under the hub."""
        found, todo = {}, [self.proc.pid]
        while todo:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(todo.pop())], capture_output=True, text=True).stdout
            for pid in map(int, out.split()):
                found[pid] = _cmdline(pid)
                todo.append(pid)
        return found

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # The proxy and the managed services run in sessions of their own: a hub that does
            # not stop them in time must not leave them behind.
            children = self._descendants()
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            for pid, cmdline in children.items():
                if cmdline and _cmdline(pid) == cmdline:  # still the same process
                    os.kill(pid, signal.SIGKILL)

    def service_pid(self):
        """The pid of the jhub-admin service, a managed service spawned by the hub."""
        processes = self._descendants()
        for pid, cmdline in processes.items():
            if cmdline and b"jhub_admin_service.service.app" in cmdline:
                return pid
        raise RuntimeError(f"no jhub-admin service process under the hub: {processes}")

    def log_tail(self, n=60):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def api(self, method, path, body=None, token=None):
        """A call to the hub REST API (default: with the jhub-admin service token)."""
        req = urllib.request.Request(
            self.api_url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token or self.service_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    def user_token(self, name):
        """A fresh API token for a hub user (made with the service's admin:users scope)."""
        return self.api("POST", f"/users/{name}/tokens", {"note": "test", "expires_in": 3600})["token"]
