"""Everything that talks to the Docker API.  The only module of the product
that imports the docker SDK.

The engine discovers, from the sidecar's own container, the image to use
for helpers (its own, by id: never pulled), the compose project, and the
project's volumes; then runs helper containers whose bodies come from
:mod:`.template` and nowhere else.
"""
import contextlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field

from .jobs import Cancelled
from .template import (
    HELPER_LABEL,
    PROJECT_LABEL,
    VOLUME_LABEL,
    VolumeRefused,
    check_volume,
)
from .validation import VOLUME_TARGETS

log = logging.getLogger("jhub_admin_service.sidecar")
ONEOFF_LABEL = "com.docker.compose.oneoff"


class DiscoveryError(RuntimeError):
    pass


class HelperFailed(RuntimeError):
    def __init__(self, message, exit_code=None, stderr=""):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


@dataclass
class Discovery:
    container_id: str
    image: str
    project: str
    volumes: dict = field(default_factory=dict)   # target -> volume name
    backups_volume: str = ""
    keys_volume: str = ""  # the restore points' key; "" when the sidecar mounts none
    egress_network: str = ""  # the sidecar's network that leads out; "" when it has none

    def to_json(self):
        return {"container": self.container_id[:12], "image": self.image,
                "project": self.project, "volumes": dict(self.volumes),
                "backups_volume": self.backups_volume, "keys_volume": self.keys_volume,
                "egress_network": self.egress_network}


def _docker_client(base_url=None):
    import docker  # the only import of the docker SDK in the product

    if base_url:
        return docker.DockerClient(base_url=base_url, version="auto", timeout=120)
    return docker.from_env(version="auto", timeout=120)


class DockerEngine:
    def __init__(self, *, container_id, volume_keys, backups_volume_key,
                 backup_dir="/backups", project="", docker_url="", client=None,
                 keys_volume_key="jh_keys", keys_dir="/srv/sidecar-keys"):
        self.container_id = container_id
        self.volume_keys = dict(volume_keys)
        self.backups_volume_key = backups_volume_key
        self.backup_dir = os.path.abspath(backup_dir)
        self.keys_volume_key = keys_volume_key
        self.keys_dir = os.path.abspath(keys_dir)
        self.project_override = project
        self._docker_url = docker_url
        self._client = client

    @property
    def api(self):
        if self._client is None:
            self._client = _docker_client(self._docker_url)
        return self._client.api

    # discovery ------------------------------------------------------------------
    def discover(self) -> Discovery:
        if not self.container_id:
            raise DiscoveryError("the sidecar's own container id is unknown (HOSTNAME unset)")
        own = self.api.inspect_container(self.container_id)
        image = own.get("Image")  # an image id: never a reference that could be pulled
        if not image or not image.startswith("sha256:"):
            raise DiscoveryError("cannot determine the sidecar's own image id")
        self.api.inspect_image(image)  # present locally, or fail; never pull
        labels = (own.get("Config") or {}).get("Labels") or {}
        project = self.project_override or labels.get(PROJECT_LABEL)
        if not project:
            raise DiscoveryError(f"the sidecar container has no {PROJECT_LABEL} label")
        found = self.api.volumes(filters={"label": f"{PROJECT_LABEL}={project}"})
        by_key = {}
        for v in (found or {}).get("Volumes") or []:
            key = (v.get("Labels") or {}).get(VOLUME_LABEL)
            if key:
                by_key.setdefault(key, []).append(v["Name"])
        wanted = dict(self.volume_keys)
        wanted["__backups__"] = self.backups_volume_key
        names = {}
        for target, key in wanted.items():
            candidates = by_key.get(key, [])
            if len(candidates) != 1:
                raise DiscoveryError(
                    f"expected exactly one volume {key!r} in compose project {project!r}, "
                    f"found {len(candidates)}")
            attrs = self.api.inspect_volume(candidates[0])
            names[target] = check_volume(attrs, project, key)
        backups = names.pop("__backups__")
        own_backups = [m for m in own.get("Mounts") or []
                       if os.path.normpath(m.get("Destination", "")) == self.backup_dir]
        if not own_backups or own_backups[0].get("Type") != "volume" \
                or own_backups[0].get("Name") != backups:
            raise DiscoveryError(
                f"{self.backup_dir} in the sidecar must be the volume {backups}")
        return Discovery(container_id=own["Id"], image=image, project=project,
                         volumes={t: names[t] for t in VOLUME_TARGETS if t in names},
                         backups_volume=backups,
                         keys_volume=self._keys_volume(own, project, by_key),
                         egress_network=self._egress_network(own))

    def _keys_volume(self, own: dict, project: str, by_key: dict) -> str:
        """The volume of the restore points' key, mounted in the sidecar at keys_dir (its own,
        apart from the hub's secrets): optional, "" without it."""
        candidates = by_key.get(self.keys_volume_key, [])
        mounted = [m for m in own.get("Mounts") or []
                   if os.path.normpath(m.get("Destination", "")) == self.keys_dir]
        if len(candidates) != 1 or not mounted or mounted[0].get("Name") != candidates[0] \
                or mounted[0].get("Type") != "volume":
            return ""
        return check_volume(self.api.inspect_volume(candidates[0]), project, self.keys_volume_key)

    def own_egress_network(self) -> str:
        """The sidecar's way out (see below), from its own container alone: no discovery of the
        project's volumes."""
        return self._egress_network(self.api.inspect_container(self.container_id))

    def _egress_network(self, own: dict) -> str:
        """The sidecar's own network that is not internal (its way out, for restore points on an
        SFTP server or an S3 store: docker/compose.points-remote.yaml), or "". Never given to a
        helper."""
        for name in sorted(((own.get("NetworkSettings") or {}).get("Networks") or {})):
            try:
                if not self.api.inspect_network(name).get("Internal"):
                    return name
            except Exception as exc:  # a network removed meanwhile: not a way out
                log.warning("network %s: %s", name, exc)
        return ""

    # helpers ----------------------------------------------------------------------
    def run_helper(self, body: dict, *, timeout: float = 6 * 3600, cancel=None, on_started=None):
        """Create, start and wait for a helper container; always remove it.

        Returns ``(stdout, stderr)``; raises :class:`HelperFailed` on a
        non-zero exit.  ``cancel``: a threading.Event, set when the sidecar
        stops; the helper is then killed and :class:`Cancelled` raised (steps
        that must not be cut short pass none).  ``on_started``: called once the
        helper runs (the crash tests' failpoint).
        """
        api = self.api
        created = api.create_container_from_config(body)
        cid = created["Id"]
        log.info("helper %s created (%s)", cid[:12],
                 body.get("Labels", {}).get("org.jhub-admin.operation"))
        cancelled = False
        try:
            api.start(cid)
            if on_started is not None:
                on_started()
            deadline = time.monotonic() + timeout
            while True:
                try:
                    status = api.wait(cid, timeout=1)
                    break
                except Exception as e:  # requests ReadTimeout / ConnectionError
                    if "timed out" not in str(e).lower() and "timeout" not in type(e).__name__.lower():
                        raise
                    if cancel is not None and cancel.is_set():
                        cancelled = True
                        with contextlib.suppress(Exception):  # it may have just exited
                            api.kill(cid)
                        raise Cancelled("the sidecar is stopping") from None
                    if time.monotonic() > deadline:
                        api.kill(cid)
                        raise HelperFailed(f"helper timed out after {int(timeout)}s")
            code = status.get("StatusCode")
            stdout = api.logs(cid, stdout=True, stderr=False).decode("utf-8", "replace")
            stderr = api.logs(cid, stdout=False, stderr=True).decode("utf-8", "replace")
            if code != 0:
                raise HelperFailed(f"helper exited with status {code}: {stderr.strip()[-2000:]}",
                                   code, stderr)
            return stdout, stderr
        finally:
            if cancelled:  # the process is about to exit: no helper left behind
                self._remove(cid)
            else:  # it has exited (or was killed): its removal does not delay the job's result
                threading.Thread(target=self._remove, args=(cid,), daemon=True).start()

    def _remove(self, cid):
        try:
            self.api.remove_container(cid, force=True)
        except Exception as e:  # already gone
            log.warning("could not remove helper %s: %s", cid[:12], e)

    def containers_using(self, volume: str) -> list:
        """Names of the running containers that mount ``volume`` (the sidecar never does),
        besides its helpers and compose's one-off containers (`docker compose run`: a shell
        running the CLI, not the hub)."""
        names = []
        for c in self.api.containers(filters={"volume": volume, "status": "running"}):
            labels = c.get("Labels") or {}
            if labels.get(HELPER_LABEL) or labels.get(ONEOFF_LABEL) == "True":
                continue
            names.append(((c.get("Names") or ["?"])[0]).lstrip("/"))
        return sorted(names)

    def remove_stale_helpers(self, project: str) -> int:
        """Remove helper containers left by a previous sidecar process."""
        n = 0
        for c in self.api.containers(all=True, filters={
                "label": [HELPER_LABEL + "=1", f"org.jhub-admin.project={project}"]}):
            try:
                self.api.remove_container(c["Id"], force=True)
                n += 1
            except Exception as e:
                log.warning("could not remove stale helper %s: %s", c["Id"][:12], e)
        return n


SHA_LINE = re.compile(r"^([0-9a-f]{64})\s+-\s*$", re.M)
STATUS_LINE = re.compile(r"^JHUB-STATUS ([0-9 ]+)$", re.M)


def parse_export_output(stdout: str):
    """Return (sha256, tar_status) from an export helper's stdout."""
    m = SHA_LINE.search(stdout)
    s = STATUS_LINE.search(stdout)
    if not m or not s:
        raise HelperFailed(f"unexpected helper output: {stdout[-500:]!r}")
    return m.group(1), int(s.group(1).split()[0])


__all__ = ["DockerEngine", "Discovery", "DiscoveryError", "HelperFailed",
           "VolumeRefused", "parse_export_output"]
