"""The hub's configuration built by its functions on a bare traitlets Config (issue 25's shape),
and the product's settings handed from the hub's configuration to every other process."""
import json
import os
import stat
import subprocess
import sys

import pytest
from traitlets.config import Config

from jhub_admin_service import hubconfig
from jhub_admin_service.settings import SETTINGS_FILE

PRODUCT_SERVICES = ["jhub-admin", "jhub-password", "jhub-class"]


@pytest.fixture
def environ(tmp_path):
    # Everything the configuration writes lands under tmp_path (nbgrader's profiles too).
    return {"JHUB_DATA_DIR": str(tmp_path / "data"), "JHUB_ADMIN_USER": "prof.admin", "JHUB_GUARD": "0",
            "JHUB_JUPYTER_PROFILES": str(tmp_path / "profiles"),
            "PATH": "/opt/jhub-admin/node/bin:/usr/bin:/bin", "JHUB_ADMIN_SIDECAR_URL": "http://sidecar:8750"}


def test_the_local_password_hub_built_on_a_bare_configuration(environ, tmp_path):
    c = Config()
    site = hubconfig.configure(c, environ)
    hubconfig.settle(c, site)
    data = tmp_path / "data"
    # Login: PAM on the local accounts that jhub-admin made, the first admin named by the environment;
    # the school's ENT beside it once the ENT page sets it (test below).
    assert c.JupyterHub.authenticator_class.endswith("ent.authenticator.EntAuthenticator")
    assert c.EntAuthenticator.preferences_path == str(data / "jhub-admin-preferences.json")
    assert c.Authenticator.admin_users == {"prof.admin"} and c.Authenticator.allow_existing_users
    assert c.LocalAccountsAuthenticator.registry_path == str(data / "jhub-admin.sqlite")
    assert c.LocalAccountsAuthenticator.password_page_url == "/services/jhub-password/"
    # State on the data volume.
    assert c.JupyterHub.db_url == f"sqlite:///{data}/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == str(data / "jupyterhub_cookie_secret")
    # One local process per user; node is not on the users' path.
    assert c.JupyterHub.spawner_class.endswith("ClassroomSpawner")
    assert c.Spawner.default_url == "/lab" and "/opt/jhub-admin/node/bin" not in c.Spawner.environment["PATH"]
    assert c.ClassroomSpawner.preferences_path == str(data / "jhub-admin-preferences.json")
    assert callable(c.Spawner.pre_spawn_hook)  # nbgrader's profiles (courses/hub_hooks.py)
    assert (tmp_path / "profiles" / "teacher").is_dir() and not os.path.exists("/etc/jupyter/jhub-admin")
    # The services, each of the product's reading the settings file; no guard when JHUB_GUARD=0.
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert list(services) == [*PRODUCT_SERVICES, "idle-culler"]
    for name in PRODUCT_SERVICES:
        assert services[name]["environment"]["JHUB_ADMIN_SETTINGS_FILE"] == site.settings_file
        assert services[name]["environment"]["JHUB_ADMIN_SIDECAR_URL"] == "http://sidecar:8750"
    token = data / "jhub-admin-api-token"
    assert services["jhub-admin"]["api_token"] == token.read_text().strip()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    # Roles: the admin service holds admin; "My class" only students' servers; users change their password.
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["admin"]["services"] == ["jhub-admin"]
    assert all(scope.endswith("!group=students") for scope in roles["jhub-class"]["scopes"])
    assert "access:services!service=jhub-password" in roles["user"]["scopes"]

    guarded = Config()
    hubconfig.configure(guarded, {**environ, "JHUB_GUARD": "1"})
    assert guarded.JupyterHub.services[-1]["name"] == "jhub-guard"


def test_the_site_s_admin_settings_reach_the_hub_s_pages_the_services_and_the_cli(environ, tmp_path, monkeypatch):
    """c.AdminSettings in the site's file used to reach no process that built its own settings."""
    c = Config()
    site = hubconfig.configure(c, environ)
    # What a school puts in jupyterhub_site_config.py, read after the product's configuration.
    registry = str(tmp_path / "elsewhere" / "registry.sqlite")
    c.AdminSettings.registry_path = registry
    c.AdminSettings.handover_days = 30
    c.AdminSettings.hub_public_url = "https://jupyter.lycee-exemple.fr"
    hubconfig.settle(c, site)
    assert c.LocalAccountsAuthenticator.registry_path == registry  # the hub's own login page
    path = tmp_path / "data" / SETTINGS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["handover_days"] == 30

    # A service started by the hub, with the environment that the hub gives it.
    env = {**os.environ, **c.JupyterHub.services[0]["environment"]}
    env.pop("JHUB_ADMIN_REGISTRY", None)
    probe = ("from jhub_admin_service.cli.common import settings_from\n"
             "import argparse\ns = settings_from(argparse.Namespace())\n"
             "print(s.registry_path, s.handover_days, s.hub_public_url)")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [registry, "30", "https://jupyter.lycee-exemple.fr"]

    # The admin service's application, as it starts (its own command line would still win).
    from jhub_admin_service.service.app import AdminService

    monkeypatch.setenv("JHUB_ADMIN_SETTINGS_FILE", str(path))
    service = AdminService()
    assert (service.settings.registry_path, service.settings.handover_days) == (registry, 30)
    service = AdminService(config=Config({"AdminSettings": {"handover_days": 7}}))
    assert (service.settings.registry_path, service.settings.handover_days) == (registry, 7)


async def test_the_ent_hub_built_on_a_bare_configuration(environ, tmp_path):
    """The same configuration: the ENT is off until the ENT page's settings say otherwise, and then
    on at the next login, without a restart (the authenticator reads them at each login)."""
    from jhub_admin_service.ent.authenticator import EntAuthenticator
    from jhub_admin_service.service.preferences import Preferences

    c = Config()
    hubconfig.settle(c, hubconfig.configure(c, environ))
    authenticator = EntAuthenticator(config=c)
    assert authenticator.login_url("/hub/") == "/hub/login"  # the page with both ways in
    assert authenticator.login_choice() == {} and not authenticator.ent().enabled
    assert authenticator.local.registry_path == str(tmp_path / "data" / "jhub-admin.sqlite")
    assert authenticator.test_result_url == "/services/jhub-admin/ent/tested"

    preferences = Preferences(c.EntAuthenticator.preferences_path)
    preferences.set_ent(family="entcore", name="MonLycée.net", url="https://ent.monlycee.net/", client_id="jupyter",
                        client_secret="s3cret", uai="0751234A", local_roles=["teacher"])
    preferences.set_public_url("https://jupyter.lycee.fr")
    assert authenticator.login_choice("/hub/spawn") == {
        "name": "MonLycée.net", "url": "oauth_login?next=%2Fhub%2Fspawn", "local_roles": ["teacher"],
        "session_open": False}
    await authenticator.ready()
    assert (authenticator.authorize_url, authenticator.token_url, authenticator.userdata_url) == (
        "https://ent.monlycee.net/auth/oauth2/auth", "https://ent.monlycee.net/auth/oauth2/token",
        "https://ent.monlycee.net/auth/oauth2/userinfo")
    assert (authenticator.client_id, authenticator.client_secret, authenticator.scope) == ("jupyter", "s3cret", ["userinfo"])
    assert authenticator.basic_auth and authenticator.logout_redirect_url == ""
    assert authenticator.oauth_callback_url == "https://jupyter.lycee.fr/hub/oauth_callback"
    preferences.set_ent(family="")
    assert authenticator.login_choice() == {}
