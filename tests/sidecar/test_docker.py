"""Real Docker: the sidecar image, a throw-away compose-like project (labelled
volumes, an internal network, the sidecar with the socket and a client
container on that network), and assertions on the real archives."""
import json
import socket

import pytest

pytestmark = pytest.mark.docker


def create(env, target):
    _, job, _ = env.cli("create", target)
    assert job["state"] == "done", job
    return job["result"]


def sidecar_sha256(env, name):
    return env.sidecar_exec("sha256sum /backups/%s" % name).split()[0]


def test_secret_generated_0600(docker_env):
    out = docker_env.sidecar_exec("stat -c '%a %u' /srv/jupyterhub-secrets/sidecar.secret")
    assert out.split() == ["600", "0"]


def test_export_keeps_owners_modes_and_records_sha256(docker_env):
    env = docker_env
    meta = create(env, "all")
    name = meta["name"]
    assert meta["targets"] == ["home", "exchange", "data"]
    assert meta["compression"] == "zstd" and "tar" in meta["tools"] and "zstd" in meta["tools"]
    # size and sha256 recorded == the real file
    assert sidecar_sha256(env, name) == meta["sha256"]
    assert int(env.sidecar_exec("stat -c %%s /backups/%s" % name)) == meta["size"]
    listed = {a["name"]: a for a in env.cli("list")[1]}
    assert listed[name]["sha256"] == meta["sha256"]
    _, res, _ = env.cli("verify", name)
    assert res["ok"] is True
    members = env.archive_members(name)
    assert members["exchange"]["mode"] == 0o1777 and members["exchange"]["dir"]
    assert members["home/alice"]["mode"] == 0o700
    assert members["home/alice"]["uid"] == 1001
    assert members["home/alice/private.txt"]["uid"] == 1001
    assert members["home/alice/private.txt"]["gid"] == 1001
    assert members["home/alice/private.txt"]["mode"] == 0o600
    assert members["home/alice/course1/ps1.ipynb"]["uid"] == 1001
    assert members["home/bob/notes.txt"]["uid"] == 1002
    assert members["exchange/course1/inbound"]["mode"] == 0o733
    assert members["exchange/course1/inbound/alice+ps1+2026.txt"]["uid"] == 1001
    assert members["exchange/course1/outbound"]["uid"] == 1003
    assert members["data/jupyterhub.sqlite"]["mode"] == 0o600
    # atomic write: no temporary file left, metadata next to the archive
    listing = env.sidecar_exec("ls -A /backups").split()
    assert not [f for f in listing if f.startswith(".tmp-")]
    assert name + ".json" in listing
    assert env.sidecar_exec("stat -c %%a /backups/%s" % name).strip() == "600"


def test_download_streams_the_archive(docker_env):
    env = docker_env
    meta = create(env, "exchange")
    _, res, _ = env.cli("download", meta["name"], "-o", "/tmp/dl.tar.zst")
    assert res["sha256"] == meta["sha256"]
    out = env.client_ctr.exec_run(["sha256sum", "/tmp/dl.tar.zst"]).output.decode()
    assert out.split()[0] == meta["sha256"]


def test_restore_one_users_home_brings_back_a_deleted_file(docker_env):
    env = docker_env
    env.run_in_volumes("mkdir -p /v/home/.jhub-restore-stale && touch /v/home/.jhub-restore-stale/x")
    meta = create(env, "home")
    assert not [m for m in env.archive_members(meta["name"]) if ".jhub-restore" in m]
    env.run_in_volumes(
        "rm /v/home/alice/private.txt; echo new > /v/home/alice/new.txt;"
        " echo changed > /v/home/bob/notes.txt")
    code, _, err = env.cli("restore", meta["name"], "--sha256", "0" * 64, "--user", "alice",
                           check=False)
    assert code == 1 and "sha256" in err
    _, job, _ = env.cli("restore", meta["name"], "--sha256", meta["sha256"], "--user", "alice")
    assert job["state"] == "done", job
    assert job["result"]["restored"] == ["home/alice"]
    out = env.run_in_volumes(
        "stat -c '%u %g %a' /v/home/alice/private.txt /v/home/alice;"
        " cat /v/home/alice/private.txt; test ! -e /v/home/alice/new.txt && echo NEW-GONE;"
        " cat /v/home/bob/notes.txt; ls -A /v/home")
    lines = out.split("\n")
    assert lines[0] == "1001 1001 600"
    assert lines[1] == "1001 1001 700"
    assert lines[2] == "only alice may read this"
    assert "NEW-GONE" in out
    assert "changed" in out  # other users untouched
    assert ".jhub-restore" not in out  # staging directory removed
    # the safety export was taken first and holds the state before the restore
    safety = job["result"]["safety_archive"]
    smeta = env.cli("list")[1]
    smeta = {a["name"]: a for a in smeta}[safety]
    assert smeta["kind"] == "safety" and smeta["created_ts"] > meta["created_ts"]
    members = env.archive_members(safety)
    assert "home/alice/new.txt" in members and "home/alice/private.txt" not in members
    env.run_in_volumes("echo bob > /v/home/bob/notes.txt; chown 1002:1002 /v/home/bob/notes.txt")


def test_full_restore_takes_a_safety_export_first(docker_env):
    env = docker_env
    meta = create(env, "exchange")
    env.run_in_volumes("echo extra > /v/exchange/extra.txt; chmod 0755 /v/exchange;"
                       " rm -r /v/exchange/course1/inbound")
    before = {a["name"] for a in env.cli("list")[1]}
    _, job, _ = env.cli("restore", meta["name"], "--sha256", meta["sha256"])
    assert job["state"] == "done", job
    assert job["result"]["restored"] == ["exchange"]
    out = env.run_in_volumes(
        "stat -c '%a %u' /v/exchange; test ! -e /v/exchange/extra.txt && echo EXTRA-GONE;"
        " stat -c '%u %a' /v/exchange/course1/inbound/alice+ps1+2026.txt"
        " /v/exchange/course1/inbound; ls -A /v/exchange")
    lines = out.split("\n")
    assert lines[0] == "1777 0"
    assert "EXTRA-GONE" in out
    assert lines[2].split()[0] == "1001"
    assert lines[3] == "0 733"
    assert ".jhub-restore" not in out
    safety = job["result"]["safety_archive"]
    assert safety not in before
    members = env.archive_members(safety)
    assert "exchange/extra.txt" in members and members["exchange"]["mode"] == 0o755


def test_refusals(docker_env):
    env = docker_env
    meta = create(env, "data")
    name = meta["name"]
    for secret in (None, "wrong-secret-" + "x" * 40, ""):
        status, _ = env.http("GET", "/api/archives", secret=secret)
        assert status == 401
        status, _ = env.http("POST", "/api/exports", {"target": "all"}, secret=secret)
        assert status == 401
        status, _ = env.http("GET", "/api/archives/%s/download" % name, secret=secret)
        assert status == 401
    status, body = env.http("POST", "/api/exports", {"target": "etc"})
    assert status == 400 and "target" in body
    status, _ = env.http("POST", "/api/exports", {"target": "all", "image": "alpine:latest",
                                                  "binds": ["/:/host"]})
    assert status == 400
    for path in ("/api/archives/..%2F..%2Fetc%2Fpasswd/download",
                 "/api/archives/a%2Fb/verify",
                 "/api/archives/../../etc/passwd",
                 "/api/archives/..",
                 "/api/archives/.settings.json",
                 "/api/archives/%s%%2F..%%2F..%%2Fsecret" % name):
        for method in ("GET", "DELETE", "POST"):
            status, body = env.http(method, path)
            assert status in (400, 404, 405), (method, path, status, body)
    status, body = env.http("POST", "/api/archives/%s/restore" % name, {"sha256": "f" * 64})
    assert status == 400
    status, body = env.http("POST", "/api/archives/%s/restore" % name,
                            {"sha256": meta["sha256"], "user": "../root"})
    assert status == 400
    status, _ = env.http("POST", "/api/exports", raw_body=200_000)
    assert status in (0, 400, 413)
    # nothing was deleted by any of this
    assert name in {a["name"] for a in env.cli("list")[1]}
    assert "refused" in env.logs()


def test_no_port_reachable_from_host(docker_env):
    env = docker_env
    env.sidecar.reload()
    ports = env.sidecar.attrs["NetworkSettings"]["Ports"] or {}
    assert all(not bindings for bindings in ports.values()), ports
    assert not env.sidecar.attrs["HostConfig"].get("PortBindings")
    net = env.client.networks.get(env.network.id)
    assert net.attrs["Internal"] is True
    for host in ["127.0.0.1", "::1"] + host_addresses():
        try:
            with socket.create_connection((host, 8750), timeout=2):
                pytest.fail("port 8750 answers on the host (%s)" % host)
        except OSError:
            pass
    # The host's root can still route to the container's address on the
    # internal bridge (as it can use the Docker socket anyway): there, the
    # secret is what protects the sidecar.
    ip = next(iter(env.sidecar.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    try:
        import http.client

        c = http.client.HTTPConnection(ip, 8750, timeout=3)
        c.request("POST", "/api/exports", body=b'{"target": "all"}')
        assert c.getresponse().status == 401
    except OSError:
        pass  # not routable at all: even better


def host_addresses():
    """The host's own addresses, outside Docker's bridges."""
    import subprocess

    try:
        out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True).stdout
        data = json.loads(out or "[]")
    except (OSError, ValueError):
        return []
    addrs = []
    for iface in data:
        name = iface.get("ifname", "")
        if name.startswith(("br-", "docker", "veth")):
            continue
        for a in iface.get("addr_info", []):
            if a.get("scope") == "global":
                addrs.append(a["local"])
    return addrs


def test_sidecar_refuses_bind_volumes(docker_env):
    env = docker_env
    project = env.project + "b"
    env.create_volume("jh_home", project=project,
                      driver_opts={"type": "none", "o": "bind", "device": "/etc"})
    for key in ("jh_exchange", "jh_data", "jh_backups"):
        env.create_volume(key, project=project)
    env.start_sidecar("%s_sidecar" % project, project, alias="sidecar-bind",
                      backups_volume="%s_jh_backups" % project)
    env.wait_healthy("sidecar-bind")
    status, body = env.http("GET", "/api/info", host="sidecar-bind")
    assert status == 409 and "bind or device" in body, body
    # refused before any job (the room for it is measured on the discovered volumes)
    status, body = env.http("POST", "/api/exports", {"target": "home"}, host="sidecar-bind")
    assert status == 409 and "bind or device" in body, body
    helpers = env.client.containers.list(
        all=True, filters={"label": "org.jhub-admin.project=%s" % project})
    assert helpers == []


def test_prune_keeps_the_newest_of_each_target(docker_env):
    """Retention counts per target, safety exports apart (issue: seven safety exports of one home
    once pushed out every archive of everything)."""
    env = docker_env
    create(env, "home")
    create(env, "data")
    newest = {}
    for a in env.cli("list")[1]:  # newest first
        newest.setdefault((a["target"], a.get("kind") == "safety"), a["name"])
    assert len(newest) > 1
    _, res, _ = env.cli("prune", "--keep", "1")
    assert sorted(res["kept"]) == sorted(newest.values())
    assert sorted(a["name"] for a in env.cli("list")[1]) == sorted(res["kept"])


def test_helpers_removed_and_labelled(docker_env):
    env = docker_env
    left = env.client.containers.list(
        all=True, filters={"label": "org.jhub-admin.sidecar-helper=1"})
    assert [c for c in left if c.labels.get("org.jhub-admin.project") == env.project] == []
    assert "helper" in env.logs() and "created (export)" in env.logs()


def test_restore_of_a_user_absent_from_the_archive_changes_nothing(docker_env):
    env = docker_env
    meta = create(env, "home")
    before = env.run_in_volumes("ls -lnA /v/home")
    code, job, _ = env.cli("restore", meta["name"], "--sha256", meta["sha256"], "--user", "zed",
                           check=False)
    assert code == 1 and job["state"] == "failed"
    assert "zed" in job["error"]
    assert env.run_in_volumes("ls -lnA /v/home") == before


def test_full_restore_refused_while_a_container_uses_the_volume(docker_env):
    """A stand-in for the running hub mounts home and exchange: a full restore of either is
    refused (409) with how to do it; one user's home may still be restored; a `compose run`
    one-off container (the admin's shell) does not count."""
    env = docker_env
    meta = create(env, "all")
    mounts = {env.vol("jh_home"): {"bind": "/home", "mode": "rw"},
              env.vol("jh_exchange"): {"bind": "/srv/nbgrader/exchange", "mode": "rw"}}

    def start(name, oneoff):
        labels = {**env.labels, "com.docker.compose.service": "hub",
                  "com.docker.compose.oneoff": "True" if oneoff else "False"}
        return env.client.containers.run(env.image, ["sleep", "300"], detach=True, name=name,
                                         labels=labels, network_mode="none", volumes=mounts)

    hub = start(env.prefix + "-hub-1", oneoff=False)
    try:
        code, out, err = env.cli("restore", meta["name"], "--sha256", meta["sha256"], check=False)
        said = err + json.dumps(out)
        assert code != 0, said
        assert "in use by running container(s) %s-hub-1" % env.prefix in said
        assert "docker compose stop hub" in said
        status, body = env.http("POST", "/api/archives/%s/restore" % meta["name"],
                                {"sha256": meta["sha256"], "targets": ["exchange"]})
        refusal = json.loads(body)
        assert status == 409 and refusal["code"] == "volume_in_use"  # for the service's own wording
        assert refusal["detail"]["containers"] == [env.prefix + "-hub-1"]
        _, job, _ = env.cli("restore", meta["name"], "--sha256", meta["sha256"], "--user", "alice")
        assert job["state"] == "done", job
    finally:
        hub.remove(force=True)
    shell = start(env.prefix + "-hub-run-1", oneoff=True)
    try:
        _, job, _ = env.cli("restore", meta["name"], "--sha256", meta["sha256"])
        assert job["state"] == "done" and job["result"]["restored"] == ["home", "exchange", "data"], job
    finally:
        shell.remove(force=True)
