"""The hub's own pages in French and English, following the browser as the admin service does.

``configure(c)`` from jupyterhub_config.py puts ``templates/`` first on JupyterHub's template
path. Each template there extends JupyterHub's own (``{% extends "templates/login.html" %}``, the
prefix JupyterHub gives its default templates) and replaces only the blocks that hold words, so
an upgrade of JupyterHub keeps everything else. The words come from the admin service's gettext
catalogues (msgids in English), through the Jinja function ``_`` (``translations.py``).

It also names the admin service in the Services menu for people ("Administration") and tells a
student whose account is disabled that it is, instead of "Invalid username or password".
"""
import os
from typing import Callable

from ..accounts.registry import Registry
from ..service.i18n import N_
from ..service.isolation import PagesForTabsOnly
from ..settings import AdminSettings

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
#: How the Services menu names each service (an English msgid, translated on the page).
SERVICE_LABELS = {"jhub-admin": N_("Administration"), "jhub-password": N_("Change my password"),
                  "jhub-class": N_("My class")}


def disabled_checker(settings: AdminSettings) -> Callable[[str], bool]:
    """is_disabled(login): whether the registry holds login as a disabled account."""
    def is_disabled(login: str) -> bool:
        if not login or not os.path.exists(settings.registry_path):
            return False
        registry = Registry(settings.registry_path, readonly=True)
        try:
            account = registry.get(login.strip().lower())
        except Exception:  # noqa: BLE001 (a locked or damaged registry: the plain message)
            return False
        finally:
            registry.close()
        return bool(account and account.disabled)
    return is_disabled


def configure(c, settings: AdminSettings = None) -> None:
    """Call from jupyterhub_config.py: ``hubpages.configure(c)``."""
    settings = settings or AdminSettings()
    c.JupyterHub.template_paths = [TEMPLATES, *list(c.JupyterHub.get("template_paths", []))]
    options = dict(c.JupyterHub.get("jinja_environment_options", {}))
    options["extensions"] = [*options.get("extensions", []), "jhub_admin_service.hubpages.translations.HubTranslations"]
    c.JupyterHub.jinja_environment_options = options
    is_disabled = disabled_checker(settings)
    template_vars = dict(c.JupyterHub.get("template_vars", {}))
    # JupyterHub calls a callable value with the page's user; these are the same for everyone.
    template_vars.update(account_disabled=lambda user: is_disabled, service_labels=SERVICE_LABELS)
    c.JupyterHub.template_vars = template_vars
    isolate_pages(c)


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
