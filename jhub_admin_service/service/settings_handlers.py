"""Settings: the hub's address printed on credential slips (the browser's, unless set here), the
size above which a home is pointed out, each role's memory and process limits, and whether the
ENT login is on (set up on its own page, ent_handlers.py)."""
from jupyterhub.utils import url_path_join

from .base import BaseHandler
from .i18n import N_
from .preferences import PreferenceRefused, only_on_this_machine

NAV = [{"key": "settings", "label": N_("Settings"), "path": "settings", "order": 70}]


class SettingsHandler(BaseHandler):
    nav_key = "settings"

    def get(self) -> None:
        self.show()

    def show(self, error: str = None, value: str = None) -> None:
        address = self.slip_address()
        self.render_page("settings.html", address=address, local_only=only_on_this_machine(address),
                         browser_address=self.browser_address(), error=error,
                         value=self.ctx.preferences.public_url() or "" if value is None else value,
                         from_environment=bool(self.ctx.settings.hub_public_url),
                         home_warning_mb=self.ctx.preferences.home_warning_bytes() // (1024 * 1024),
                         limits=self.ctx.preferences.limits(), ent=self.ctx.preferences.ent())

    def post(self) -> None:
        value = self.get_body_argument("public_url", "")
        home_warning_mb = self.get_body_argument("home_warning_mb", None)
        role = self.get_body_argument("limits_role", None)
        try:
            if role is not None:
                self.ctx.preferences.set_limits(role, self.get_body_argument("memory_mb", ""),
                                                self.get_body_argument("processes", ""))
            elif home_warning_mb is not None:
                self.ctx.preferences.set_home_warning_mb(home_warning_mb)
            else:
                self.ctx.preferences.set_public_url(value)
        except PreferenceRefused as exc:
            self.set_status(400)
            self.show(error=self.engine_text(exc), value=value)
            return
        self.flash(self._("Settings saved."))
        self.redirect(self.back_to("next", self.url("settings")), status=303)  # back to the slips


def routes(prefix: str) -> list:
    return [(url_path_join(prefix, "settings"), SettingsHandler)]
