"""JupyterHub configuration for a school server (the image uses this file as it is).

PAM logins on local accounts, one local process per user, Notebook 7 / JupyterLab 4, the
admin-only jhub-admin service, "Change my password", "My class", the idle culler and the guard.
Each part is a function of jhub_admin_service/hubconfig/, which tests call on a bare
configuration. Everything site-specific comes from environment variables, or from the school's
own file (``jupyterhub_site_config.py`` on the data volume, never overwritten by upgrades), whose
settings win, ``c.AdminSettings.*`` included: those reach every process of the product.
"""
import os

from jhub_admin_service import hubconfig

c = get_config()  # noqa: F821 (injected by JupyterHub)

site = hubconfig.configure(c)
if os.path.exists(site.site_config):
    load_subconfig(site.site_config)  # noqa: F821 (injected by JupyterHub)
hubconfig.settle(c, site)
