"""Real identity providers for the ENT login tests, started by the tests.

``OidcProvider``: npm's oidc-provider (tests/providers/oidc/server.mjs), as an OpenID Connect
issuer with discovery, or with entcore's OAuth2 addresses and userinfo fields. Its packages are
installed (npm ci) the first time; Node.js is Debian's.
``CasServer``: PyPI's django-cas-server (tests/providers/cas/serve.py), a CAS 3.0 server.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

PROVIDERS = Path(__file__).resolve().parent.parent / "providers"


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the provider exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the provider did not answer at {url}: {log.read_text()[-2000:]}")


class OidcProvider:
    """oidc-provider on 127.0.0.1, with one client (the hub) and the given accounts: the login
    typed in its form is the account's id."""

    client_id, client_secret = "jupyterhub-lycee", "client-secret-for-tests"

    def __init__(self, flavour: str, hub_url: str, accounts: dict):
        folder = PROVIDERS / "oidc"
        if not shutil.which("node") or not shutil.which("npm"):
            pytest.skip("Node.js and npm are needed for the test OpenID provider (apt-get install nodejs npm)")
        if not (folder / "node_modules" / "oidc-provider").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, check=True, timeout=300,
                           stdout=subprocess.DEVNULL)
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.flavour = flavour
        self.dir = Path(tempfile.mkdtemp(prefix=f"jhub-{flavour}-provider-"))
        config = {"issuer": self.issuer, "port": self.port, "flavour": flavour, "accounts": accounts,
                  "client": {"client_id": self.client_id, "client_secret": self.client_secret,
                             "redirect_uris": [hub_url + "/hub/oauth_callback"],
                             "post_logout_redirect_uris": [hub_url + "/hub/login"]}}
        (self.dir / "config.json").write_text(json.dumps(config))
        self.log = self.dir / "provider.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["node", str(folder / "server.mjs"), str(self.dir / "config.json")],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "NODE_ENV": "development"})
        try:
            probe = "/.well-known/openid-configuration"
            _wait_for(self.issuer + probe, self.proc, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class CasServer:
    """django-cas-server (CAS 3.0) on 127.0.0.1, serving the hub's addresses and giving the
    people's attributes; any password opens a person."""

    def __init__(self, hub_url: str, people: dict):
        pytest.importorskip("cas_server", reason="django-cas-server is not installed (pip install -e '.[test]')")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/cas"
        self.dir = Path(tempfile.mkdtemp(prefix="jhub-cas-server-"))
        config = {"port": self.port, "people": people, "data_dir": str(self.dir),
                  "service_pattern": "^" + re.escape(hub_url + "/hub/") + ".*$"}
        (self.dir / "config.json").write_text(json.dumps(config))
        self.log = self.dir / "cas.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(PROVIDERS / "cas" / "serve.py"),
                                          str(self.dir / "config.json")],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for(self.url + "/login", self.proc, self.log, timeout=60)
        except BaseException:
            self.stop()
            raise

    stop = OidcProvider.stop


def cas_login(page, server_url: str, login: str) -> None:
    """django-cas-server's login form (any password)."""
    page.wait_for_load_state("load")
    if page.url.startswith(server_url) and page.locator("#id_username").count():
        page.fill("#id_username", login)
        page.fill("#id_password", "any")
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state("load")


def provider_login(page, issuer: str, login: str) -> None:
    """oidc-provider's development form: the login (any password), then its consent page, as
    long as the browser stays on the provider."""
    page.wait_for_load_state("load")
    if page.locator("input[name=login]").count():
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", "any")
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
    for _ in range(3):
        if not page.url.startswith(issuer):
            return
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
