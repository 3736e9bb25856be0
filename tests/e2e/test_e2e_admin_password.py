"""End-to-end: the first admin's password given by JHUB_ADMIN_PASSWORD.

The password is used as given, never printed, and no password file is written;
the admin's name defaults to "admin".
"""
import secrets

from e2e_stack import HubUser

PASSWORD = "Given-" + secrets.token_urlsafe(12)
STACK_ENV = {"JHUB_ADMIN_PASSWORD": PASSWORD}


def test_first_admin_from_environment(stack):
    admin = HubUser(stack, "admin", PASSWORD)
    assert admin.login(), "the first admin cannot log in with JHUB_ADMIN_PASSWORD"
    admin.make_token()
    assert admin.api("GET", "/hub/api/user").json()["admin"] is True
    logs = stack.logs()
    assert PASSWORD not in logs
    assert "initial password" not in logs
    assert stack.exec("hub", "test", "-e", "/srv/jupyterhub/initial-admin-password", check=False).returncode != 0
    # The password is not in the registry in clear either.
    assert stack.exec("hub", "grep", "-rqF", PASSWORD, "/srv/jupyterhub", check=False).returncode != 0
