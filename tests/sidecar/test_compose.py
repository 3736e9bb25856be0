"""The sidecar inside a real Compose project: discovery of its own project
and volumes from the labels Compose writes."""
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker
HERE = Path(__file__).resolve().parent


def compose_cmd():
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_sidecar_in_a_compose_project(docker_env):
    base = compose_cmd()
    if base is None:
        pytest.skip("neither 'docker compose' nor docker-compose is installed")
    project = "jhsc%s" % uuid.uuid4().hex[:8]
    cmd = base + ["-p", project, "-f", str(HERE / "compose-test.yaml")]
    env = dict(os.environ, JHSC_IMAGE=docker_env.image)

    def compose(*args, check=True):
        res = subprocess.run(cmd + list(args), env=env, capture_output=True, text=True,
                             timeout=300)
        if check and res.returncode != 0:
            raise AssertionError("%s: %s\n%s" % (args, res.stdout, res.stderr))
        return res.stdout

    try:
        compose("up", "-d")
        exec_client = ["exec", "-T", "client"]
        compose(*exec_client, "bash", "-c",
                "mkdir -p /home/eve && echo hi > /home/eve/a.txt && chown -R 1005:1005 /home/eve"
                " && chmod 1777 /srv/nbgrader/exchange")
        deadline = time.monotonic() + 60
        while True:
            res = subprocess.run(cmd + exec_client + [
                "python3", "-m", "jhub_admin_service.cli", "exports", "--json",
                "--sidecar-url", "http://sidecar:8750", "create", "all"],
                env=env, capture_output=True, text=True, timeout=300)
            if res.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)  # the sidecar may still be starting
        assert res.returncode == 0, res.stdout + res.stderr
        job = json.loads(res.stdout)
        assert job["state"] == "done", job
        meta = job["result"]
        assert meta["volumes"] == {"home": "%s_jh_home" % project,
                                   "exchange": "%s_jh_exchange" % project,
                                   "data": "%s_jh_data" % project}
        members = compose("exec", "-T", "sidecar", "bash", "-c",
                          "zstd -dc /backups/%s | tar -tv --numeric-owner" % meta["name"])
        assert "1005/1005" in members and "home/eve/a.txt" in members
        assert "drwxrwxrwt" in [line.split()[0] for line in members.splitlines()
                                if line.rstrip().endswith(" exchange/")][0]
    finally:
        compose("down", "-v", "--remove-orphans", check=False)
        for c in docker_env.client.containers.list(
                all=True, filters={"label": "org.jhub-admin.project=%s" % project}):
            c.remove(force=True)
