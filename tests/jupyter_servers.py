"""A real Jupyter Server with some of jhub-admin's server extensions, as a user's server runs them
(under /user/eleve/, with a token), for the tests of those extensions."""
import contextlib
import socket
import subprocess
import sys
import time

import pytest
import requests

BASE_URL = "/user/eleve/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_server(root, extensions, token, env=None):
    """Yields (the server's URL, a session carrying the token). extensions: module names to enable
    beside JupyterLab's."""
    enabled = {name: True for name in (*extensions, "jupyterlab")}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}", f"--ServerApp.base_url={BASE_URL}",
         f"--ServerApp.jpserver_extensions={enabled!r}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}{BASE_URL}"
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    try:
        for _ in range(150):
            if proc.poll() is not None:
                break
            try:
                if session.get(url + "api/status", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("jupyter server did not start: " + proc.stderr.read().decode()[-2000:])
        if proc.poll() is not None:
            pytest.fail("jupyter server stopped: " + proc.stderr.read().decode()[-2000:])
        yield url, session
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
