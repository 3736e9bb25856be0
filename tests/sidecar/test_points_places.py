"""Restore points kept elsewhere, against the real sidecar, Docker, restic and rclone: on a second
disk (a host folder mounted in the sidecar alone), in an S3-compatible store (moto's server) and on
an SSH server (Debian's OpenSSH). At each place: a point made and a changed file brought back
beside the current one by helpers that have no network and no host folder (they go through the
sidecar's tunnel), and the repository found at that place, not on the archives volume. Then a
reinstalled server finds its S3 repository again with its key, and an SSH server whose host key
changed is refused."""
import json
import os
import shutil
import tempfile

import pytest

from dockerenv import SidecarEnv, build_image, call

pytestmark = pytest.mark.docker

CAROL = r'''
mkdir -p /v/home/carol/tp
printf 'version 1\n' > /v/home/carol/tp/devoir.py
chown -R 1004:1004 /v/home/carol && chmod 0700 /v/home/carol
'''
SFTP_IMAGE = "jhub-admin-test-sftp:latest"
BUCKET = "jhub-points"


def job(env, status, answer, timeout=300):
    assert status == 202, answer
    return env.wait_job(answer["job"]["id"], timeout=timeout)


def point_then_restore(env):
    """A point, the file changed, the file of the point back beside it: its new name."""
    made = job(env, *call(env, "POST", "/api/points"))
    assert made["state"] == "done", made
    env.run_in_volumes("printf 'broken\\n' > /v/home/carol/tp/devoir.py")
    status, listing = call(env, "GET", "/api/points")
    assert status == 200 and listing["points"][0]["short_id"] == made["result"]["point"], listing
    restored = job(env, *call(env, "POST", f"/api/points/{made['result']['point']}/restore",
                              {"user": "carol", "path": "tp/devoir.py"}))
    assert restored["state"] == "done", restored
    placed = restored["result"]["placed"]
    out = env.run_in_volumes(f"cat /v/home/carol/tp/devoir.py '/v/home/carol/{placed}'; "
                             f"stat -c %u '/v/home/carol/{placed}'; "
                             "rm '/v/home/carol/" + placed + "'; printf 'version 1\\n' > /v/home/carol/tp/devoir.py")
    assert out.split() == ["broken", "version", "1", "1004"], out
    return made["result"]["point"]


def forget_this_server(env):
    """The sidecar's keys' volume emptied, as on a reinstalled server (the place is elsewhere)."""
    env.sidecar_exec("rm -f /srv/sidecar-keys/restore-points*")
    assert call(env, "GET", "/api/points")[1]["status"]["initialised"] is False


def no_repository_on_the_archives_volume(env):
    assert env.sidecar_exec("test -e /backups/restore-points && echo there || echo absent").strip() == "absent"


@pytest.fixture(scope="module")
def env(docker_env):
    try:
        import moto  # noqa: F401  (the S3 test server: test extras)
    except ImportError:
        pytest.skip("moto is not installed (pip install -e '.[test]')")
    build_image(SFTP_IMAGE, "tests/sidecar/sftp/Dockerfile", context=os.path.dirname(__file__) + "/sftp")
    env = SidecarEnv(image=docker_env.image)
    disk = tempfile.mkdtemp(prefix="jhub-points-disk-")
    try:
        egress = env.client.networks.create("%s_egress" % env.prefix, driver="bridge", labels=env.labels)
        env.sidecar_volumes = {disk: {"bind": "/srv/points-disk", "mode": "rw"}}
        env.sidecar_networks = [egress.name]
        env.setup(CAROL)
        site = os.path.dirname(os.path.dirname(moto.__file__))
        env.s3 = env.client.containers.run(
            docker_env.image, ["/usr/bin/python3", "-m", "moto.server", "-H", "0.0.0.0", "-p", "9000"],
            name="%s_s3" % env.prefix, detach=True, labels=env.labels, network=egress.name,
            environment={"PYTHONPATH": "/opt/host-site"}, volumes={site: {"bind": "/opt/host-site", "mode": "ro"}})
        env.sftp = env.client.containers.run(SFTP_IMAGE, name="%s_sftp" % env.prefix, detach=True,
                                             labels=env.labels, network=egress.name)
        for ctr, alias in ((env.s3, "s3"), (env.sftp, "sftp")):
            egress.disconnect(ctr)
            egress.connect(ctr, aliases=[alias])
        env.disk = disk
        env.sidecar_exec("for i in $(seq 100); do python3 -c \"import urllib.request; "
                         "urllib.request.urlopen('http://s3:9000/', timeout=2)\" 2>/dev/null && exit 0; "
                         "sleep 0.2; done; exit 1")
        yield env
    finally:
        env.cleanup()
        shutil.rmtree(disk, ignore_errors=True)


def test_points_on_a_second_disk(env):
    status, answer = call(env, "GET", "/api/points")
    assert answer["status"]["place"]["kind"] == "archives"
    assert answer["status"]["disk_available"] is True and answer["status"]["network_available"] is True
    status, answer = call(env, "POST", "/api/points/enable", {"place": {"kind": "disk"}})
    assert status == 201, answer
    assert answer["place"]["kind"] == "disk" and len(answer["key"]) == 39
    point_then_restore(env)
    assert os.path.isfile(os.path.join(env.disk, "restore-points", "config")), "the repository is on the disk"
    assert len(os.listdir(os.path.join(env.disk, "restore-points", "snapshots"))) == 1
    no_repository_on_the_archives_volume(env)


def s3_objects(env) -> str:
    """The bucket's listing, as moto serves it (read inside its own container)."""
    script = ("import urllib.request; print(urllib.request.urlopen("
              f"'http://127.0.0.1:9000/{BUCKET}?list-type=2&max-keys=1000').read().decode())")
    return env.s3.exec_run(["/usr/bin/python3", "-c", script]).output.decode()


S3_PLACE = {"kind": "s3", "endpoint": "http://s3:9000", "bucket": BUCKET, "prefix": "lycee",
            "access_key_id": "jhubtest", "secret_access_key": "not-a-real-secret-4f9a"}


def test_points_in_an_s3_store_and_found_again_by_a_reinstalled_server(env):
    forget_this_server(env)
    egress = env.client.networks.get(env.sidecar_networks[0])
    egress.disconnect(env.sidecar)
    try:
        status, refused = call(env, "POST", "/api/points/enable", {"place": S3_PLACE})
        assert status == 409 and refused["code"] == "no_network", refused
    finally:
        egress.connect(env.sidecar)
    status, answer = call(env, "POST", "/api/points/enable", {"place": S3_PLACE})
    assert status == 201, answer
    key = answer["key"]
    assert answer["place"]["address"] == f"s3:http://s3:9000/{BUCKET}/lycee"
    point = point_then_restore(env)
    listing = s3_objects(env)
    assert "<Key>lycee/config</Key>" in listing and "<Key>lycee/snapshots/" in listing, listing[:2000]
    no_repository_on_the_archives_volume(env)
    status, answer = call(env, "GET", "/api/points")
    assert S3_PLACE["secret_access_key"] not in json.dumps(answer)
    assert S3_PLACE["secret_access_key"] not in env.logs()

    forget_this_server(env)
    status, again = call(env, "POST", "/api/points/enable", {"place": S3_PLACE})
    assert status == 409 and again["code"] == "repository_exists", again
    status, wrong = call(env, "PUT", "/api/points/key", {"key": "abcd-" * 7 + "abcd", "place": S3_PLACE})
    assert status == 409 and wrong["code"] == "wrong_key", wrong
    status, opened = call(env, "PUT", "/api/points/key", {"key": key, "place": S3_PLACE})
    assert status == 200 and opened["place"]["kind"] == "s3", opened

    # The same from a shell, the secret read from a file (never on the command line).
    forget_this_server(env)
    env.client_ctr.exec_run(["sh", "-c", f"printf %s '{S3_PLACE['secret_access_key']}' > /tmp/s3-secret"])
    done = env.client_ctr.exec_run(
        ["python3", "-m", "jhub_admin_service.cli", "points", "key", key, "--place", "s3",
         "--endpoint", S3_PLACE["endpoint"], "--bucket", BUCKET, "--path", "lycee",
         "--access-key-id", S3_PLACE["access_key_id"], "--secret-access-key-file", "/tmp/s3-secret"], demux=True)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[0])["place"]["address"] == f"s3:http://s3:9000/{BUCKET}/lycee"
    status, answer = call(env, "GET", "/api/points")
    assert [p["short_id"] for p in answer["points"]] == [point], answer


def test_points_on_an_ssh_server_whose_host_key_is_then_required(env):
    forget_this_server(env)
    place = {"kind": "sftp", "host": "sftp", "port": 22, "user": "sauvegarde", "path": "points-jhub"}
    status, refused = call(env, "POST", "/api/points/enable", {"place": place})
    assert status == 409 and refused["code"] == "no_ssh_key", refused
    status, ssh = call(env, "POST", "/api/points/ssh-key")
    assert status == 200 and ssh["public_key"].startswith("ssh-ed25519 "), ssh
    assert env.sidecar_exec("stat -c %a /srv/sidecar-keys/restore-points-ssh-key").strip() == "600"
    assert "'" not in ssh["public_key"]
    added = env.sftp.exec_run(["sh", "-c", f"echo '{ssh['public_key']}' > /home/sauvegarde/.ssh/authorized_keys"
                               " && chown sauvegarde: /home/sauvegarde/.ssh/authorized_keys"])
    assert added.exit_code == 0, added.output
    status, answer = call(env, "POST", "/api/points/enable", {"place": place})
    assert status == 201, answer
    key, first_fingerprints = answer["key"], answer["host_key_fingerprints"]
    assert answer["host_key_fingerprints"] and all(f.startswith("SHA256:") for f in answer["host_key_fingerprints"])
    point_then_restore(env)
    files = env.sftp.exec_run(["ls", "/home/sauvegarde/points-jhub"]).output.decode().split()
    assert "config" in files and "snapshots" in files, files
    no_repository_on_the_archives_volume(env)

    # Another machine answers at the server's address (its host keys are new): refused.
    env.sftp.exec_run(["sh", "-c", "rm /etc/ssh/ssh_host_* && ssh-keygen -A"])
    env.sftp.restart(timeout=5)
    env.sidecar_exec("for i in $(seq 50); do ssh-keyscan -T 2 sftp 2>/dev/null | grep -q ssh- && exit 0; sleep 0.2; done; exit 1")
    failed = job(env, *call(env, "POST", "/api/points"))
    assert failed["state"] == "failed" and "host key is not the one recorded" in failed["error"], failed
    status, answer = call(env, "GET", "/api/points")
    assert answer["error"]["code"] == "host_key_changed", answer
    # The page then asks for the key again: giving it does not accept the new host key.
    status, again = call(env, "PUT", "/api/points/key", {"key": key})
    assert status == 502 and again["code"] == "host_key_changed", again
    # Setting the place anew does (the admin compares the fingerprints shown).
    status, again = call(env, "PUT", "/api/points/key", {"key": key, "place": place})
    assert status == 200 and again["host_key_fingerprints"], again
    assert not set(again["host_key_fingerprints"]) & set(first_fingerprints)
    assert job(env, *call(env, "POST", "/api/points"))["state"] == "done"
