"""Dashboard: accounts by role and class, running servers, disk use, last export, warnings."""
import asyncio
import collections
import logging
import time
from typing import TYPE_CHECKING

from jupyterhub.utils import url_path_join

from ..classroom import limits as limitsmod
from ..classroom import usage as usagemod
from .base import APIHandler, BaseHandler, fmt_bytes
from .disk_usage import disk, home_sizes
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)

NAV = [{"key": "dashboard", "label": N_("Dashboard"), "path": "", "order": 10}]
MEMORY_WARNING_PERCENT = 90


async def gather(ctx: "ServiceContext", lang: str = "en") -> dict:
    """Everything the dashboard shows, as JSON-ready data (warnings are English msgids + values,
    sizes written for the reader's language)."""
    accounts = ctx.reader.accounts()
    roles = collections.Counter(a.role for a in accounts if not a.disabled)
    classes = collections.defaultdict(lambda: {"student": 0, "teacher": 0, "admin": 0})
    for a in accounts:
        if not a.disabled:
            for klass in a.classes:
                classes[klass][a.role] += 1
    # A class's teachers are also those whose course enrols it.
    active = {a.login for a in accounts if not a.disabled}
    teachers = collections.defaultdict(set)
    for a in accounts:
        if a.role == "teacher" and a.login in active:
            for klass in a.classes:
                teachers[klass].add(a.login)
    for course in ctx.reads.courses.store.courses():
        for klass in course.classes:
            if course.teacher in active:
                teachers[klass].add(course.teacher)
    for klass, logins in teachers.items():
        classes[klass]["teacher"] = len(logins)
    warnings = []
    initial = [a.login for a in accounts if a.role == "admin" and a.initial_password and not a.disabled]
    if initial:
        warnings.append({"level": "warning", "text": N_(
            "The admin account(s) %(logins)s still have their initial password: log in as them and change it "
            "on the page Change my password (the hub's Services menu)."), "values": {"logins": ", ".join(initial)},
            "link": url_path_join(ctx.settings.hub_base_url, "services/jhub-password/"),
            "link_text": N_("Change my password")})
    servers = None
    try:
        servers = await asyncio.wait_for(ctx.hub.running_servers(), 10) if ctx.hub.configured else None
    except Exception as exc:  # hub down or refusing: say so, show the rest
        warnings.append({"level": "danger", "text": N_("JupyterHub did not answer: %(error)s"),
                         "values": {"error": str(exc)}})
    report = ctx.startup_report
    if report.get("state") == "failed":
        warnings.append({"level": "danger", "text": N_("The start-up reconcile of hub users and groups failed: "
                                                       "%(error)s"), "values": {"error": report.get("message")}})
    for job in ctx.jobs.interrupted_at_start:
        warnings.append({"level": "warning", "text": N_(
            "Job %(id)s (%(kind)s) was interrupted by a restart of the service: check its result and run it "
            "again if needed."), "values": {"id": job.id, "kind": job.kind}, "job": job.id})
    every = ctx.settings.disk_measure_seconds
    disks = {"home": disk(ctx.settings.home_root, every), "exchange": disk(ctx.settings.exchange_root, every)}
    for d in disks.values():
        if d["percent"] is not None and d["percent"] >= 90:
            warnings.append({"level": "danger", "text": N_("The disk holding %(path)s is %(percent)s %% full."),
                             "values": {"path": d["path"], "percent": d["percent"]}})
    memory = usagemod.memory_status(limitsmod.machine_memory_bytes())
    if memory["used_percent"] is not None and memory["used_percent"] >= MEMORY_WARNING_PERCENT:
        warnings.append({"level": "danger", "text": N_(
            "The server's memory is %(percent)s %% used: the guard stops the biggest kernels of users over their "
            "limit; lower the limits on the Settings page or stop idle servers."),
            "values": {"percent": memory["used_percent"]}, "link": url_path_join(ctx.prefix, "servers"),
            "link_text": N_("Servers")})
    homes = heavy_homes(ctx)
    if homes["over"]:
        warnings.append({"level": "warning", "text": N_("%(count)d home uses more than %(limit)s: %(homes)s."),
                         "plural": N_("%(count)d homes use more than %(limit)s: %(homes)s."), "count": len(homes["over"]),
                         "values": {"count": len(homes["over"]), "limit": fmt_bytes(homes["limit"], lang),
                                    "homes": ", ".join(f"{h['login']} ({fmt_bytes(h['bytes'], lang)})"
                                                       for h in homes["over"][:10])},
                         "link": url_path_join(ctx.prefix, "accounts"), "link_text": N_("Accounts")})
    unmatched = ctx.ent_links().unmatched()
    if unmatched:
        names = ", ".join(" ".join(filter(None, (u.identity.get("first_name"), u.identity.get("last_name"))))
                          or u.identity.get("login") or u.subject for u in unmatched[:10])
        warnings.append({"level": "warning", "text": N_("%(count)d ENT identity opened no account: %(names)s."),
                         "plural": N_("%(count)d ENT identities opened no account: %(names)s."),
                         "count": len(unmatched), "values": {"count": len(unmatched), "names": names},
                         "link": url_path_join(ctx.prefix, "ent"), "link_text": N_("ENT login")})
    export = await last_export(ctx)
    if export.get("state") == "ok" and export.get("archive"):
        age_days = (time.time() - (export["archive"].get("created_ts") or time.time())) / 86400
        if age_days > 7:
            warnings.append({"level": "warning", "text": N_("The last export is %(days)d days old."),
                             "values": {"days": int(age_days)}})
    elif export.get("state") == "ok":
        warnings.append({"level": "warning", "text": N_("No export has been made yet."), "values": {}})
    points = await restore_points_status(ctx)
    check = points.get("last_check") or {}
    if check and not check.get("ok"):
        warnings.append({"level": "danger", "text": N_("The last check of the restore points failed: %(error)s"),
                         "values": {"error": check.get("message")}, "link": url_path_join(ctx.prefix, "points"),
                         "link_text": N_("Restore points")})
    last_point = (points.get("last_point") or {}).get("time")
    if points.get("initialised") and points.get("settings", {}).get("enabled") and last_point \
            and time.time() - last_point > 2 * 86400:
        warnings.append({"level": "warning", "text": N_("The last restore point is %(days)d days old."),
                         "values": {"days": int((time.time() - last_point) / 86400)},
                         "link": url_path_join(ctx.prefix, "points"), "link_text": N_("Restore points")})
    return {
        "accounts": {"total": len(accounts), "disabled": sum(a.disabled for a in accounts),
                     "by_role": {r: roles.get(r, 0) for r in ("student", "teacher", "admin")},
                     "by_class": {k: classes[k] for k in sorted(classes)}},
        "servers": None if servers is None else {"running": len(servers), "users": sorted(servers)},
        "disks": disks,
        "homes": homes,
        "memory": memory,
        "export": export,
        "restore_points": points,
        "warnings": warnings,
        "jobs": [j.to_json() for j in ctx.jobs.list()[:5]],
        "startup_reconcile": report,
        "ent_unmatched": [{"subject": u.subject, "reason": u.reason, "identity": u.identity} for u in unmatched],
    }


def heavy_homes(ctx: "ServiceContext") -> dict:
    """The heaviest homes, and those above the admin's threshold (Settings page)."""
    sizes = home_sizes(ctx.settings.home_root, ctx.settings.disk_measure_seconds)
    limit = ctx.preferences.home_warning_bytes()
    ranked = [{"login": login, "bytes": size} for login, size in sorted(sizes.items(), key=lambda kv: -kv[1])]
    return {"measured": bool(sizes), "limit": limit, "heaviest": ranked[:5],
            "over": [h for h in ranked if h["bytes"] > limit]}


async def last_export(ctx: "ServiceContext") -> dict:
    client = ctx.exports()
    if client is None:
        return {"state": "not_configured"}
    try:
        archives = await asyncio.wait_for(client.list_archives(), 5)
    except Exception as exc:  # sidecar down: the dashboard still shows
        return {"state": "unavailable", "error": str(exc)}
    return {"state": "ok", "archive": archives[0] if archives else None, "count": len(archives)}


class DashboardHandler(BaseHandler):
    nav_key = "dashboard"

    async def get(self) -> None:
        data = await gather(self.ctx, self.locale.code[:2])
        self.render_page("dashboard.html", data=data)


class DashboardAPIHandler(APIHandler):
    async def get(self) -> None:
        self.write_json(await gather(self.ctx))


def routes(prefix: str) -> list:
    return [
        (prefix, DashboardHandler),
        (url_path_join(prefix, "api/dashboard"), DashboardAPIHandler),
    ]


async def restore_points_status(ctx: "ServiceContext") -> dict:
    """The restore points' state (last check, last point), {} when the sidecar is absent or down."""
    client = ctx.exports()
    if client is None:
        return {}
    try:
        return (await asyncio.wait_for(client.points(status_only=True), 5)).get("status") or {}
    except Exception:  # sidecar down: the export warning above already says so
        return {}
