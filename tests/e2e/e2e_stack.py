"""A throw-away jhub-admin deployment from docker/compose.yaml, for the
end-to-end tests.

Each Stack has a unique compose project name and a free host port;
:meth:`Stack.destroy` removes its containers, networks and volumes.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker" / "compose.yaml"
# Debian's 20.10 client has BuildKit built in; some machines have another
# client first on PATH without buildx.
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else (shutil.which("docker") or "docker")
IMAGE_TAG = os.environ.get("JHUB_IMAGE_TAG", "latest")
HUB_IMAGE = f"jhub-admin/hub:{IMAGE_TAG}"
SIDECAR_IMAGE = f"jhub-admin/sidecar:{IMAGE_TAG}"


def compose_command(version: str | None = None) -> list[str] | None:
    """The compose CLI: "v1" (docker-compose), "v2" (the docker compose plugin), or by default
    v1 if installed, else v2."""
    v1 = ["docker-compose"] if shutil.which("docker-compose") else None
    v2 = None
    for client in (DOCKER, "docker"):
        try:
            if subprocess.run([client, "compose", "version"], capture_output=True).returncode == 0:
                v2 = [client, "compose"]
                break
        except OSError:
            pass
    return {"v1": v1, "v2": v2}.get(version, v1 or v2)


def docker_available() -> bool:
    try:
        return subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def image_exists(image: str) -> bool:
    return subprocess.run([DOCKER, "image", "inspect", image], capture_output=True).returncode == 0


def build_images() -> float:
    """docker/build.sh (BuildKit, optional CA secret); returns the seconds it took."""
    start = time.monotonic()
    res = subprocess.run([str(REPO / "docker" / "build.sh")], cwd=REPO, capture_output=True, text=True,
                         env=dict(os.environ, JHUB_IMAGE_TAG=IMAGE_TAG))
    if res.returncode != 0:
        raise RuntimeError(f"docker/build.sh failed:\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}")
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, env: dict | None = None, compose: str | None = None, overrides: tuple = ()):
        """overrides: compose files of docker/ added to compose.yaml (e.g. compose.cgroups-v1.yaml)."""
        self.project = "jhube2e" + uuid.uuid4().hex[:10]
        self.files = [COMPOSE_FILE, *(COMPOSE_FILE.parent / name for name in overrides)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.compose_cmd = compose_command(compose)
        self.env = dict(os.environ, JHUB_HTTP_PORT=str(self.port), JHUB_IMAGE_TAG=IMAGE_TAG)
        # The first admin's settings come only from what the test passes.
        for name in ("JHUB_ADMIN_USER", "JHUB_ADMIN_PASSWORD", "COMPOSE_PROJECT_NAME"):
            self.env.pop(name, None)
        self.env.update(env or {})

    # compose -----------------------------------------------------------------
    def compose(self, *args, check=True, timeout=600) -> subprocess.CompletedProcess:
        cmd = [*self.compose_cmd, "-p", self.project, *(a for f in self.files for a in ("-f", str(f))), *args]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def up(self):
        self.compose("up", "-d", "--no-build")

    def down(self, volumes=False):
        args = ["down", "--remove-orphans", "--timeout", "20"]
        if volumes:
            args.append("-v")
        self.compose(*args, check=False)

    def destroy(self):
        self.down(volumes=True)
        # Anything left behind with our project label (helper containers, volumes).
        label = f"label=com.docker.compose.project={self.project}"
        ids = subprocess.run([DOCKER, "ps", "-aq", "--filter", label], capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run([DOCKER, "rm", "-f", *ids], capture_output=True)
        vols = subprocess.run([DOCKER, "volume", "ls", "-q", "--filter", label],
                              capture_output=True, text=True).stdout.split()
        if vols:
            subprocess.run([DOCKER, "volume", "rm", "-f", *vols], capture_output=True)

    def logs(self, service: str = "", tail: int | None = None) -> str:
        args = ["logs", "--no-color"]
        if tail:
            args += ["--tail", str(tail)]
        if service:
            args.append(service)
        return self.compose(*args, check=False).stdout

    # containers --------------------------------------------------------------
    def container(self, service: str) -> str:
        cid = self.compose("ps", "-q", service).stdout.strip()
        if not cid:
            raise RuntimeError(f"no container for service {service}")
        return cid

    def inspect(self, service: str) -> dict:
        import json

        out = subprocess.run([DOCKER, "inspect", self.container(service)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)[0]

    def exec(self, service: str, *cmd, check=True, env: dict | None = None, input: str | None = None):
        args = [DOCKER, "exec", "-i"]
        for k, v in (env or {}).items():
            args += ["-e", f"{k}={v}"]
        res = subprocess.run([*args, self.container(service), *cmd], capture_output=True, text=True,
                             input=input, timeout=600)
        if check and res.returncode != 0:
            raise RuntimeError(f"exec {cmd} in {service} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def copy_to(self, service: str, src: Path, dest: str):
        subprocess.run([DOCKER, "cp", str(src), f"{self.container(service)}:{dest}"], check=True,
                       capture_output=True)

    # hub ---------------------------------------------------------------------
    def wait_for_hub(self, timeout=180):
        """Until /hub/health answers 200 and the admin service is routed."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = requests.get(self.url + "/hub/health", timeout=5)
                if r.status_code == 200:
                    r = requests.get(self.url + "/hub/api/", timeout=5)
                    if r.status_code == 200:
                        return
                last = r.status_code
            except requests.RequestException as e:
                last = e
            state = self.compose("ps", check=False).stdout
            if "Exit" in state or "exited" in state:
                break
            time.sleep(1)
        raise RuntimeError(f"the hub did not answer on {self.url} ({last}):\n{self.logs(tail=80)}")

    def wait_for_health_status(self, service: str, want="healthy", timeout=150) -> str:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = (self.inspect(service)["State"].get("Health") or {}).get("Status")
            if status == want or status == "unhealthy":
                return status
            time.sleep(2)
        return status

    def initial_admin_password(self) -> str | None:
        m = re.search(r"initial password: (\S+)", self.logs("hub"))
        return m.group(1) if m else None


class HubUser:
    """A browser-like session of one user: PAM login form, then a token."""

    def __init__(self, stack: Stack, name: str, password: str):
        self.stack, self.name, self.password = stack, name, password
        self.session = requests.Session()
        self.token = None

    def xsrf(self) -> str | None:
        for cookie in self.session.cookies:
            if cookie.name == "_xsrf" and cookie.path.startswith("/hub"):
                return cookie.value
        return None

    def login(self) -> bool:
        base = self.stack.url
        self.session.get(base + "/hub/login", timeout=30).raise_for_status()
        r = self.session.post(base + "/hub/login",
                              data={"username": self.name, "password": self.password,
                                    "_xsrf": self.xsrf()},
                              allow_redirects=False, timeout=60)
        return r.status_code == 302 and "/hub/login" not in r.headers.get("Location", "")

    def make_token(self) -> str:
        r = self.session.post(self.stack.url + f"/hub/api/users/{self.name}/tokens",
                              json={"note": "e2e", "expires_in": 3600},
                              headers={"X-XSRFToken": self.xsrf()},
                              timeout=30)
        r.raise_for_status()
        self.token = r.json()["token"]
        return self.token

    def api(self, method: str, path: str, **kw) -> requests.Response:
        """A request with the user's token (hub API, services, single-user server)."""
        headers = kw.pop("headers", {})
        headers["Authorization"] = f"token {self.token}"
        return requests.request(method, self.stack.url + path, headers=headers, timeout=kw.pop("timeout", 60), **kw)

    def start_server(self, timeout=120) -> dict:
        r = self.api("POST", f"/hub/api/users/{self.name}/server")
        assert r.status_code in (201, 202, 400), f"{r.text}\n{self.stack.logs('hub', tail=80)}"  # 400: running
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/hub/api/users/{self.name}").json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return server
            time.sleep(1)
        raise AssertionError(f"the server of {self.name} did not start:\n{self.stack.logs('hub', tail=60)}")

    def stop_server(self, timeout=60):
        """Stop the server and wait until the hub says it is stopped (202: it is stopping)."""
        r = self.api("DELETE", f"/hub/api/users/{self.name}/server")
        deadline = time.monotonic() + timeout
        while r.status_code == 202 and time.monotonic() < deadline:
            model = self.api("GET", f"/hub/api/users/{self.name}").json()
            if not model.get("pending") and not (model.get("servers") or {}).get(""):
                return
            time.sleep(0.2)

    def run(self, *cmd, cwd: str | None = None, check: bool = True, input: str | None = None,
            timeout: int = 300) -> subprocess.CompletedProcess:
        """A command in the hub container as this local user, with the environment that a
        single-user server gives them (the hub API token of make_token(), a French locale)."""
        env = {"HOME": f"/home/{self.name}", "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
               "JUPYTERHUB_API_TOKEN": self.token or "", "JUPYTERHUB_USER": self.name, "LANG": "fr_FR.UTF-8"}
        args = [DOCKER, "exec", "-i", "-u", self.name, "-w", cwd or f"/home/{self.name}"]
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        res = subprocess.run([*args, self.stack.container("hub"), *cmd], capture_output=True, text=True,
                             input=input, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"{cmd} as {self.name} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res


def enrolled_class(stack: Stack, people: dict, klass: str, course: str) -> dict:
    """people ({login: role, or (role, first name, last name)}) imported in one class with the CLI
    (each with a password of its own), the class enrolled in course, each logged in with a token:
    {login: HubUser}."""
    import tempfile

    rows = {login: (v, "", "") if isinstance(v, str) else v for login, v in people.items()}
    passwords = {login: "Cl-" + secrets.token_urlsafe(9) for login in rows}
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / "classe.csv"
        roster.write_text("login;password;role;class;first_name;last_name\n" + "".join(
            f"{login};{passwords[login]};{role};{klass};{first};{last}\n"
            for login, (role, first, last) in rows.items()), encoding="utf-8")
        stack.copy_to("hub", roster, "/tmp/classe.csv")
    stack.exec("hub", "jhub-admin", "import", "/tmp/classe.csv", "--yes")
    stack.exec("hub", "jhub-admin", "courses", "enrol", course, "--class", klass)
    users = {}
    for login in rows:
        user = HubUser(stack, login, passwords[login])
        assert user.login(), f"{login} cannot log in"
        user.make_token()
        users[login] = user
    return users


PREFERENCES = "/srv/jupyterhub/jhub-admin-preferences.json"


def class_of_students(stack: Stack, folder: Path, logins, klass: str, memory_mb: int, processes: int) -> dict:
    """Students imported in the stack (one class), the students' limits set as the Settings page
    keeps them (tested there, in tests/service), each logged in with a server started:
    {login: HubUser}."""
    passwords = {login: "St-" + secrets.token_urlsafe(9) for login in logins}
    roster = folder / "classe.csv"
    roster.write_text("login;password;role;class\n" + "".join(
        f"{login};{password};student;{klass}\n" for login, password in passwords.items()), encoding="utf-8")
    stack.copy_to("hub", roster, "/tmp/classe.csv")
    stack.exec("hub", "jhub-admin", "import", "/tmp/classe.csv", "--yes")
    stack.exec("hub", "python3", "-c", "import sys; from jhub_admin_service.service.preferences import Preferences; "
               f"Preferences({PREFERENCES!r}).set_limits('student', sys.argv[1], sys.argv[2])",
               str(memory_mb), str(processes))
    users = {}
    for login, password in passwords.items():
        user = HubUser(stack, login, password)
        assert user.login()
        user.make_token()
        user.start_server()
        users[login] = user
    return users


class LentCgroups:
    """Per-user cgroups for a throw-away stack, as `docker/build.sh up` lends them (the compose
    override that fits this host), in a subtree of the stack's own; remove() takes away, once the
    stack is gone, what Docker made on the host."""

    HOST = Path("/sys/fs/cgroup")
    V1_CONTROLLERS = ("memory", "pids", "cpu")

    def __init__(self):
        self.v2 = (self.HOST / "cgroup.controllers").exists()
        # A v2 slice's name has no "-": systemd reads one as a level of slices.
        self.name = "jhube2e" + uuid.uuid4().hex[:8] + (".slice" if self.v2 else "")
        self.override = "compose.cgroups-v2.yaml" if self.v2 else "compose.cgroups-v1.yaml"
        self.env = {"JHUB_CGROUP_SLICE" if self.v2 else "JHUB_CGROUP_PARENT": self.name}

    def user_folder(self, controller: str, uid: int) -> Path:
        """The host's side of a user's cgroup (v2: in the hub container's own cgroup, in the slice)."""
        if self.v2:
            return next((self.HOST / self.name).glob(f"*/user-{uid}"))
        return self.HOST / controller / self.name / f"user-{uid}"

    def remove(self, timeout: float = 30) -> None:
        if self.v2:  # the container's cgroup went with it; systemd removes an empty slice itself
            return
        deadline = time.monotonic() + timeout
        for folder in (self.HOST / c / self.name for c in self.V1_CONTROLLERS):
            for child in [*folder.glob("user-*"), folder]:
                while child.exists():
                    try:
                        child.rmdir()
                    except OSError:  # its last processes are still ending
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.5)


def kernel_template_pid(stack: Stack) -> int:
    """The pid of the kernel template (classroom/kernel_template.py), from its status file."""
    out = stack.exec("hub", "cat", "/run/jhub-kernels/template.json", check=False).stdout
    return json.loads(out)["pid"] if out else 0


def process_alive(stack: Stack, pid: int) -> bool:
    """Running (not ended, nor a zombie) in the hub's container."""
    stat = stack.exec("hub", "cat", f"/proc/{pid}/stat", check=False).stdout
    return bool(stat) and stat.rsplit(")", 1)[1].split()[0] != "Z"


#: Run in a kernel: where it came from (forked by the template, or exec'd by its server), with
#: the libraries already imported or not, and what it was given beside what its server has.
KERNEL_FACTS = r"""
import json, os, sys
server = int(os.environ['JPY_PARENT_PID'])
def status(pid):
    return dict(l.split(':\t', 1) for l in open(f'/proc/{pid}/status').read().splitlines() if ':\t' in l)
def limits(pid):
    return [l.split()[-3:] for l in open(f'/proc/{pid}/limits').read().splitlines() if l.startswith(('Max data', 'Max processes'))]
def facts(pid):
    s = status(pid)
    return {'ids': [s['Uid'], s['Gid'], s['Groups']], 'limits': limits(pid), 'cgroup': open(f'/proc/{pid}/cgroup').read(),
            'nice': os.getpriority(os.PRIO_PROCESS, pid), 'oom': open(f'/proc/{pid}/oom_score_adj').read().strip()}
print(json.dumps({'preloaded': 'pandas' in sys.modules, 'pid': os.getpid(),
                  'parent': open(f'/proc/{os.getppid()}/cmdline', 'rb').read().replace(b'\0', b' ').decode(),
                  'command': open('/proc/self/cmdline', 'rb').read().replace(b'\0', b' ').decode(),
                  'kernel': facts(os.getpid()), 'server': facts(server)}))
"""


def kernel_facts(kernel) -> dict:
    out = kernel.execute(KERNEL_FACTS)
    assert out["status"] == "ok", out
    return json.loads(out["stdout"])
