"""The ENT page: logging in with the school's ENT set up (the protocol, the addresses the ENT's
administrator asks for, the local password kept or not), tested, and its identities matched.

The hub's authenticator (ent/authenticator.py) reads the settings at each login, so a change
here applies at once. Links and refused identities live in the registry (ent/links.py).
"""
from jupyterhub.utils import url_path_join
from tornado.httputil import url_concat

from ..ent.identity import identity_from_json
from ..ent.links import EntLinks, LinkRefused
from .base import BaseHandler
from .i18n import N_
from .preferences import PreferenceRefused

NAV = [{"key": "ent", "label": N_("ENT login"), "path": "ent", "order": 65}]
#: Why an ENT identity is refused (ent/matching.py), as the admin reads it.
REASONS = {"no_account": N_("no account carries its identifiers"),
           "several_accounts": N_("several accounts carry its identifier"),
           "wrong_role": N_("a pupil's identity for a staff account, or the reverse"),
           "not_pupil_or_staff": N_("neither a pupil nor staff (a parent, a guest)"),
           "other_school": N_("another school (UAI)"), "disabled": N_("the account is disabled"),
           "linked_to_another": N_("the account is linked to another ENT identity")}
FIELDS = ("family", "name", "url", "client_id", "client_secret", "uai", "scopes", "cas_version", "id_field",
          "type_field")


class EntBase(BaseHandler):
    nav_key = "ent"

    @property
    def links(self) -> EntLinks:
        return self.ctx.ent_links()

    def done(self, message: str, level: str = "success") -> None:
        self.flash(message, level)
        self.redirect(self.url("ent"), status=303)


class EntHandler(EntBase):
    def get(self) -> None:
        self.show()

    def show(self, error: str = None, values: dict = None) -> None:
        config = self.ctx.preferences.ent()
        hub = url_path_join(self.slip_address(), "hub/")
        accounts = self.ctx.reader.by_login()
        self.render_page("ent.html", config=config, values=values or config.to_json(with_secret=False), error=error,
                         callback_url=hub + ("cas_callback" if config.family == "cas" else "oauth_callback"),
                         login_url=hub + "login",
                         test_url=url_concat(self.ctx.hub_prefix + ("cas_login" if config.family == "cas"
                                                                    else "oauth_login"),
                                             {"next": url_path_join(self.prefix, "ent/tested")}),
                         last_test=self.links.last_test(), unmatched=self.links.unmatched(),
                         linked=sorted(self.links.by_login().values(), key=lambda link: link.login),
                         accounts=accounts, REASONS=REASONS)

    def post(self) -> None:
        values = {name: self.get_body_argument(name, "") for name in FIELDS}
        values["local_roles"] = self.get_body_arguments("local_roles")
        try:
            config = self.ctx.preferences.set_ent(**values)
        except PreferenceRefused as exc:
            self.set_status(400)
            self.show(error=self.engine_text(exc), values={**values, "client_secret": ""})
            return
        self.done(self._("Logging in with %(ent)s is on.") % {"ent": config.name} if config.enabled
                  else self._("Logging in with the ENT is off."))


class EntTestedHandler(EntBase):
    """Where the hub sends the admin back after a Test login (the page shows its answer)."""

    def get(self) -> None:
        self.redirect(self.url("ent") + "#jha-ent-test", status=303)


class EntLinkHandler(EntBase):
    def post(self) -> None:
        subject, login = self.get_body_argument("subject"), self.get_body_argument("login", "").strip().lower()
        refused = self.links.unmatched_one(subject)
        if refused is None:
            return self.done(self._("This ENT identity is no longer waiting."), "warning")
        try:
            self.links.link(identity_from_json(refused.identity), login)
        except LinkRefused as exc:
            message = (self._("A pupil's ENT identity never opens a teacher's or an admin's account.")
                       if str(exc) == "wrong_role" else self._("There is no account %(login)s.") % {"login": login})
            return self.done(message, "danger")
        self.done(self._("%(name)s now logs in with the ENT as %(login)s.")
                  % {"name": refused.identity.get("first_name") or subject, "login": login})


class EntUnlinkHandler(EntBase):
    def post(self) -> None:
        login = self.get_body_argument("login")
        self.links.unlink(login)
        self.flash(self._("%(login)s is no longer linked to an ENT identity: its next ENT login links it again "
                          "by its identifier.") % {"login": login})
        self.redirect(self.back_to("next", self.url("ent")), status=303)  # back to the account's page


class EntForgetHandler(EntBase):
    def post(self) -> None:
        self.links.forget(self.get_body_argument("subject"))
        self.done(self._("The ENT identity is forgotten (it comes back if it logs in again)."))


def routes(prefix: str) -> list:
    return [(url_path_join(prefix, "ent"), EntHandler),
            (url_path_join(prefix, "ent/tested"), EntTestedHandler),
            (url_path_join(prefix, "ent/link"), EntLinkHandler),
            (url_path_join(prefix, "ent/unlink"), EntUnlinkHandler),
            (url_path_join(prefix, "ent/forget"), EntForgetHandler)]
