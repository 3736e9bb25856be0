"""The school year page: who leaves at its end, and what is kept of those who left (the ZIP of
their own work, to hand over, until it expires: personal data has an end)."""
import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import quote

from jupyterhub.utils import url_path_join
from tornado import ioloop, web

from ..accounts import handover
from .base import BaseHandler
from .i18n import N_

if TYPE_CHECKING:
    from .context import ServiceContext

log = logging.getLogger(__name__)
NAV = [{"key": "year", "label": N_("School year"), "path": "year", "order": 55}]
SWEEP_EVERY_MS = 6 * 3600 * 1000  # expired ZIPs go within a quarter of a day


def handovers(ctx: "ServiceContext") -> list:
    return handover.listed(ctx.settings.handover_dir, ctx.settings.handover_days)


class YearHandler(BaseHandler):
    nav_key = "year"

    def get(self) -> None:
        leaving = [a for a in self.ctx.reader.accounts() if a.leaving]
        self.render_page("year.html", leaving=leaving, handovers=handovers(self.ctx),
                         keep_days=self.ctx.settings.handover_days)


class HandoverHandler(BaseHandler):
    """GET year/handover/NAME: one ZIP, as a download (only a name that the list holds)."""

    async def get(self, name: str) -> None:
        if name not in {h.name for h in handovers(self.ctx)}:
            raise web.HTTPError(404)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("Cache-Control", "no-store")
        with open(os.path.join(self.ctx.settings.handover_dir, name), "rb") as f:
            while chunk := f.read(1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()


async def startup(ctx: "ServiceContext") -> None:
    """Delete the ZIPs past their time, now and a few times a day, even when nobody opens a page."""
    def sweep():
        for name in handover.delete_expired(ctx.settings.handover_dir, ctx.settings.handover_days):
            log.info("handover %s deleted: kept %d days", name, ctx.settings.handover_days)

    sweep()
    ctx.handover_sweeper = ioloop.PeriodicCallback(sweep, SWEEP_EVERY_MS)
    ctx.handover_sweeper.start()


def routes(prefix: str) -> list:
    return [
        (url_path_join(prefix, "year"), YearHandler),
        (url_path_join(prefix, "year/handover/") + r"(?P<name>[^/]+)", HandoverHandler),
    ]
