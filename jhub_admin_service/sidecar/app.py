"""The sidecar's HTTP API (tornado) and its traitlets application.

Every route below is one of the enumerated operations; there is no generic
Docker passthrough.  Every request under /api/ needs
``Authorization: Bearer <secret>``.

========  ======================================  =====================================
method    path                                    operation
========  ======================================  =====================================
GET       /health                                 liveness (no secret, no details)
GET       /api/info                               image, project, volumes, compressor
GET       /api/archives                           list archives (newest first)
GET       /api/archives/NAME                      one archive's metadata
DELETE    /api/archives/NAME                      delete one archive
GET       /api/archives/NAME/download             stream it (supports ``Range``)
POST      /api/archives/NAME/verify               recompute sha256 vs the recorded one
POST      /api/archives/NAME/restore              ``{"sha256", "user"?, "targets"?}`` -> job
POST      /api/exports                            ``{"target": home|exchange|data|all, "school_year"?}`` -> job
GET       /api/jobs, /api/jobs/ID                 job state and progress (bytes)
POST      /api/prune                              ``{"keep"?, "days"?}``
GET/PUT   /api/settings                           daily schedule and retention
GET       /api/points                             restore points: state, settings, points
POST      /api/points                             make a restore point now -> job
POST      /api/points/enable                      ``{"place"?}``: create the repository; its key, this once
PUT       /api/points/key                         ``{"key", "place"?}``: the key of an existing repository
POST      /api/points/ssh-key                     the sidecar's SSH key for an SFTP place: its public half
POST      /api/points/check                       ``restic check`` -> job
PUT       /api/points/settings                    nightly time, retention, pupils' own restores
GET       /api/points/ID/files?user=U&path=P      one folder of a home in a point
POST      /api/points/ID/restore                  ``{"user", "path", "lang"?, "by"?}`` -> job
POST      /api/points/ID/restore-volumes          ``{"confirm", "targets"?, "user"?}`` -> job
========  ======================================  =====================================
"""
import asyncio
import json
import logging
import os
import re
import signal
import sys

from tornado import httpserver, ioloop, web
from traitlets import Bool, Dict, Integer, Unicode, default
from traitlets.config import Application

from .. import __version__
from .core import DEFAULT_RESERVE, Sidecar
from .engine import DiscoveryError, DockerEngine, HelperFailed
from .jobs import JobManager, JobStore
from .points.restic import ResticError
from .refusal import Refused
from .secret import check_bearer, load_or_create
from .store import ArchiveNotFound, ArchiveStore
from .template import VolumeRefused
from .validation import ValidationError, validate_archive_name

STREAM_CHUNK = 256 * 1024
RANGE_RE = re.compile(r"\Abytes=(\d+)-(\d*)\Z")


class BaseHandler(web.RequestHandler):
    auth_required = True

    @property
    def sidecar(self) -> Sidecar:
        return self.settings["sidecar"]

    @property
    def log(self):
        return self.settings["sidecar_log"]

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def prepare(self):
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.settings["max_body_size"]:
            raise web.HTTPError(413, "request body too large")
        if self.auth_required:
            if not check_bearer(self.request.headers.get("Authorization"),
                                self.settings["secret"]):
                self.log.warning("refused %s %s from %s: missing or wrong secret",
                                 self.request.method, self.request.path, self.request.remote_ip)
                raise web.HTTPError(401, "missing or wrong secret")
        self.log.info("%s %s from %s", self.request.method, self.request.path,
                      self.request.remote_ip)

    def json_body(self) -> dict:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except ValueError:
            raise web.HTTPError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        return data

    def send(self, data, status=200):
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_error(self, status_code, **kwargs):
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        answer = {"error": reason, "status": status_code}
        refusal = kwargs.get("refusal")
        if refusal is not None:  # a refusal's code and detail, for the client's own wording
            answer.update(code=refusal.code, detail=refusal.detail)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(answer))

    def _handle_request_exception(self, e):
        # Map domain errors to clear HTTP errors; nothing was changed.
        mapping = [(ValidationError, 400), (ArchiveNotFound, 404), (Refused, None), (ResticError, None),
                   (VolumeRefused, 409), (DiscoveryError, 503), (HelperFailed, 500)]
        for cls, status in mapping:
            if isinstance(e, cls):
                status = status or e.status  # a refusal: 409 busy, 503 stopping, 507 no room...
                msg = f"archive not found: {e}" if cls is ArchiveNotFound else str(e)
                self.log.warning("%s %s refused (%d): %s", self.request.method,
                                 self.request.path, status, msg)
                if not self._finished:
                    self.send_error(status, exc_info=(type(e), web.HTTPError(status, msg), None),
                                    refusal=e if isinstance(e, (Refused, ResticError)) else None)
                return
        return super()._handle_request_exception(e)

    async def blocking(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class HealthHandler(BaseHandler):
    auth_required = False

    def get(self):
        self.send({"status": "ok"})


class InfoHandler(BaseHandler):
    async def get(self):
        self.send(await self.blocking(self.sidecar.info))


class ArchivesHandler(BaseHandler):
    async def get(self):
        self.send({"archives": await self.blocking(self.sidecar.list)})


class ArchiveHandler(BaseHandler):
    def get(self, name):
        self.send(self.sidecar.store.meta(validate_archive_name(name)))

    def delete(self, name):
        self.send(self.sidecar.delete(name))


class DownloadHandler(BaseHandler):
    async def get(self, name):
        store = self.sidecar.store
        meta = store.meta(validate_archive_name(name))
        path = store.path(name)
        size = os.stat(path).st_size
        start, end = 0, size - 1
        rng = self.request.headers.get("Range")
        if rng:
            m = RANGE_RE.match(rng.strip())
            if not m or int(m.group(1)) >= size:
                self.set_header("Content-Range", f"bytes */{size}")
                raise web.HTTPError(416, "invalid range")
            start = int(m.group(1))
            if m.group(2):
                end = min(int(m.group(2)), size - 1)
            if end < start:
                raise web.HTTPError(416, "invalid range")
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("X-Archive-Sha256", meta.get("sha256") or "")
        self.set_header("X-Archive-Size", str(size))
        self.set_header("Content-Length", str(end - start + 1))
        remaining = end - start + 1
        with open(path, "rb") as f:
            f.seek(start)
            while remaining > 0:
                block = f.read(min(STREAM_CHUNK, remaining))
                if not block:
                    break
                remaining -= len(block)
                self.write(block)
                await self.flush()  # back-pressure: never more than a chunk in memory
        self.finish()


class VerifyHandler(BaseHandler):
    async def post(self, name):
        validate_archive_name(name)
        self.send(await self.blocking(self.sidecar.verify, name))


class RestoreHandler(BaseHandler):
    async def post(self, name):
        body = self.json_body()
        unknown = set(body) - {"sha256", "user", "targets"}
        if unknown:
            raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        job = await self.sidecar.start_restore(name, body.get("sha256"), user=body.get("user"),
                                               targets=body.get("targets"))
        self.log.info("restore of %s requested by %s: job %s", name, self.request.remote_ip, job.id)
        self.send({"job": job.to_json()}, 202)


class ExportsHandler(BaseHandler):
    async def post(self):
        body = self.json_body()
        unknown = set(body) - {"target", "school_year"}
        if unknown:
            raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        job = await self.sidecar.start_export(body.get("target", "all"), school_year=body.get("school_year"))
        self.log.info("export requested by %s: job %s", self.request.remote_ip, job.id)
        self.send({"job": job.to_json()}, 202)


class JobsHandler(BaseHandler):
    def get(self):
        self.send({"jobs": self.sidecar.jobs.list()})


class JobHandler(BaseHandler):
    def get(self, job_id):
        job = self.sidecar.jobs.get(job_id)
        if job is None:
            raise web.HTTPError(404, "no such job")
        self.send(job.to_json())


class PruneHandler(BaseHandler):
    async def post(self):
        body = self.json_body()
        unknown = set(body) - {"keep", "days"}
        if unknown:
            raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        self.send(await self.blocking(self.sidecar.prune, body.get("keep"), body.get("days")))


class SettingsHandler(BaseHandler):
    def get(self):
        self.send(self.sidecar.get_settings())

    def put(self):
        self.send(self.sidecar.set_settings(self.json_body()))


class PointsHandler(BaseHandler):
    async def get(self):
        points = self.sidecar.points
        status = await self.blocking(points.status)
        answer = {"status": status, "points": []}
        if status["initialised"] and status["key_present"] and not self.get_query_argument("status_only", ""):
            try:
                answer["points"] = await self.blocking(points.points)
            except ResticError as e:  # the page still shows the state and says why
                answer["error"] = {"message": str(e), "code": e.code}
        self.send(answer)

    async def post(self):
        job = await self.sidecar.points.start_point("manual")
        self.send({"job": job.to_json()}, 202)


class PointsEnableHandler(BaseHandler):
    async def post(self):
        self.send(await self.blocking(self.sidecar.points.enable, self.json_body().get("place")), 201)


class PointsKeyHandler(BaseHandler):
    async def put(self):
        body = self.json_body()
        self.send(await self.blocking(self.sidecar.points.adopt_key, body.get("key"), body.get("place")))


class PointsSshKeyHandler(BaseHandler):
    async def post(self):
        self.send(await self.blocking(self.sidecar.points.ssh_key))


class PointsCheckHandler(BaseHandler):
    async def post(self):
        job = await self.sidecar.points.start_check()
        self.send({"job": job.to_json()}, 202)


class PointsSettingsHandler(BaseHandler):
    def put(self):
        self.send(self.sidecar.points.set_settings(self.json_body()))


class PointFilesHandler(BaseHandler):
    async def get(self, snapshot):
        self.send(await self.blocking(self.sidecar.points.browse, snapshot,
                                      self.get_query_argument("user", ""),
                                      self.get_query_argument("path", "")))


class PointRestoreHandler(BaseHandler):
    async def post(self, snapshot):
        body = self.json_body()
        unknown = set(body) - {"user", "path", "lang", "by"}
        if unknown:
            raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        job = await self.sidecar.points.start_restore_file(snapshot, body.get("user"), body.get("path"),
                                                           body.get("lang", "fr"), str(body.get("by", ""))[:64])
        self.send({"job": job.to_json()}, 202)


class PointVolumesRestoreHandler(BaseHandler):
    async def post(self, snapshot):
        body = self.json_body()
        unknown = set(body) - {"confirm", "user", "targets"}
        if unknown:
            raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        job = await self.sidecar.start_point_restore(snapshot, body.get("confirm"), user=body.get("user"),
                                                     targets=body.get("targets"))
        self.log.info("restore from point %s requested by %s: job %s", snapshot, self.request.remote_ip, job.id)
        self.send({"job": job.to_json()}, 202)


NAME = r"([^/]+)"


def make_app(sidecar: Sidecar, secret: str, log, max_body_size=64 * 1024) -> web.Application:
    return web.Application(
        [
            (r"/health", HealthHandler),
            (r"/api/info", InfoHandler),
            (r"/api/archives", ArchivesHandler),
            (rf"/api/archives/{NAME}", ArchiveHandler),
            (rf"/api/archives/{NAME}/download", DownloadHandler),
            (rf"/api/archives/{NAME}/verify", VerifyHandler),
            (rf"/api/archives/{NAME}/restore", RestoreHandler),
            (r"/api/exports", ExportsHandler),
            (r"/api/jobs", JobsHandler),
            (r"/api/jobs/([0-9a-f]{16})", JobHandler),
            (r"/api/prune", PruneHandler),
            (r"/api/settings", SettingsHandler),
            (r"/api/points", PointsHandler),
            (r"/api/points/enable", PointsEnableHandler),
            (r"/api/points/key", PointsKeyHandler),
            (r"/api/points/ssh-key", PointsSshKeyHandler),
            (r"/api/points/check", PointsCheckHandler),
            (r"/api/points/settings", PointsSettingsHandler),
            (r"/api/points/([0-9a-f]{8,64})/files", PointFilesHandler),
            (r"/api/points/([0-9a-f]{8,64})/restore", PointRestoreHandler),
            (r"/api/points/([0-9a-f]{8,64})/restore-volumes", PointVolumesRestoreHandler),
        ],
        sidecar=sidecar,
        secret=secret,
        sidecar_log=log,
        max_body_size=max_body_size,
        default_handler_class=NotFoundHandler,
    )


class NotFoundHandler(BaseHandler):
    def prepare(self):
        super().prepare()
        raise web.HTTPError(404, "no such operation")


def _env(*names, default=""):
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    return default


class SidecarApp(Application):
    """jhub-admin-sidecar: exports and restores of the product's volumes."""

    name = "jhub-admin-sidecar"
    version = __version__
    description = __doc__

    config_file = Unicode("", help="A Python config file to load.").tag(config=True)
    ip = Unicode(help="Address to listen on.").tag(config=True)
    port = Integer(help="Port to listen on.").tag(config=True)
    backup_dir = Unicode(help="Directory (a named volume) holding the archives.").tag(config=True)
    secret_file = Unicode(help="File with the shared secret; created (0600) if absent "
                               "and writable, else waited for.").tag(config=True)
    container_id = Unicode(help="The sidecar's own container id (default: $HOSTNAME).").tag(config=True)
    project = Unicode(help="Compose project (default: the sidecar container's "
                           "com.docker.compose.project label).").tag(config=True)
    volume_keys = Dict(
        {"home": "jh_home", "exchange": "jh_exchange", "data": "jh_data"},
        help="Target -> com.docker.compose.volume label of the volume to export.",
    ).tag(config=True)
    backups_volume_key = Unicode("jh_backups", help="Compose key of the archives volume.").tag(config=True)
    keys_dir = Unicode(help="Folder (a named volume of the sidecar's own) holding the restore "
                            "points' key.").tag(config=True)
    keys_volume_key = Unicode("jh_keys", help="Compose key of the restore points' key volume.").tag(config=True)
    compressor = Unicode(help="auto (fastest available: zstd, pigz, gzip), zstd, pigz or gzip.").tag(config=True)
    compression_level = Integer(-1, help="Compression level (-1: the compressor's default).").tag(config=True)
    compression_threads = Integer(0, help="zstd threads (0: all cores).").tag(config=True)
    fsync = Bool(True, help="fsync each archive before the atomic rename.").tag(config=True)
    max_body_size = Integer(64 * 1024, help="Largest accepted request body, in bytes.").tag(config=True)
    helper_timeout = Integer(6 * 3600, help="Seconds before a helper container is killed.").tag(config=True)
    secret_wait = Integer(600, help="Seconds to wait for the secret file when it cannot be "
                                    "created here (read-only mount).").tag(config=True)
    schedule_interval = Integer(60, help="Seconds between checks of the daily schedule.").tag(config=True)
    docker_url = Unicode(help="Docker API URL (default: DOCKER_HOST or the local socket).").tag(config=True)
    free_space_reserve = Integer(help="Bytes that an export must leave free on the archives "
                                      "volume (the homes often share its disk).").tag(config=True)
    stop_timeout = Integer(20, help="Seconds that SIGTERM waits for the running job to finish or "
                                    "roll back; keep it below Compose's stop_grace_period.").tag(config=True)
    failpoint = Unicode(help="Tests only: exit abruptly during a restore step "
                             "(exit-during-extract, exit-during-swap).").tag(config=True)

    aliases = {
        "ip": "SidecarApp.ip",
        "port": "SidecarApp.port",
        "backup-dir": "SidecarApp.backup_dir",
        "secret-file": "SidecarApp.secret_file",
        "config": "SidecarApp.config_file",
        "log-level": "Application.log_level",
    }

    @default("ip")
    def _ip(self):
        return _env("JHUB_SIDECAR_IP", default="0.0.0.0")

    @default("port")
    def _port(self):
        return int(_env("JHUB_SIDECAR_PORT", default="8750"))

    @default("backup_dir")
    def _backup_dir(self):
        return _env("JHUB_SIDECAR_BACKUP_DIR", default="/backups")

    @default("keys_dir")
    def _keys_dir(self):
        return _env("JHUB_SIDECAR_KEYS_DIR", default="/srv/sidecar-keys")

    @default("secret_file")
    def _secret_file(self):
        return _env("JHUB_SIDECAR_SECRET_FILE", "JHUB_ADMIN_SIDECAR_SECRET_FILE",
                    default="/srv/jupyterhub/secrets/sidecar.secret")

    @default("container_id")
    def _container_id(self):
        return _env("JHUB_SIDECAR_CONTAINER_ID", "HOSTNAME")

    @default("project")
    def _project(self):
        return _env("JHUB_SIDECAR_PROJECT")

    @default("compressor")
    def _compressor(self):
        return _env("JHUB_SIDECAR_COMPRESSOR", default="auto")

    @default("docker_url")
    def _docker_url(self):
        return _env("DOCKER_HOST")

    @default("free_space_reserve")
    def _free_space_reserve(self):
        return int(_env("JHUB_SIDECAR_FREE_SPACE_RESERVE", default=str(DEFAULT_RESERVE)))

    @default("failpoint")
    def _failpoint(self):
        return _env("JHUB_SIDECAR_FAILPOINT")

    @default("log_level")
    def _log_level(self):
        return logging.INFO

    def initialize(self, argv=None):
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
        self.log.propagate = False
        logging.getLogger("jhub_admin_service.sidecar").handlers = self.log.handlers
        logging.getLogger("jhub_admin_service.sidecar").setLevel(self.log_level)

    def build(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        self.log.info("shared secret: %s (created here if absent and writable, "
                      "else waiting for the hub to create it)", self.secret_file)
        secret = load_or_create(self.secret_file, timeout=self.secret_wait)
        store = ArchiveStore(self.backup_dir)
        engine = DockerEngine(container_id=self.container_id, volume_keys=self.volume_keys,
                              backups_volume_key=self.backups_volume_key,
                              backup_dir=self.backup_dir, project=self.project,
                              docker_url=self.docker_url, keys_volume_key=self.keys_volume_key,
                              keys_dir=self.keys_dir)
        self.sidecar = Sidecar(
            store=store, engine=engine, jobs=JobManager(self.log, JobStore(self.backup_dir)),
            compressor=self.compressor,
            level=None if self.compression_level < 0 else self.compression_level,
            threads=self.compression_threads, fsync=self.fsync,
            helper_timeout=self.helper_timeout, reserve=self.free_space_reserve,
            failpoint=self.failpoint, log=self.log, keys_dir=self.keys_dir)
        return make_app(self.sidecar, secret, self.log, self.max_body_size)

    def start(self):
        app = self.build()
        try:
            disc = self.sidecar.engine.discover()
            self.log.info("discovered %s", disc.to_json())
            # Helpers of a previous sidecar process first, then their files.
            n = self.sidecar.engine.remove_stale_helpers(disc.project)
            if n:
                self.log.info("removed %d stale helper container(s)", n)
        except Exception as e:  # reported again on each operation
            self.log.error("discovery failed (operations will fail until fixed): %s", e)
        removed = self.sidecar.store.cleanup()
        if removed:
            self.log.info("removed leftovers of interrupted jobs: %s", ", ".join(removed))
        # Before any request: a restore that a stop or a crash interrupted is finished or
        # rolled back from its journal, and every job says what happened to it.
        self.sidecar.recover()
        self.sidecar.points.start_tunnel()
        self.log.info("compressor %s level %s; tools %s", self.sidecar.compressor,
                      self.sidecar.level, self.sidecar.tools)
        server = httpserver.HTTPServer(app, max_body_size=self.max_body_size,
                                       max_buffer_size=self.max_body_size, xheaders=False)
        server.listen(self.port, self.ip)
        self.log.info("jhub-admin-sidecar %s listening on %s:%d", __version__, self.ip, self.port)
        loop = ioloop.IOLoop.current()
        ioloop.PeriodicCallback(self._tick, self.schedule_interval * 1000).start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.asyncio_loop.add_signal_handler(
                signum, lambda: asyncio.ensure_future(self._stop(server)))
        loop.start()

    async def _stop(self, server):
        """SIGTERM (docker stop, compose down): the sidecar runs as PID 1, so without this
        Docker kills it after its grace period, whatever its job is doing."""
        if self.sidecar.jobs.stopping:
            return
        self.log.info("SIGTERM: new jobs are refused (503); the running job finishes or rolls back")
        finished = await self.sidecar.jobs.shutdown(self.stop_timeout)
        server.stop()
        if not finished:  # its worker thread would hold the exit: its journal finishes it at start
            self.log.warning("a job still runs after %d s; exiting, the next start finishes it",
                             self.stop_timeout)
            logging.shutdown()
            os._exit(0)
        self.log.info("stopped")
        ioloop.IOLoop.current().stop()

    async def _tick(self):
        try:
            await self.sidecar.scheduled_tick()
        except Exception as e:
            self.log.error("schedule check failed: %s", e)


def main(argv=None):
    app = SidecarApp.instance()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    sys.exit(main())
