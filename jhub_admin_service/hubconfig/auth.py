"""Who logs in, and how."""
import os

from .site import Site


def authenticator(c, site: Site) -> None:
    """PAM on local accounts. Only users present in the hub (created by jhub-admin through the
    REST API, or the first admin) may log in, so a system account with a password can never open
    a server; disabling an account removes it from the hub. LocalAccountsAuthenticator is PAM with
    wrong passwords limited per account and computer, through a PAM stack without PAM's own
    failure delay (docker/pam.d/jupyterhub)."""
    c.JupyterHub.authenticator_class = "jhub_admin_service.hubpages.authenticator.LocalAccountsAuthenticator"
    c.Authenticator.allow_existing_users = True
    c.Authenticator.admin_users = {site.env("JHUB_ADMIN_USER", "admin")}
    c.PAMAuthenticator.open_sessions = False
    if os.path.exists("/etc/pam.d/jupyterhub"):
        c.PAMAuthenticator.service = "jupyterhub"
