"""A throw-away sidecar deployment on the local Docker engine, for the
real-Docker tests and the export benchmark.

Everything created carries the label ``org.jhub-admin.test=<prefix>`` and a
unique name prefix, and :meth:`SidecarEnv.cleanup` removes it all
(containers, helper containers, volumes, network, image tag).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKER_CLI = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else (shutil.which("docker") or "docker")
CA_BUNDLE = os.environ.get("JHUB_BUILD_CA", "/etc/ssl/certs/ca-certificates.crt")
TEST_LABEL = "org.jhub-admin.test"
VOLUME_KEYS = ("jh_home", "jh_exchange", "jh_data", "jh_backups", "jh_secrets", "jh_keys")
SECRET_PATH = "/srv/jupyterhub-secrets/sidecar.secret"

#: A few users' files with their owners and modes, and the exchange (1777).
POPULATE = r'''
mkdir -p /v/home/alice/course1 /v/home/bob /v/exchange/course1/inbound /v/exchange/course1/outbound /v/data
printf '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n' > /v/home/alice/course1/ps1.ipynb
printf 'only alice may read this\n' > /v/home/alice/private.txt
chown -R 1001:1001 /v/home/alice
chmod 0700 /v/home/alice
chmod 0600 /v/home/alice/private.txt
printf 'bob\n' > /v/home/bob/notes.txt
chown -R 1002:1002 /v/home/bob
chmod 1777 /v/exchange
chmod 0755 /v/exchange/course1
chown 1003:1003 /v/exchange/course1/outbound
printf 'submission\n' > /v/exchange/course1/inbound/alice+ps1+2026.txt
chown 1001:1001 /v/exchange/course1/inbound/alice+ps1+2026.txt
chmod 0733 /v/exchange/course1/inbound
printf 'db\n' > /v/data/jupyterhub.sqlite
chmod 0600 /v/data/jupyterhub.sqlite
'''


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=10).ping()
        return True
    except Exception:
        return False


def build_image(tag: str, dockerfile: str = "docker/sidecar/Dockerfile", context: Path = REPO) -> float:
    """Build the sidecar image (or a test server's) with BuildKit; returns the build time."""
    cmd = [DOCKER_CLI, "build", "-q", "-f", str(REPO / dockerfile), "-t", tag]
    if CA_BUNDLE != "none" and os.path.isfile(CA_BUNDLE) and os.path.getsize(CA_BUNDLE):
        cmd += ["--secret", "id=ca,src=%s" % CA_BUNDLE]
    for var in ("http_proxy", "https_proxy", "no_proxy"):
        if os.environ.get(var):
            cmd += ["--build-arg", "%s=%s" % (var, os.environ[var])]
    cmd.append(str(context))
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    start = time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("sidecar image build failed:\n%s\n%s" % (res.stdout, res.stderr[-4000:]))
    return time.monotonic() - start


def call(env, method, path, body=None):
    """A request to the sidecar's API from the client container: (status, decoded JSON)."""
    status, text = env.http(method, path, body)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"error": text}


class SidecarEnv:
    def __init__(self, image: str = None, prefix: str = None):
        import docker

        self.client = docker.from_env(timeout=300)
        self.prefix = prefix or "jhsc%s" % uuid.uuid4().hex[:8]
        self.project = self.prefix
        self.image = image or "jhub-admin-sidecar-test:%s" % self.prefix
        self.own_image_tag = image is None
        self.labels = {TEST_LABEL: self.prefix}
        self.volumes = {}
        self.network = None
        self.sidecar = None
        self.client_ctr = None
        self.extra_containers = []
        #: More volumes ({name: {"bind", "mode"}}) and networks for the sidecar, set before setup.
        self.sidecar_volumes = {}
        self.sidecar_networks = []

    # setup ---------------------------------------------------------------------
    def build(self) -> float:
        return build_image(self.image)

    def create_volume(self, key, project=None, driver_opts=None, name=None):
        project = project or self.project
        name = name or "%s_%s" % (project, key)
        labels = dict(self.labels)
        labels.update({"com.docker.compose.project": project,
                       "com.docker.compose.volume": key})
        vol = self.client.volumes.create(name=name, driver="local",
                                         driver_opts=driver_opts or {}, labels=labels)
        self.volumes[name] = vol
        return name

    def vol(self, key):
        return "%s_%s" % (self.project, key)

    def setup(self, populate_script: str = None):
        for key in VOLUME_KEYS:
            self.create_volume(key)
        self.network = self.client.networks.create(
            "%s_backend" % self.prefix, driver="bridge", internal=True, labels=self.labels)
        if populate_script:
            self.run_in_volumes(populate_script)
        self.sidecar = self.start_sidecar("%s_sidecar" % self.prefix, self.project, alias="sidecar")
        self.client_ctr = self.client.containers.run(
            self.image, ["sleep", "infinity"], name="%s_client" % self.prefix, detach=True,
            labels=self.labels, network=self.network.name,
            environment={"JHUB_ADMIN_SIDECAR_URL": "http://sidecar:8750",
                         "JHUB_ADMIN_SIDECAR_SECRET_FILE": SECRET_PATH},
            volumes={self.vol("jh_secrets"): {"bind": "/srv/jupyterhub-secrets", "mode": "ro"}})
        self.wait_healthy("sidecar")

    def start_sidecar(self, name, project, alias, backups_volume=None, env=None):
        labels = dict(self.labels)
        labels["com.docker.compose.project"] = project
        labels["com.docker.compose.service"] = "sidecar"
        environment = {"JHUB_SIDECAR_SECRET_FILE": SECRET_PATH}
        environment.update(env or {})
        ctr = self.client.containers.create(
            self.image, name=name, labels=labels, environment=environment,
            volumes={
                "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
                backups_volume or self.vol("jh_backups"): {"bind": "/backups", "mode": "rw"},
                self.vol("jh_secrets"): {"bind": "/srv/jupyterhub-secrets", "mode": "rw"},
                self.vol("jh_keys"): {"bind": "/srv/sidecar-keys", "mode": "rw"},
                **self.sidecar_volumes,
            },
            network=self.network.name,
            # As compose should run it: no capabilities, read-only root.
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True,
            detach=True)
        # Alias on the internal network (no published port anywhere).
        self.network.disconnect(ctr)
        self.network.connect(ctr, aliases=[alias])
        for network in self.sidecar_networks:
            self.client.networks.get(network).connect(ctr)
        ctr.start()
        self.extra_containers.append(ctr)
        return ctr

    def recreate_sidecar(self, env=None):
        """A new sidecar process in a new container (same name, volumes and alias), as after
        `docker compose up` with a new image or new settings; ``env``: extra environment."""
        self.sidecar.remove(force=True)
        self.extra_containers.remove(self.sidecar)
        self.sidecar = self.start_sidecar("%s_sidecar" % self.prefix, self.project,
                                          alias="sidecar", env=env)
        self.wait_healthy("sidecar")

    def wait_exited(self, container, timeout=60) -> int:
        """Wait for a container to stop; returns its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            container.reload()
            if container.status == "exited":
                return container.attrs["State"]["ExitCode"]
            time.sleep(0.2)
        raise AssertionError("%s still %s after %ss" % (container.name, container.status, timeout))

    def helpers(self) -> list:
        """The helper containers of this project that exist now."""
        return self.client.containers.list(
            all=True, filters={"label": "org.jhub-admin.project=%s" % self.project})

    def job(self, job_id):
        """(status, job) of GET /api/jobs/ID."""
        status, body = self.http("GET", "/api/jobs/" + job_id)
        try:
            return status, json.loads(body)
        except ValueError:  # not an answer of the sidecar's (0: it did not answer)
            return status, {"error": body}

    def wait_job(self, job_id, timeout=120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, job = self.job(job_id)
            assert status == 200, (status, job)
            if job["state"] not in ("queued", "running"):
                return job
            time.sleep(0.3)
        raise AssertionError("job %s still running after %ss" % (job_id, timeout))

    def wait_healthy(self, host, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            code, out = self.client_ctr.exec_run(
                ["python3", "-c", "import urllib.request as u; print(u.urlopen("
                 "'http://%s:8750/health', timeout=3).status)" % host])
            if code == 0 and b"200" in out:
                return
            last = out
            time.sleep(0.5)
        logs = b""
        for c in self.extra_containers:
            try:
                logs += c.logs()[-4000:]
            except Exception:
                pass
        raise RuntimeError("sidecar %s not healthy: %r\n%s" % (host, last, logs.decode(errors="replace")))

    def run_in_volumes(self, script: str, read_only=False, network_disabled=True):
        """Run a bash script as root with the data volumes at /v/home,
        /v/exchange, /v/data and the archives at /v/backups; returns stdout."""
        mode = "ro" if read_only else "rw"
        vols = {self.vol(k): {"bind": "/v/%s" % k[3:], "mode": mode}
                for k in ("jh_home", "jh_exchange", "jh_data", "jh_backups")}
        out = self.client.containers.run(
            self.image, ["bash", "-euo", "pipefail", "-c", script], remove=True,
            volumes=vols, labels=self.labels, network_mode="none", stderr=True)
        return out.decode("utf-8", "replace")

    # talking to the sidecar -------------------------------------------------------
    def cli(self, *args, check=True):
        """Run ``jhub-admin exports --json ARGS`` in the client container."""
        cmd = ["python3", "-m", "jhub_admin_service.cli", "exports", "--json"] + list(args)
        res = self.client_ctr.exec_run(cmd, demux=True)
        out = (res.output[0] or b"").decode()
        err = (res.output[1] or b"").decode()
        if check and res.exit_code != 0:
            raise AssertionError("%s -> %s\n%s\n%s" % (shlex.join(args), res.exit_code, out, err))
        return res.exit_code, (json.loads(out) if out.strip() else None), err

    def http(self, method, path, body=None, secret="__file__", host="sidecar", headers=None,
             raw_body=None):
        """A raw HTTP request from the client container: (status, body text).
        ``raw_body`` may be a string or an int (that many bytes of "x")."""
        script = r'''
import http.client, json, sys
method, path, body, secret, host, headers, raw = json.loads(sys.argv[1])
if secret == "__file__":
    secret = open("/srv/jupyterhub-secrets/sidecar.secret").read().strip()
h = dict(headers or {})
if secret is not None:
    h["Authorization"] = "Bearer " + secret
if isinstance(raw, int):
    raw = "x" * raw
data = raw.encode() if raw is not None else (json.dumps(body).encode() if body is not None else None)
if data is not None:
    h["Content-Type"] = "application/json"
try:
    c = http.client.HTTPConnection(host, 8750, timeout=60)
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    print(json.dumps([r.status, r.read(65536).decode("utf-8", "replace")]))
except Exception as e:
    print(json.dumps([0, "connection error: %s" % e]))
'''
        arg = json.dumps([method, path, body, secret, host, headers, raw_body])
        res = self.client_ctr.exec_run(["python3", "-c", script, arg])
        if res.exit_code != 0:
            raise AssertionError(res.output.decode())
        status, text = json.loads(res.output.decode())
        return status, text

    def sidecar_exec(self, script: str) -> str:
        res = self.sidecar.exec_run(["bash", "-euo", "pipefail", "-c", script])
        if res.exit_code != 0:
            raise AssertionError("sidecar exec failed: %s" % res.output.decode())
        return res.output.decode()

    def archive_members(self, name: str) -> dict:
        """{member name: {uid, gid, mode, type}} of an archive, read in the sidecar."""
        script = r'''
import json, subprocess, sys, tarfile
name = sys.argv[1]
dec = "zstd -q -dc" if name.endswith(".zst") else "gzip -dc"
p = subprocess.Popen(dec.split() + ["/backups/" + name], stdout=subprocess.PIPE)
out = {}
with tarfile.open(fileobj=p.stdout, mode="r|") as t:
    for m in t:
        out[m.name.rstrip("/")] = {"uid": m.uid, "gid": m.gid, "mode": m.mode,
                                   "dir": m.isdir(), "size": m.size}
print(json.dumps(out))
'''
        res = self.sidecar.exec_run(["python3", "-c", script, name])
        if res.exit_code != 0:
            raise AssertionError(res.output.decode())
        return json.loads(res.output.decode())

    def logs(self) -> str:
        return "\n".join(c.logs().decode("utf-8", "replace") for c in self.extra_containers)

    # teardown ------------------------------------------------------------------------
    def cleanup(self):
        errors = []
        flt = {"label": "%s=%s" % (TEST_LABEL, self.prefix)}
        for c in self.client.containers.list(all=True, filters=flt):
            try:
                c.remove(force=True)
            except Exception as e:
                errors.append(e)
        # Helper containers started by the sidecar(s) of this run.
        for proj in {self.project, self.project + "b"}:
            for c in self.client.containers.list(
                    all=True, filters={"label": "org.jhub-admin.project=%s" % proj}):
                try:
                    c.remove(force=True)
                except Exception as e:
                    errors.append(e)
        for n in self.client.networks.list(filters=flt):
            try:
                n.remove()
            except Exception as e:
                errors.append(e)
        for v in self.client.volumes.list(filters=flt):
            try:
                v.remove(force=True)
            except Exception as e:
                errors.append(e)
        if self.own_image_tag:
            try:
                self.client.images.remove(self.image, noprune=False)
            except Exception:
                pass
        return errors
