"""End-to-end under Compose v2 (`docker compose`); test_e2e_deployment.py runs under v1.

The same compose file, with v2's own rules (it creates only the volumes a service uses, names
containers with '-'): the hub answers, the first admin logs in, an import goes through the
service, an export goes through the sidecar, and the sidecar keeps its isolation.
"""
import json
import secrets

from e2e_stack import HubUser
from test_e2e_deployment import (test_hub_container_has_no_docker_socket,  # noqa: F401 (run here too)
                                 test_no_sidecar_port_is_reachable_from_the_host,
                                 test_sidecar_runs_without_privileges)

COMPOSE = "v2"
PASSWORD = "Given-" + secrets.token_urlsafe(12)
STACK_ENV = {"JHUB_ADMIN_PASSWORD": PASSWORD}


def test_admin_imports_and_exports_under_compose_v2(stack):
    assert stack.compose("version").stdout.startswith("Docker Compose version v2"), stack.compose_cmd
    admin = HubUser(stack, "admin", PASSWORD)
    assert admin.login()
    admin.make_token()
    r = admin.api("POST", "/services/jhub-admin/api/imports", data="v2eleve;V2-Passw0rd-42;\n".encode())
    assert r.status_code in (200, 202), r.text
    job = admin.api("GET", f"/services/jhub-admin/api/jobs/{r.json()['id']}?wait=60").json()
    assert job["state"] == "done", job
    assert stack.exec("hub", "id", "-u", "v2eleve").stdout.strip().isdigit()

    export = json.loads(stack.exec("hub", "jhub-admin", "exports", "--json", "create", "home").stdout)
    assert export["state"] == "done", export
    archives = json.loads(stack.exec("hub", "jhub-admin", "exports", "--json", "list").stdout)
    assert [a["sha256"] for a in archives] == [export["result"]["sha256"]]
    volumes = stack.compose("config", "--volumes").stdout.split()
    assert set(volumes) == {"jh_home", "jh_exchange", "jh_data", "jh_backups", "jh_secrets", "jh_kernel", "jh_keys"}


def test_full_restore_waits_for_the_hub_to_stop(stack):
    """The procedure of docs/exports.md: refused under the running hub; done from a one-off
    container while the hub is stopped; the hub starts again on the restored data."""
    full = json.loads(stack.exec("hub", "jhub-admin", "exports", "--json", "create", "all").stdout)["result"]
    refused = stack.exec("hub", "jhub-admin", "exports", "restore", full["name"], "--sha256", full["sha256"],
                         check=False)
    assert refused.returncode != 0 and "docker compose stop hub" in refused.stdout + refused.stderr

    stack.compose("stop", "hub")
    run = stack.compose("run", "--rm", "--no-deps", "-T", "hub", "jhub-admin", "exports", "--json", "restore",
                        full["name"], "--sha256", full["sha256"])
    job = json.loads(run.stdout)
    assert job["state"] == "done" and job["result"]["restored"] == ["home", "exchange", "data"], job
    stack.compose("start", "hub")
    stack.wait_for_hub()
    assert HubUser(stack, "admin", PASSWORD).login()
    assert stack.exec("hub", "id", "-u", "v2eleve").stdout.strip().isdigit()


def test_everything_comes_back_from_a_restore_point_with_the_hub_stopped(stack):
    """Issue 24: the whole of the volumes from a restore point, by the documented procedure (as
    for an archive): refused under the running hub, done from a one-off container while the hub
    is stopped, after a safety export; the hub starts again on the point's data."""
    def points(*args, **kw):
        return stack.exec("hub", "jhub-admin", "points", *args, **kw)

    assert "shown this once" in points("enable").stdout
    made = json.loads(points("--json", "make").stdout)
    assert made["state"] == "done", made
    code = made["result"]["point"]
    stack.exec("hub", "bash", "-c", "echo after > /srv/nbgrader/exchange/after-the-point.txt")
    refused = points("restore-volumes", code, "--confirm", code, check=False)
    assert refused.returncode != 0 and "docker compose stop hub" in refused.stdout + refused.stderr
    assert f"points restore-volumes {code} --confirm {code}" in refused.stdout + refused.stderr

    stack.compose("stop", "hub")
    run = stack.compose("run", "--rm", "--no-deps", "-T", "hub", "jhub-admin", "points", "--json",
                        "restore-volumes", code, "--confirm", code)
    job = json.loads(run.stdout)
    assert job["state"] == "done" and job["result"]["restored"] == ["home", "exchange", "data"], job
    assert job["result"]["safety_archive"]
    stack.compose("start", "hub")
    stack.wait_for_hub()
    assert HubUser(stack, "admin", PASSWORD).login()
    assert stack.exec("hub", "test", "-e", "/srv/nbgrader/exchange/after-the-point.txt", check=False).returncode == 1
