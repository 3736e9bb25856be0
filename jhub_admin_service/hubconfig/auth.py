"""Who logs in, and how."""
import os

from ..classroom import limits
from .site import Site


def authenticator(c, site: Site) -> None:
    """The school's ENT (ent/authenticator.py: OpenID Connect or entcore's OAuth2, set on the
    Settings page, off until then) and PAM on local accounts, on one login page. Only users present in the hub (created by jhub-admin through the
    REST API, or the first admin) may log in, so a system account with a password can never open
    a server; disabling an account removes it from the hub. LocalAccountsAuthenticator is PAM with
    wrong passwords limited per account and computer, through a PAM stack without PAM's own
    failure delay (docker/pam.d/jupyterhub)."""
    c.JupyterHub.authenticator_class = "jhub_admin_service.ent.authenticator.EntAuthenticator"
    c.EntAuthenticator.preferences_path = limits.preferences_path(site.data_dir)
    c.Authenticator.allow_existing_users = True
    c.Authenticator.admin_users = {site.env("JHUB_ADMIN_USER", "admin")}
    c.PAMAuthenticator.open_sessions = False
    if os.path.exists("/etc/pam.d/jupyterhub"):
        c.PAMAuthenticator.service = "jupyterhub"
