"""A private machine view for tests that create real local accounts.

Processes started through a Sandbox run in their own mount namespace (``unshare --mount``)
where /etc, /home and /srv are private copies under a temporary folder. The shadow tools, PAM
and JupyterHub inside see those copies; the host's own /etc/passwd is never touched. The test
process itself reads the copies from outside (``sandbox.etc / "shadow"``).

/root is replaced by a 0711 folder holding only the Python installation, so that the local
users a test creates can run Python (a pyenv install lives under /root, mode 0700).
"""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def namespaces_available():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    return probe.returncode == 0


class Sandbox:
    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.etc = self.root / "etc"
        self.home = self.root / "home"
        self.srv = self.root / "srv"
        self.fake_root = self.root / "rootdir"
        subprocess.run(["cp", "-a", "/etc", str(self.etc)], check=True)
        shutil.copy(REPO / "docker" / "pam.d" / "newusers", self.etc / "pam.d" / "newusers")
        for d in (self.home, self.srv):
            d.mkdir()
        self.fake_root.mkdir(mode=0o711)
        self.fake_root.chmod(0o711)
        self.python_home = self._python_under_root()
        if self.python_home:
            (self.root / ".python-home").mkdir()  # an empty mount point, seen from the host
        self.env = dict(os.environ)

    def _python_under_root(self):
        """The top folder under /root that holds this Python, if any (e.g. /root/.pyenv)."""
        prefix = Path(sys.prefix).resolve()
        try:
            top = prefix.relative_to("/root").parts[0]
        except (ValueError, IndexError):
            return None
        (self.fake_root / top).mkdir()
        return Path("/root") / top

    def _script(self):
        binds = [(self.etc, "/etc"), (self.home, "/home"), (self.srv, "/srv"), (self.fake_root, "/root")]
        second_path = self.root / ".python-home"
        if self.python_home:
            # A second path to the real Python folder, reachable once /root is covered. It is made
            # inside the private namespace only: a bind mount visible from the host would let an
            # rmtree of the sandbox folder walk into the real Python installation and delete it.
            binds.insert(0, (self.python_home, second_path))
            binds.append((second_path, self.python_home))
        lines = [f"mount --bind {shlex.quote(str(src))} {shlex.quote(str(dst))}" for src, dst in binds]
        return " && ".join(lines) + ' && exec "$@"'

    def command(self, argv):
        """argv wrapped so that it runs inside the sandbox."""
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", self._script(), "sandbox",
                *map(str, argv)]

    def run(self, argv, check=True, **kwargs):
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("env", self.env)
        # What a command writes to its working directory (the CLI's default credentials file)
        # stays in the sandbox, never in the checkout.
        kwargs.setdefault("cwd", self.root)
        proc = subprocess.run(self.command(argv), **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def popen(self, argv, **kwargs):
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("cwd", self.root)
        return subprocess.Popen(self.command(argv), **kwargs)

    def cli_env(self, **extra):
        """The environment of jhub-admin in the sandbox: no hub, registry on the sandbox's /srv."""
        return {**self.env, "JHUB_DATA_DIR": "/srv/jupyterhub",
                "JHUB_ADMIN_REGISTRY": "/srv/jupyterhub/jhub-admin.sqlite",
                "JHUB_ADMIN_ARCHIVE_DIR": "/srv/jupyterhub/archived-homes",
                "JHUB_EXCHANGE_ROOT": "/srv/nbgrader/exchange",
                "JUPYTERHUB_API_URL": "", "JUPYTERHUB_API_TOKEN": "", **extra}

    def jhub_admin(self, *args, check=True, env=None):
        """The real `jhub-admin` CLI inside the sandbox (by default with cli_env())."""
        return self.run([sys.executable, "-m", "jhub_admin_service.cli", *args], check=check,
                        env=env or self.cli_env())

    def as_user(self, login, shell_command, check=True, **kwargs):
        """Run a shell command as a local user of the sandbox, with a login environment."""
        return self.run(["runuser", "-l", login, "-c", shell_command], check=check, **kwargs)

    def passwd(self):
        entries = {}
        for line in (self.etc / "passwd").read_text().splitlines():
            parts = line.split(":")
            entries[parts[0]] = parts
        return entries

    def shadow(self):
        return {line.split(":")[0]: line.split(":")[1] for line in (self.etc / "shadow").read_text().splitlines()}

    def group_members(self, name):
        for line in (self.etc / "group").read_text().splitlines():
            parts = line.split(":")
            if parts[0] == name:
                return {m for m in parts[3].split(",") if m}
        return None

    def cleanup(self):
        # rm, not shutil.rmtree: a test may leave a home with more nested folders than Python's
        # recursion allows.
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(self.root)], check=False)
