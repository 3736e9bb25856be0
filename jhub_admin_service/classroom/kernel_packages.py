"""The packages a school adds to the teaching kernel: a site list, installed as a job.

The image's kernel (/opt/kernel) is never changed. The site list (one requirement a line,
``kernel-packages.txt`` on the data volume) is installed by the kernel's own pip into a new
folder of the site root (/opt/kernel-site, a volume of its own, readable by every user):

    /opt/kernel-site/env-<stamp>/lib/python3.X/site-packages

then checked (``pip check`` over the kernel and the new folder) and switched in by replacing the
symbolic link ``current`` in one rename, so that a kernel starting at any moment sees the old
set or the new one, never half of either.

A package's build code is anyone's code (a misspelled name is enough to get a squatter's). So pip
runs as an unprivileged account (``kernel_install_user``: ``jhub-packages`` in the image), which
owns only the new folder while it is built, with an environment that holds no secret (pip's
and the proxy's variables only, none of the service's), and takes built wheels only: a line
whose comment says ``source`` (``monpaquet==1.0  # source``) is the admin's one exception, built
from its sources by that account. Once built, the folder is root's again, read-only to the
kernels. The kernel's kernel.json puts ``current`` first on
its path. A failure (a misspelled package, no registry, a conflict) deletes the new folder and
leaves the kernel as it was. Nothing is installed at container start: only when asked, by the
Kernel page or ``jhub-admin kernel install``.
"""
import asyncio
import functools
import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Optional

from ..locks import exclusive
from ..accounts.local import stop_processes
from ..settings import AdminSettings

log = logging.getLogger(__name__)

#: A line of the site list at most this long; the list at most this many lines.
MAX_LINE = 200
MAX_PACKAGES = 100
CURRENT = "current"
RECORD = "installed.json"
#: pip's home while it builds (in the new folder, the installing account's), removed after.
BUILD_HOME = ".build-home"

Log = Callable[[str], None]
Progress = Callable[[str, int, int], None]


class KernelPackagesError(RuntimeError):
    """The installation of the site list failed; the kernel is unchanged."""


class SiteListRefused(KernelPackagesError, ValueError):
    """A line of the site list is not a package name with an optional version."""


@dataclass
class Rejected:
    line: int
    text: str
    reason: str


def parse_site_list(text: str) -> tuple:
    """(requirements, rejected lines). A requirement is a package name with optional extras and
    version specifiers (``folium``, ``scipy>=1.11``, ``plotly[express]==6.0``): no URL, file or
    pip option, which would let a line fetch code from anywhere or change how pip runs."""
    # Imported here: the CLI imports this module, and the sidecar image runs the CLI (as an exports
    # client) without the hub's packaging library.
    from packaging.requirements import InvalidRequirement, Requirement

    requirements, rejected = [], []
    lines = text.splitlines()
    for n, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line) > MAX_LINE:
            rejected.append(Rejected(n, line[:40] + "…", f"longer than {MAX_LINE} characters"))
            continue
        if line.startswith("-"):
            rejected.append(Rejected(n, line, "pip options are not accepted, only package names"))
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            rejected.append(Rejected(n, line, "not a package name with an optional version, e.g. scipy>=1.11"))
            continue
        if req.url or req.marker:
            rejected.append(Rejected(n, line, "URLs and environment markers are not accepted, only package names"))
            continue
        requirements.append(str(req))
    names = [canonical(Requirement(r).name) for r in requirements]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        rejected.append(Rejected(0, ", ".join(duplicates), "named more than once"))
    if len(requirements) > MAX_PACKAGES:
        rejected.append(Rejected(0, "", f"more than {MAX_PACKAGES} packages"))
    return requirements, rejected


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def from_source(text: str) -> list:
    """The names whose line's comment says ``source``: built from their sources, not wheels."""
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for raw in text.splitlines():
        line, _, comment = raw.partition("#")
        if line.strip() and "source" in comment.lower().split():
            try:
                names.append(canonical(Requirement(line.strip()).name))
            except InvalidRequirement:
                continue
    return names


#: What pip may see of the service's environment: its own settings, the proxy's and the CA's.
#: Nothing else (the hub's token, the sidecar's secret) reaches a package's build code.
PIP_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                   "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


#: CA bundles that pip may be told of: the installing account may not read the data volume
#: (PIP_CERT=/srv/jupyterhub/proxy-ca.crt), so it is given a copy in its build home.
CA_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def pip_environment(home: str, extra: Optional[dict] = None) -> dict:
    env = {name: value for name, value in os.environ.items() if name in PIP_ENVIRONMENT or name.startswith("PIP_")}
    for name in CA_VARIABLES:
        if os.path.isfile(env.get(name, "")):
            copy = os.path.join(home, f"{name.lower()}.pem")
            shutil.copyfile(env[name], copy)
            os.chmod(copy, 0o644)
            env[name] = copy
    return {**env, "HOME": home, "PIP_NO_CACHE_DIR": "1", **(extra or {})}


class KernelPackages:
    def __init__(self, settings: AdminSettings):
        self.settings = settings
        self.list_path = settings.kernel_packages_file
        self.site_root = settings.kernel_site_root
        self.python = settings.kernel_python
        self.install_user = settings.kernel_install_user

    # The list

    def read_list(self) -> str:
        try:
            with open(self.list_path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @staticmethod
    def checked(text: str) -> list:
        """The list's requirements; SiteListRefused naming every refused line."""
        requirements, rejected = parse_site_list(text)
        if rejected:
            raise SiteListRefused("; ".join(
                (f"line {r.line}: " if r.line else "") + (f"{r.text}: " if r.text else "") + r.reason
                for r in rejected))
        return requirements

    def save_list(self, text: str) -> list:
        """Check, then write the list (atomically). Returns its requirements; a refused list
        raises SiteListRefused and writes nothing."""
        requirements = self.checked(text)
        text = "\n".join(line.rstrip() for line in text.strip().splitlines()) + ("\n" if text.strip() else "")
        os.makedirs(os.path.dirname(os.path.abspath(self.list_path)), exist_ok=True)
        tmp = f"{self.list_path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.list_path)
        return requirements

    # What the kernel has now

    def installed(self) -> Optional[dict]:
        """The current set, as recorded when it was switched in: {"requirements", "packages",
        "installed_at"}; None when the site list was never installed."""
        try:
            with open(os.path.join(self.site_root, CURRENT, RECORD), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def purelib(self, prefix: str) -> str:
        """Where pip --prefix puts pure-Python packages for the kernel's Python (as kernel.json
        names it for ``current``)."""
        return os.path.join(prefix, "lib", f"python{self.python_version}", "site-packages")

    @functools.cached_property
    def python_version(self) -> str:
        """The kernel's X.Y (its Python is not the one running this code)."""
        out = subprocess.run([self.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout
        return out.strip()

    async def kernel_packages(self) -> dict:
        """{name: version} of everything the teaching kernel has, the image's and the site's."""
        current = self.purelib(os.path.join(self.site_root, CURRENT))
        listing = await self._run([self.python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                                  None, "cannot list the teaching kernel's packages", {"PYTHONPATH": current})
        return {p["name"]: p["version"] for p in json.loads(listing)}

    # Installing

    async def install(self, log_line: Log = print, progress: Optional[Progress] = None) -> dict:
        """Install the site list into a new folder, check it, switch it in. Returns the record."""
        progress = progress or (lambda stage, done, total: None)
        text = self.read_list()
        requirements, sources = self.checked(text), from_source(text)
        with exclusive(os.path.join(self.site_root, ".install.lock"),
                       message="the teaching kernel's packages are being installed; try again when it is finished"):
            new = tempfile.mkdtemp(prefix=time.strftime("env-%Y%m%d-%H%M%S-"), dir=self.site_root)
            os.chmod(new, 0o755)
            try:
                self._lend(new)
                record = await self._build(new, requirements, sources, log_line, progress)
                self._take_back(new)
            except BaseException:
                self._stop_leftovers()
                shutil.rmtree(new, ignore_errors=True)
                raise
            self._switch(new)
            log_line(f"the teaching kernel now has {len(record['packages'])} site package(s)")
            return record

    def _installer(self) -> Optional[tuple]:
        """(uid, gid) of the account that runs pip, or None to run it as the caller."""
        if not self.install_user:
            return None
        try:
            account = pwd.getpwnam(self.install_user)
        except KeyError:
            raise KernelPackagesError(f"the account {self.install_user!r} that installs the kernel's packages "
                                      "does not exist; nothing was installed") from None
        if account.pw_uid == 0:
            raise KernelPackagesError("the kernel's packages are never installed as root")
        return account.pw_uid, account.pw_gid

    def _lend(self, new):
        """The new folder (and the build's home in it) to the installing account, for the build."""
        installer = self._installer()
        os.makedirs(os.path.join(new, BUILD_HOME), mode=0o700)
        if installer:
            for path in (new, os.path.join(new, BUILD_HOME)):
                os.chown(path, *installer)

    def _stop_leftovers(self):
        """What a build left running as the installing account (a dedicated one: nothing else runs as it)."""
        installer = self._installer()
        if installer:
            stop_processes(installer[0])

    def _take_back(self, new):
        """Root's again, every file of it, readable by all, before any kernel reads it: the
        installing account cannot change what every pupil's kernel imports. Whatever a build left
        running as that account is killed first, so that nothing swaps a file for a link while
        root walks the folder."""
        self._stop_leftovers()
        shutil.rmtree(os.path.join(new, BUILD_HOME), ignore_errors=True)
        for dirpath, dirnames, filenames in os.walk(new):
            for path in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.lchown(path, 0, 0)
                if not os.path.islink(path):  # every user's kernel reads them
                    os.chmod(path, os.stat(path).st_mode & 0o755 | 0o444 | (0o111 if os.path.isdir(path) else 0))

    async def _build(self, new, requirements, sources, log_line, progress):
        purelib = self.purelib(new)
        home = os.path.join(new, BUILD_HOME)
        if requirements:
            progress("install", 0, 1)
            # The image's kernel packages pinned as they are: pip never upgrades (so never
            # uninstalls) one of them; a site package that needs another version is refused.
            image = await self._run([self.python, "-m", "pip", "list", "--format", "freeze",
                                     "--disable-pip-version-check"], None, "cannot list the teaching kernel's packages",
                                    home=home)
            pins = os.path.join(new, "image-kernel.txt")
            with open(pins, "w", encoding="utf-8") as f:
                f.write(image)
            # Wheels only: no package's build code runs, but for the lines the admin marked.
            formats = ["--only-binary", ":all:", *(f"--no-binary={name}" for name in sources)]
            log_line("$ pip install " + " ".join([*formats, *requirements]))
            await self._run([self.python, "-m", "pip", "install", "--prefix", new, "--constraint", pins, *formats,
                             "--no-warn-script-location", "--disable-pip-version-check", "--progress-bar", "off",
                             *requirements],
                            log_line, "the installation failed; the teaching kernel is unchanged", home=home)
        os.makedirs(purelib, exist_ok=True)
        progress("install", 1, 1)
        progress("check", 0, 1)
        log_line("$ pip check")
        env = {"PYTHONPATH": purelib}
        await self._run([self.python, "-m", "pip", "check", "--disable-pip-version-check"], log_line,
                        "the packages conflict with the teaching kernel's; it is unchanged", env, home=home)
        listing = await self._run([self.python, "-m", "pip", "list", "--path", purelib, "--format", "json",
                                   "--disable-pip-version-check"], None, "cannot list the new packages", env, home=home)
        progress("check", 1, 1)
        try:
            packages = {p["name"]: p["version"] for p in json.loads(listing)}
        except (ValueError, KeyError, TypeError) as exc:
            raise KernelPackagesError(f"cannot read pip's list of the new packages ({exc}); the kernel is "
                                      "unchanged") from None
        record = {"requirements": requirements, "installed_at": time.time(), "packages": packages}
        with open(os.path.join(new, RECORD), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        return record

    async def _run(self, argv, log_line, failure, env=None, home=None):
        """Run a command, passing each line of its output to log_line; its stdout when it succeeds.
        With log_line None the output is data (pip's JSON): its stderr (warnings) is kept apart.
        With home, it is pip at work: as the installing account, in pip's environment only."""
        if home is None:
            identity, environment, cwd = {}, {**os.environ, **(env or {})}, "/"
        else:
            installer = self._installer()
            identity = {"user": installer[0], "group": installer[1], "extra_groups": []} if installer else {}
            environment, cwd = pip_environment(home, env), home
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.STDOUT if log_line is not None else asyncio.subprocess.DEVNULL,
            env=environment, cwd=cwd, **identity)
        lines = []
        try:
            async for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                lines.append(line)
                if log_line is not None and line:
                    log_line(line)
            status = await proc.wait()
        except BaseException:
            proc.kill()
            await proc.wait()
            raise
        if status != 0:
            last = [line for line in lines if line.strip()][-3:]
            raise KernelPackagesError(f"{failure}: {' / '.join(last) or f'exit status {status}'}")
        return "\n".join(lines)

    def _switch(self, new):
        """Point ``current`` at new in one rename, then remove the older sets."""
        current = os.path.join(self.site_root, CURRENT)
        link = f"{current}.new"
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.basename(new), link)
        os.replace(link, current)
        for name in os.listdir(self.site_root):
            path = os.path.join(self.site_root, name)
            if name.startswith("env-") and path != new:
                shutil.rmtree(path, ignore_errors=True)
