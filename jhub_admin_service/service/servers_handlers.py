"""Servers: see running servers; stop all of them, only the idle ones, or one, after a confirmation
(what the historical killJup.sh did by hand); what each user's processes use, live, heaviest
first, as the guard sees it (classroom/guard.py), and stop one kernel; warm start the servers of a
class before a lesson (classroom/warm_start.py).
JSON: api/servers, api/servers/stop, api/usage, api/servers/warm."""
import asyncio
import datetime
import logging
import pwd
from typing import TYPE_CHECKING, Iterable, Optional

from jupyterhub.utils import url_path_join
from tornado import web

from ..classroom import guard
from ..classroom import warm_start
from .base import APIHandler, BaseHandler
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)

NAV = [{"key": "servers", "label": N_("Servers"), "path": "servers", "order": 40}]
IDLE_CHOICES = (15, 30, 60, 120, 240)
KEEP_CHOICES = (30, 60, 90, 120)
WARM_START = warm_start.JOB_KIND


def idle_minutes(server: dict, now: Optional[datetime.datetime] = None) -> Optional[int]:
    """Minutes since the server's last activity (None when unknown)."""
    value = server.get("last_activity") or server.get("started")
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0, int((now - when).total_seconds() // 60))


async def running(ctx: "ServiceContext") -> list:
    servers = await ctx.hub.running_servers()
    return [{"user": name, "started": s.get("started"), "last_activity": s.get("last_activity"),
             "pending": s.get("pending"), "ready": s.get("ready"), "idle_minutes": idle_minutes(s)}
            for name, s in sorted(servers.items())]


def select(servers: list, mode: str, minutes: Optional[int] = None, users: Optional[Iterable[str]] = None) -> list:
    if mode == "all":
        return servers
    if mode == "idle":
        return [s for s in servers if s["idle_minutes"] is not None and s["idle_minutes"] >= minutes]
    if mode == "users":
        wanted = set(users or ())
        return [s for s in servers if s["user"] in wanted]
    raise web.HTTPError(400, "mode must be all, idle or users")


async def stop(ctx: "ServiceContext", users: list, parallel: int = 10) -> tuple:
    """Stop these users' servers, a few at a time; returns (stopped, {user: error})."""
    semaphore = asyncio.Semaphore(parallel)
    errors = {}

    async def one(name):
        async with semaphore:
            try:
                await ctx.hub.stop_server(name)
            except Exception as exc:  # one failure must not stop the others
                errors[name] = str(exc)

    await asyncio.gather(*(one(u) for u in users))
    return [u for u in users if u not in errors], errors


class HubMixin:
    async def servers(self) -> list:
        if not self.ctx.hub.configured:
            raise web.HTTPError(503, self._("The JupyterHub API is not configured for this service."))
        try:
            return await running(self.ctx)
        except Exception as exc:
            raise web.HTTPError(503, self._("JupyterHub did not answer: %(error)s") % {"error": exc}) from None


class ServersHandler(HubMixin, BaseHandler):
    nav_key = "servers"

    async def get(self) -> None:
        self.render_page("servers.html", servers=await self.servers(), choices=IDLE_CHOICES, confirm=None,
                         usage=guard.read_snapshot(), classes=self.ctx.reader.classes(), keep_choices=KEEP_CHOICES,
                         warm=[j.to_json() for j in self.ctx.jobs.list(WARM_START) if j.active])

    async def post(self) -> None:
        mode = self.get_body_argument("mode", "")
        minutes = int(self.get_body_argument("minutes", "60") or 60)
        if self.get_body_argument("confirm", "") != "1":
            chosen = select(await self.servers(), mode, minutes, self.get_body_arguments("user"))
            self.render_page("servers.html", servers=chosen, choices=IDLE_CHOICES,
                             confirm={"mode": mode, "minutes": minutes}, usage=None)
            return
        users = self.get_body_arguments("user")
        stopped, errors = await stop(self.ctx, users)
        if errors:
            self.flash(self._("%(n)d server stopped; failed: %(errors)s", "%(n)d servers stopped; failed: %(errors)s", len(stopped))
                       % {"n": len(stopped), "errors": "; ".join(f"{u}: {e}" for u, e in errors.items())}, "danger")
        else:
            self.flash(self._("%(n)d server stopped.", "%(n)d servers stopped.", len(stopped)) % {"n": len(stopped)})
        self.redirect(self.url("servers"), status=303)


class ServersAPIHandler(HubMixin, APIHandler):
    async def get(self) -> None:
        self.write_json({"servers": await self.servers()})


class StopServersAPIHandler(HubMixin, APIHandler):
    """POST api/servers/stop {"all": true} | {"idle_minutes": 60} | {"users": [...]}"""

    async def post(self) -> None:
        body = self.json_body()
        servers = await self.servers()
        if body.get("all"):
            chosen = select(servers, "all")
        elif body.get("idle_minutes") is not None:
            try:
                chosen = select(servers, "idle", int(body["idle_minutes"]))
            except (TypeError, ValueError):
                raise web.HTTPError(400, "idle_minutes must be an integer") from None
        elif isinstance(body.get("users"), list):
            chosen = select(servers, "users", users=body["users"])
        else:
            raise web.HTTPError(400, 'give {"all": true}, {"idle_minutes": N} or {"users": [...]}')
        stopped, errors = await stop(self.ctx, [s["user"] for s in chosen])
        self.write_json({"stopped": stopped, "errors": errors})


def stop_kernel(admin: str, login: str, pid: int) -> bool:
    """An admin stops one kernel of a user: only a kernel of that user, with the reason left to them."""
    try:
        uid = pwd.getpwnam(login).pw_uid
    except KeyError:
        return False
    stopped = guard.stop_kernel(pid, uid, {"kind": "admin"})
    if stopped:
        log.warning("kernel %d of %s stopped by the admin %s", pid, login, admin)
    return stopped


class StopKernelHandler(BaseHandler):
    """POST servers/USER/kernels/PID/stop"""

    def post(self, login: str, pid: str) -> None:
        if stop_kernel(self.admin_name, login, int(pid)):
            self.flash(self._("The kernel %(pid)s of %(login)s is stopped.") % {"pid": pid, "login": login})
        else:
            self.flash(self._("No kernel %(pid)s of %(login)s runs.") % {"pid": pid, "login": login}, "danger")
        self.redirect(self.url("servers"), status=303)


def start_warm(handler, klass: str, minutes: str):
    """The servers of a class's students started now and kept for `minutes`, as a job."""
    ctx = handler.ctx
    try:
        keep = warm_start.keep_minutes(minutes)
    except ValueError as exc:
        raise web.HTTPError(400, str(exc)) from None
    logins = [a.login for a in ctx.reader.accounts(role="student", klass=klass) if not a.disabled]
    if not logins:
        raise web.HTTPError(400, handler._("No student is in the class %(class)s.") % {"class": klass})
    if not ctx.hub.configured:
        raise web.HTTPError(503, handler._("The JupyterHub API is not configured for this service."))
    return warm_start.start_job(ctx.jobs, ctx.hub, logins, keep, handler.admin_name, f"warm:{klass}",
                                {"class": klass})


class WarmStartHandler(BaseHandler):
    """POST servers/warm (class, minutes)"""

    def post(self) -> None:
        klass = self.get_body_argument("class", "")
        job = start_warm(self, klass, self.get_body_argument("minutes", "60"))
        self.flash(self._("The servers of %(class)s are starting (%(n)d).") % {"class": klass,
                                                                              "n": job.counts["servers"]})
        self.redirect(self.url("servers"), status=303)


class WarmStartAPIHandler(APIHandler):
    """POST api/servers/warm {"class": "2C", "minutes": 60} -> the job"""

    def post(self) -> None:
        body = self.json_body()
        job = start_warm(self, str(body.get("class", "")), str(body.get("minutes", 60)))
        self.write_json(job.to_json(), status=202)


class UsageAPIHandler(APIHandler):
    def get(self) -> None:
        self.write_json({"usage": guard.read_snapshot()})


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, r"servers/(?P<login>[^/]+)/kernels/(?P<pid>\d+)/stop"), StopKernelHandler),
        (url_path_join(prefix, "api/usage"), UsageAPIHandler),
        (url_path_join(prefix, "servers/warm"), WarmStartHandler),
        (url_path_join(prefix, "api/servers/warm"), WarmStartAPIHandler),
        (url_path_join(prefix, "servers"), ServersHandler),
        (url_path_join(prefix, "api/servers"), ServersAPIHandler),
        (url_path_join(prefix, "api/servers/stop"), StopServersAPIHandler),
    ]
