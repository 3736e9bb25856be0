"""Real Docker: the sidecar survives its own stops and crashes (issue 14, point 9), and refuses a
job it cannot carry out (point 4): jobs kept on the archives volume, SIGTERM honoured, a
restore interrupted by a restart finished or rolled back from its journal, exports refused while
a job runs or without room.

A deployment of its own (the tests stop, crash and recreate its sidecar), with a 128 MiB file of
random data so that a helper runs long enough to be paused by the test as soon as Docker starts
it (``docker pause``: the job then stays running for as long as the test needs), and a sparse
file of 20 GiB that holds no data."""
import contextlib
import json
import threading
import time

import pytest

from dockerenv import POPULATE, SidecarEnv

pytestmark = pytest.mark.docker

BIG = 128 << 20
DURABLE_POPULATE = POPULATE + r'''
head -c %d /dev/urandom > /v/home/alice/big.bin
truncate -s 20G /v/home/bob/sparse.img
''' % BIG


@pytest.fixture(scope="module")
def env(docker_env):
    env = SidecarEnv(image=docker_env.image)
    try:
        env.setup(DURABLE_POPULATE)
        yield env
    finally:
        env.cleanup()


@pytest.fixture(autouse=True)
def running(env):
    """Each test starts with a running sidecar, whatever the previous one left."""
    env.sidecar.reload()
    if env.sidecar.status != "running":
        env.sidecar.start()
    env.wait_healthy("sidecar")


@contextlib.contextmanager
def paused_when_started(env, operation):
    """Pause the next helper of ``operation`` as soon as Docker starts it (a job that runs as
    long as the test needs). Yields a dict that gets the paused container's id."""
    events = env.client.events(decode=True, filters={
        "type": "container", "event": "start",
        "label": ["org.jhub-admin.operation=%s" % operation,
                  "org.jhub-admin.project=%s" % env.project]})
    paused = {}

    def watch():
        for event in events:
            env.client.api.pause(event["id"])
            paused["id"] = event["id"]
            return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield paused
    finally:
        events.close()
        with contextlib.suppress(Exception):  # a failed test leaves no job stuck behind it
            env.client.api.unpause(paused["id"])


def wait_paused(paused, timeout=30):
    deadline = time.monotonic() + timeout
    while "id" not in paused:
        assert time.monotonic() < deadline, "the helper was never paused"
        time.sleep(0.05)
    return paused["id"]


def post(env, path, body):
    status, text = env.http("POST", path, body)
    return status, json.loads(text)


def start_export(env, target):
    status, answer = post(env, "/api/exports", {"target": target})
    assert status == 202, answer
    return answer["job"]["id"]


def archives(env):
    return {a["name"]: a for a in env.cli("list")[1]}


def backups_listing(env):
    return env.run_in_volumes("ls -A /v/backups /v/backups/.jobs", read_only=True).split()


def volumes_listing(env):
    """Owners, modes and sizes of every file of the three volumes (times left out)."""
    return env.run_in_volumes(
        "cd /v && find home exchange data -printf '%p %u:%g %m %s %y\\n' | sort", read_only=True)


def test_a_job_answers_after_a_restart(env):
    job_id = start_export(env, "data")
    job = env.wait_job(job_id)
    assert job["state"] == "done", job
    started = time.monotonic()
    env.sidecar.restart(timeout=15)
    assert time.monotonic() - started < 8  # SIGTERM honoured: no 10 s wait for the kill
    env.wait_healthy("sidecar")
    status, again = env.job(job_id)
    assert status == 200, again
    assert again["state"] == "done" and again["result"]["name"] == job["result"]["name"]
    assert job_id in [j["id"] for j in json.loads(env.http("GET", "/api/jobs")[1])["jobs"]]
    # a crash (SIGKILL) loses nothing either: each change was written before it was answered
    env.sidecar.kill()
    env.sidecar.start()
    env.wait_healthy("sidecar")
    assert env.job(job_id)[1]["result"] == again["result"]


def test_a_second_job_is_refused_while_one_runs(env):
    before = archives(env)
    with paused_when_started(env, "export") as paused:
        job_id = start_export(env, "home")
        helper = wait_paused(paused)
        status, refusal = post(env, "/api/exports", {"target": "data"})
        assert status == 409 and refusal["code"] == "busy", refusal
        assert refusal["detail"]["job"] == job_id and job_id in refusal["error"]
        name, meta = next(iter(before.items()))
        status, refusal = post(env, "/api/archives/%s/restore" % name, {"sha256": meta["sha256"]})
        assert status == 409 and refusal["code"] == "busy", refusal
        env.client.api.unpause(helper)
    job = env.wait_job(job_id)
    assert job["state"] == "done", job
    assert set(archives(env)) == set(before) | {job["result"]["name"]}


def test_sigterm_rolls_back_the_running_export_and_exits_0(env):
    before = archives(env)
    with paused_when_started(env, "export") as paused:
        job_id = start_export(env, "all")
        wait_paused(paused)
        started = time.monotonic()
        env.client.api.stop(env.sidecar.id, timeout=15)
    stopped_in = time.monotonic() - started
    assert env.wait_exited(env.sidecar) == 0, env.logs()[-3000:]
    assert stopped_in < 8, stopped_in  # far within Compose's grace period
    assert "SIGTERM" in env.sidecar.logs().decode()
    assert env.helpers() == []  # the paused helper was killed and removed, not left running
    assert not [f for f in backups_listing(env) if f.startswith(".tmp-")]  # no partial archive
    env.sidecar.start()
    env.wait_healthy("sidecar")
    status, job = env.job(job_id)
    assert status == 200, job
    assert job["state"] == "failed" and job["recovery"] == "rolled_back_at_stop", job
    assert "stopped" in job["error"] and "partial archive was removed" in job["error"]
    assert archives(env) == before


def died_or_finished(env, job_id, timeout=120):
    """Wait for the sidecar to die (its exit code), or for the job to end (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env.sidecar.reload()
        if env.sidecar.status == "exited":
            return env.sidecar.attrs["State"]["ExitCode"]
        status, job = env.job(job_id)
        if status == 200 and job["state"] not in ("queued", "running"):
            return None
        time.sleep(0.3)
    raise AssertionError("the sidecar neither died nor finished job %s" % job_id)


def crashed_restore(env, failpoint):
    """A full restore of a fresh archive of everything, after changes to the volumes, during
    which the sidecar process dies (the failpoint) with its helper running; then a new sidecar
    starts. Returns (archive, volumes before the restore, the job as the new sidecar tells it)."""
    _, job, _ = env.cli("create", "all")
    archive = job["result"]
    env.run_in_volumes("echo extra > /v/exchange/extra.txt; rm /v/home/alice/private.txt;"
                       " chmod 0755 /v/exchange; echo changed > /v/data/jupyterhub.sqlite")
    changed = volumes_listing(env)
    env.recreate_sidecar({"JHUB_SIDECAR_FAILPOINT": failpoint})
    status, answer = post(env, "/api/archives/%s/restore" % archive["name"],
                          {"sha256": archive["sha256"]})
    assert status == 202, answer
    exit_code = died_or_finished(env, answer["job"]["id"])
    env.recreate_sidecar()
    status, job = env.job(answer["job"]["id"])
    assert status == 200, job
    assert exit_code == 70, env.logs()[-3000:]  # the failpoint's: the process died mid-step
    assert env.helpers() == []
    assert ".jhub-restore" not in env.run_in_volumes("ls -A /v/home /v/exchange /v/data")
    return archive, changed, job


def test_a_restart_during_the_swap_of_a_full_restore_completes_it(env):
    archive, _, job = crashed_restore(env, "exit-during-swap")
    assert job["state"] == "done" and job["recovery"] == "completed_after_restart", job
    assert job["journal"] is None
    result = job["result"]
    assert result["restored"] == ["home", "exchange", "data"]
    assert result["safety_archive"] in archives(env)
    out = env.run_in_volumes("stat -c '%a' /v/exchange; test ! -e /v/exchange/extra.txt && echo GONE;"
                             " stat -c '%u %a' /v/home/alice/private.txt; cat /v/data/jupyterhub.sqlite")
    assert out.split("\n")[:4] == ["1777", "GONE", "1001 600", "db"], out
    # the restored content is the archive's: a new export of it has the same members
    _, again, _ = env.cli("create", "all")
    assert env.archive_members(again["result"]["name"]) == env.archive_members(archive["name"])


def test_a_restart_during_the_extraction_of_a_full_restore_rolls_it_back(env):
    _, changed, job = crashed_restore(env, "exit-during-extract")
    assert job["state"] == "failed" and job["recovery"] == "rolled_back_after_restart", job
    assert "nothing was restored" in job["error"]
    assert job["result"]["safety_archive"] in archives(env)  # its name is kept
    assert volumes_listing(env) == changed  # as before the restore


def test_an_export_is_refused_without_room(env):
    env.recreate_sidecar({"JHUB_SIDECAR_FREE_SPACE_RESERVE": str(10 ** 15)})
    try:
        jobs_before = json.loads(env.http("GET", "/api/jobs")[1])["jobs"]
        before = archives(env)
        status, refusal = post(env, "/api/exports", {"target": "home"})
        assert status == 507 and refusal["code"] == "no_space", refusal
        needed = refusal["detail"]["needed"]
        # the random data counts, the 20 GiB sparse file only for what it holds
        assert BIG < needed < BIG + (64 << 20), needed
        assert refusal["detail"]["reserve"] == 10 ** 15 and refusal["detail"]["free"] > 0
        assert "not enough free space" in refusal["error"]
        code, _, err = env.cli("create", "home", check=False)
        assert code == 1 and "not enough free space" in err
        assert archives(env) == before
        assert json.loads(env.http("GET", "/api/jobs")[1])["jobs"] == jobs_before
        assert [h.labels["org.jhub-admin.operation"] for h in env.helpers()] in ([], ["disk-use"])
    finally:
        env.recreate_sidecar()
