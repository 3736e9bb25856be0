"""The hub's own pages in French and English, following the browser as the admin service does.

``configure(c)`` from jupyterhub_config.py puts ``templates/`` first on JupyterHub's template
path. Each template there extends JupyterHub's own (``{% extends "templates/login.html" %}``, the
prefix JupyterHub gives its default templates) and replaces only the blocks that hold words, so
an upgrade of JupyterHub keeps everything else. The words come from the admin service's gettext
catalogues (msgids in English), through the Jinja function ``_`` (``translations.py``).

It also names the admin service in the Services menu for people ("Administration"), and its
login page says why a login was refused when the authenticator (authenticator.py) tells it:
too many wrong passwords, or a disabled account's right password. A pupil's first login leads
to the password page. The hub's own Users page sends admins to the service's Accounts page,
where the registry, the homes and the hub users change together.
"""
import os

from jupyterhub.utils import url_path_join

from ..service.i18n import N_
from ..service.isolation import PagesForTabsOnly
from .page_source import PageLanguage
from ..settings import AdminSettings

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
#: How the Services menu names each service (an English msgid, translated on the page).
SERVICE_LABELS = {"jhub-admin": N_("Administration"), "jhub-password": N_("Change my password"),
                  "jhub-class": N_("My class")}


def configure(c, settings: AdminSettings = None) -> None:
    """Call from jupyterhub_config.py: ``hubpages.configure(c)``."""
    settings = settings or AdminSettings()
    c.JupyterHub.template_paths = [TEMPLATES, *list(c.JupyterHub.get("template_paths", []))]
    options = dict(c.JupyterHub.get("jinja_environment_options", {}))
    options["extensions"] = [*options.get("extensions", []), "jhub_admin_service.hubpages.translations.HubTranslations",
                             "jhub_admin_service.hubpages.authenticator.LoginRefusal",
                             "jhub_admin_service.ent.authenticator.EntLoginChoice"]
    c.JupyterHub.jinja_environment_options = options
    c.LocalAccountsAuthenticator.registry_path = settings.registry_path
    c.LocalAccountsAuthenticator.password_page_url = url_path_join(settings.hub_base_url, "services/jhub-password/")
    c.EntAuthenticator.test_result_url = url_path_join(settings.hub_base_url, "services/jhub-admin/ent/tested")
    template_vars = dict(c.JupyterHub.get("template_vars", {}))
    admin_service = url_path_join(settings.hub_base_url, "services/jhub-admin/")
    template_vars.update(service_labels=SERVICE_LABELS, accounts_page=admin_service + "accounts",
                         servers_page=admin_service + "servers")
    c.JupyterHub.template_vars = template_vars
    isolate_pages(c)
    # The page's lang and <noscript> sentence, outside JupyterHub's template blocks (page_source.py).
    tornado_settings = dict(c.JupyterHub.get("tornado_settings", {}))
    tornado_settings["transforms"] = [*tornado_settings.get("transforms", []), PageLanguage]
    c.JupyterHub.tornado_settings = tornado_settings


def isolate_pages(c) -> None:
    """Users' servers share the hub's origin (a school has one name, no wildcard for subdomains),
    so a page that a student's server sends runs with the cookies of whoever opens it, an admin
    too. The hub's XSRF cookie is therefore not readable by scripts (the hub's own pages take the
    token from the page), a hub page opened by another page is cut off from it (frames are
    already refused by the hub's default Content-Security-Policy), and no script reads a hub page
    (see service/isolation.py, which the admin service follows too)."""
    tornado_settings = dict(c.JupyterHub.get("tornado_settings", {}))
    headers = dict(tornado_settings.get("headers", {}))
    headers.update({"Cross-Origin-Opener-Policy": "same-origin", "X-Frame-Options": "DENY"})
    tornado_settings["headers"] = headers
    tornado_settings["xsrf_cookie_kwargs"] = {**tornado_settings.get("xsrf_cookie_kwargs", {}), "httponly": True}
    # JupyterHub passes its tornado_settings to tornado's Application, whose `transforms` they set.
    tornado_settings["transforms"] = [*tornado_settings.get("transforms", []), PagesForTabsOnly]
    c.JupyterHub.tornado_settings = tornado_settings
