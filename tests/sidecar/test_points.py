"""Restore points against the real sidecar, Docker and restic: a point made, a file changed and
deleted then brought back beside the current one as its owner, a link planted by the pupil
ignored, a backup killed then the check and the next point passing, the retention keeping the
newest point, a wrong key named as such, a full disk refused with its reason."""
import datetime as dt
import json
import time

import pytest

from dockerenv import SidecarEnv, call

pytestmark = pytest.mark.docker

CAROL = r'''
mkdir -p /v/home/carol/tp
printf '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "v": 1}\n' > /v/home/carol/tp/devoir.ipynb
printf 'mes notes\n' > /v/home/carol/notes.txt
printf 'secret of dave\n' > /v/home/dave.txt
mkdir -p /v/home/dave && mv /v/home/dave.txt /v/home/dave/secret.txt
chown -R 1004:1004 /v/home/carol && chmod 0700 /v/home/carol
chown -R 1005:1005 /v/home/dave && chmod 0700 /v/home/dave
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("/v/data/registry.sqlite")
db.execute("PRAGMA journal_mode=WAL")
db.execute("create table accounts(login)")
db.executemany("insert into accounts values (?)", [("carol",), ("dave",)])
db.commit()
PY
'''


@pytest.fixture(scope="module")
def env(docker_env):
    env = SidecarEnv(image=docker_env.image)
    try:
        env.setup(CAROL)
        status, answer = call(env, "POST", "/api/points/enable")
        assert status == 201, answer
        env.key = answer["key"]
        yield env
    finally:
        env.cleanup()


def job_done(env, status, answer, timeout=300):
    assert status == 202, answer
    job = env.wait_job(answer["job"]["id"], timeout=timeout)
    assert job["state"] == "done", job
    return job["result"]


def make_point(env):
    return job_done(env, *call(env, "POST", "/api/points"))


def points(env):
    status, answer = call(env, "GET", "/api/points")
    assert status == 200 and "error" not in answer, answer
    return answer["points"]


def restore(env, point, user, path, lang="fr"):
    return call(env, "POST", f"/api/points/{point}/restore", {"user": user, "path": path, "lang": lang})


def in_home(env, script):
    return env.run_in_volumes(script)


def test_the_key_is_shown_once_and_kept_for_the_sidecar_only(env):
    assert len(env.key) == 39 and env.key.count("-") == 7
    assert env.sidecar_exec("stat -c '%a %u' /srv/sidecar-keys/restore-points.key").split() == ["600", "0"]
    assert env.sidecar_exec("cat /srv/sidecar-keys/restore-points.key").strip() == env.key
    status, again = call(env, "POST", "/api/points/enable")
    assert status == 409 and again["code"] == "already_enabled"
    status, answer = call(env, "GET", "/api/points")
    assert env.key not in json.dumps(answer)
    assert answer["status"]["initialised"] and answer["status"]["settings"]["keep"] == {
        "last": 0, "daily": 7, "weekly": 4, "monthly": 6}
    # the repository on the archives volume is encrypted: no file of it holds the pupils' words
    point = make_point(env)
    assert point["summary"]["databases"] == ["registry.sqlite"]
    found = env.run_in_volumes("grep -rl 'mes notes' /v/backups/restore-points || true", read_only=True)
    assert found.strip() == ""


def test_a_changed_and_a_deleted_file_come_back_beside_the_current_ones_as_their_owner(env):
    point = make_point(env)["point"]
    in_home(env, "printf 'broken\\n' > /v/home/carol/tp/devoir.ipynb; rm /v/home/carol/notes.txt")
    status, listing = call(env, "GET", f"/api/points/{point[:12]}/files?user=carol&path=tp")
    assert status == 200, listing
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("devoir.ipynb", "file")]
    day = dt.date.fromisoformat(listing["point"]["date"])

    result = job_done(env, *restore(env, point, "carol", "tp/devoir.ipynb"))
    assert result["placed"] == f"tp/devoir (restauré {day}).ipynb"
    result = job_done(env, *restore(env, point, "carol", "notes.txt", lang="en"))
    assert result["placed"] == f"notes (restored {day}).txt"
    again = job_done(env, *restore(env, point, "carol", "tp/devoir.ipynb"))
    assert again["placed"] == f"tp/devoir (restauré {day} 2).ipynb"

    out = in_home(env, f"""cd /v/home/carol
cat tp/devoir.ipynb; cat 'tp/devoir (restauré {day}).ipynb'; cat 'notes (restored {day}).txt'
stat -c '%u:%g' 'tp/devoir (restauré {day}).ipynb' 'notes (restored {day}).txt'
ls -A /v/home""")
    lines = out.splitlines()
    assert lines[0] == "broken", "the current file is never overwritten"
    assert '"v": 1' in lines[1] and lines[2] == "mes notes"
    assert lines[3:5] == ["1004:1004", "1004:1004"]
    assert not [e for e in lines[5:] if e.startswith(".jhub-restore-")], "no staging folder left"


def test_a_link_planted_by_the_pupil_never_leads_the_restore_elsewhere(env):
    point = points(env)[0]["id"]
    # carol replaces her folder by a link to dave's home: the restored file lands in her home
    in_home(env, "cd /v/home/carol && mv tp tp.old && ln -s /home/dave tp && ln -s ../dave tp2")
    result = job_done(env, *restore(env, point, "carol", "tp/devoir.ipynb"))
    assert "/" not in result["placed"], result
    out = in_home(env, "ls -A /v/home/dave; stat -c %u /v/home/carol/" + "'" + result["placed"] + "'")
    assert out.split() == ["secret.txt", "1004"]
    in_home(env, "cd /v/home/carol && rm tp tp2 && mv tp.old tp")


def test_a_restored_link_is_given_to_the_pupil_never_what_it_points_at(env):
    # from the staging folder (/dst/home/.jhub-restore-JOB/src/home/carol/), this relative link
    # names /dst/home/dave: the restore must not walk through it to give dave's files away
    in_home(env, "cd /v/home/carol && ln -s ../../../../dave lien && ln -s ../../../../dave/secret.txt fichier")
    point = make_point(env)["point"]
    in_home(env, "rm /v/home/carol/lien /v/home/carol/fichier")
    for name in ("lien", "fichier"):
        placed = job_done(env, *restore(env, point, "carol", name))["placed"]
        assert in_home(env, f"stat -c '%u %F' '/v/home/carol/{placed}'").strip() == "1004 symbolic link"
    assert in_home(env, "stat -c %u /v/home/dave /v/home/dave/secret.txt").split() == ["1005", "1005"]


def test_bad_requests_change_nothing(env):
    point = points(env)[0]["id"]
    for user, path in (("carol", "../dave/secret.txt"), ("../dave", "secret.txt"), ("carol", ""),
                       ("carol", ".jhub-restore-x/a")):
        status, answer = restore(env, point, user, path)
        assert status == 400, (user, path, answer)
    status, answer = restore(env, "0123456789abcdef", "carol", "notes.txt")
    assert status == 400 and "no restore point" in answer["error"]
    status, answer = call(env, "GET", f"/api/points/{point}/files?user=carol&path=..")
    assert status == 400
    status, answer = restore(env, point, "carol", "absent.txt")
    job = env.wait_job(answer["job"]["id"])
    assert job["state"] == "failed" and "not in this restore point" in job["error"]


def cli(env, *args):
    res = env.client_ctr.exec_run(["python3", "-m", "jhub_admin_service.cli", "points", *args], demux=True)
    return res.exit_code, (res.output[0] or b"").decode(), (res.output[1] or b"").decode()


def test_the_cli_browses_a_point_and_brings_back_a_file(env):
    code, out, _ = cli(env, "list")
    assert code == 0 and len(out.splitlines()) == len(points(env))
    point = out.split()[0]
    code, out, _ = cli(env, "files", point, "carol", "tp")
    assert code == 0 and "devoir.ipynb" in out.splitlines()
    in_home(env, "mkdir -p /v/home/carol/cli && echo une > /v/home/carol/cli/a.txt")
    code, out, err = cli(env, "make")
    assert code == 0, err
    point = cli(env, "list")[1].split()[0]
    in_home(env, "rm -r /v/home/carol/cli")
    code, out, err = cli(env, "restore", point, "carol", "cli", "--lang", "en")
    assert code == 0 and "is back as cli (restored " in out, (out, err)
    placed = out.rsplit(" as ", 1)[1].strip()
    assert in_home(env, f"cat '/v/home/carol/{placed}/a.txt'; stat -c %u '/v/home/carol/{placed}'").split() == ["une", "1004"]
    code, _, err = cli(env, "restore", point, "carol", "../dave/secret.txt")
    assert code == 1 and "may not contain '..'" in err


def test_a_night_adds_only_what_changed(env):
    in_home(env, "head -c 20000000 /dev/urandom > /v/home/carol/big.bin && chown 1004:1004 /v/home/carol/big.bin")
    first = make_point(env)["summary"]
    assert first["data_added"] > 19_000_000
    in_home(env, "printf 'x' >> /v/home/carol/notes.txt 2>/dev/null || printf 'x' > /v/home/carol/notes.txt")
    second = make_point(env)["summary"]
    assert second["data_added"] < 1_000_000, second
    assert second["files_changed"] + second["files_new"] <= 3, second
    in_home(env, "rm /v/home/carol/big.bin")


def test_a_backup_killed_midway_leaves_a_sound_repository_and_the_next_point_completes(env):
    in_home(env, "head -c 300000000 /dev/urandom > /v/home/carol/huge.bin")
    before = int(env.sidecar_exec("find /backups/restore-points/data -type f | wc -l"))
    status, answer = call(env, "POST", "/api/points")
    assert status == 202, answer
    deadline = time.monotonic() + 120
    while int(env.sidecar_exec("find /backups/restore-points/data -type f | wc -l")) < before + 3:
        assert time.monotonic() < deadline, "the backup never wrote its first packs"
        time.sleep(0.1)
    env.sidecar.kill()
    helpers = [h for h in env.helpers() if h.labels.get("org.jhub-admin.operation") == "point-backup"]
    assert helpers and helpers[0].status == "running", "killed while the backup ran"
    env.recreate_sidecar()  # a new process: the helper is removed, the job recovered
    job = env.wait_job(answer["job"]["id"])
    assert job["state"] == "failed" and job["recovery"] == "rolled_back_after_restart", job
    assert not [h for h in env.helpers() if h.labels.get("org.jhub-admin.operation") == "point-backup"]
    check = job_done(env, *call(env, "POST", "/api/points/check"))
    assert check["ok"] is True
    point = make_point(env)
    assert point["summary"]["files_new"] >= 1
    status, listing = call(env, "GET", f"/api/points/{point['point']}/files?user=carol")
    assert "huge.bin" in [e["name"] for e in listing["entries"]]
    in_home(env, "rm /v/home/carol/huge.bin")


def test_retention_keeps_the_newest_point(env):
    status, answer = call(env, "PUT", "/api/points/settings", {"keep": {"daily": 1, "weekly": 0, "monthly": 0}})
    assert status == 200, answer
    status, refused = call(env, "PUT", "/api/points/settings", {"keep": {"daily": 0}})
    assert status == 400 and "newest point is always kept" in refused["error"]
    try:
        newest = make_point(env)
        assert newest["forgotten"], "the older points of the day were forgotten"
        assert [p["short_id"] for p in points(env)] == [newest["point"]]
    finally:
        call(env, "PUT", "/api/points/settings", {"keep": {"daily": 7, "weekly": 4, "monthly": 6}})


ADD_EVE = r"""rm -r /v/exchange/c1; echo v2 > /v/home/dave/secret.txt; touch /v/home/dave/new.txt
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("/v/data/registry.sqlite")
db.execute("insert into accounts values ('eve')")
db.commit()
PY
"""
READ_BACK = r"""cat /v/exchange/c1/copie.txt
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("/v/data/registry.sqlite")
print(db.execute("pragma integrity_check").fetchone()[0], sorted(r[0] for r in db.execute("select login from accounts")))
PY
ls -A /v/exchange /v/data /v/home | grep -c jhub-restore || true
"""


def test_a_home_and_whole_volumes_come_back_from_a_point_after_a_safety_export(env):
    in_home(env, "mkdir -p /v/exchange/c1 && echo remis > /v/exchange/c1/copie.txt && echo v1 > /v/home/dave/secret.txt")
    short = make_point(env)["point"]
    in_home(env, ADD_EVE)
    url = f"/api/points/{short}/restore-volumes"
    status, answer = call(env, "POST", url, {"confirm": "deadbeef", "user": "dave"})
    assert status == 400 and short in answer["error"], answer
    archives_before = len(json.loads(env.http("GET", "/api/archives")[1])["archives"])

    home = job_done(env, *call(env, "POST", url, {"confirm": short, "user": "dave"}))
    assert home["restored"] == ["home/dave"] and home["point"].startswith(short) and home["safety_archive"]
    assert in_home(env, "cat /v/home/dave/secret.txt; ls -A /v/home/dave; stat -c %u /v/home/dave/secret.txt").split() \
        == ["v1", "secret.txt", "1005"]

    volumes = job_done(env, *call(env, "POST", url, {"confirm": short, "targets": ["exchange", "data"]}))
    assert volumes["restored"] == ["exchange", "data"]
    out = in_home(env, READ_BACK)
    assert out.splitlines() == ["remis", "ok ['carol', 'dave']", "0"], out
    archives = json.loads(env.http("GET", "/api/archives")[1])["archives"]
    assert len(archives) == archives_before + 2 and {a["kind"] for a in archives[:2]} == {"safety"}


@pytest.mark.parametrize("failpoint, recovery, secret", [
    ("exit-during-extract", "rolled_back_after_restart", "v3"), ("exit-during-swap", "completed_after_restart", "v1")])
def test_a_restore_from_a_point_that_a_crash_cuts_is_rolled_back_or_completed_at_the_next_start(
        env, failpoint, recovery, secret):
    in_home(env, "echo v1 > /v/home/dave/secret.txt")
    short = make_point(env)["point"]
    in_home(env, "echo v3 > /v/home/dave/secret.txt")
    env.recreate_sidecar({"JHUB_SIDECAR_FAILPOINT": failpoint})
    status, answer = call(env, "POST", f"/api/points/{short}/restore-volumes", {"confirm": short, "user": "dave"})
    assert status == 202, answer
    assert env.wait_exited(env.sidecar, timeout=120) == 70  # the process died with its helper running
    env.recreate_sidecar()
    job = env.wait_job(answer["job"]["id"])
    assert job["recovery"] == recovery and job["journal"] is None, job
    assert in_home(env, "cat /v/home/dave/secret.txt; ls -A /v/home | grep -c jhub-restore || true").split() \
        == [secret, "0"]


def test_a_wrong_key_is_named_and_never_an_empty_restore(env):
    status, answer = call(env, "PUT", "/api/points/key", {"key": "not-the-key-of-this-repository"})
    assert status == 409 and answer["code"] == "wrong_key", answer
    point = points(env)[0]["id"]
    env.sidecar_exec("echo wrong-key-here > /srv/sidecar-keys/restore-points.key")
    try:
        status, answer = call(env, "GET", "/api/points")
        assert answer["error"]["code"] == "wrong_key" and "wrong key" in answer["error"]["message"]
        status, answer = restore(env, point, "carol", "notes.txt")
        assert status == 409 and answer["code"] == "wrong_key"
    finally:
        status, answer = call(env, "PUT", "/api/points/key", {"key": env.key})
    assert status == 200 and points(env)


def test_a_point_without_room_is_refused_with_the_reason(env):
    env.recreate_sidecar({"JHUB_SIDECAR_FREE_SPACE_RESERVE": str(10 ** 15)})
    try:
        count = len(points(env))
        status, answer = call(env, "POST", "/api/points")
        assert status == 507 and answer["code"] == "no_space" and "free space" in answer["error"]
        assert len(points(env)) == count
    finally:
        env.recreate_sidecar()
