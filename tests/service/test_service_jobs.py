"""Jobs: state kept without passwords, a restart reports a running job as interrupted, one
import at a time; and the service's start-up reconcile of the hub side."""
import asyncio
import json
import os
import signal
import sys
import time

import pytest
import requests

from servicetools import ADMIN, service_url, start_hub, wait_for_service

from jhub_admin_service.jobs import JobConflict, JobManager


async def test_job_manager_persists_state_not_passwords(tmp_path):
    path = tmp_path / "jobs.json"
    jobs = JobManager(str(path))
    gate = asyncio.Event()

    async def work(job):
        job.progress("hashing", 0, 10)
        await gate.wait()
        job.progress("hashing", 10, 10)
        job.credentials = [{"login": "a.b", "password": "Secret-Pass-1", "role": "student", "classes": [],
                            "first_name": "", "last_name": ""}]
        job.summary = {"credentials": 1}

    job = jobs.start("import", work, user="admin", group="accounts", stages={"hashing": 60, "hub": 40})
    await asyncio.sleep(0.05)
    assert job.state == "running" and job.percent == 0
    job.progress("hub", 1, 1)  # stages run side by side: the percentage weighs them
    assert job.percent == 39
    job.progress("hashing", 5, 10)
    assert job.percent == 69
    with pytest.raises(JobConflict):
        jobs.start("import", work, group="accounts")
    saved = json.loads(path.read_text())["jobs"][0]
    assert saved["state"] == "running" and saved["user"] == "admin"
    gate.set()
    await jobs.wait(job.id, timeout=5)
    assert job.state == "done" and job.percent == 100 and job.credentials
    text = path.read_text()
    assert "Secret-Pass-1" not in text and oct(path.stat().st_mode & 0o777) == "0o600"
    again = JobManager(str(path))  # a restart: the state is back, the passwords are not
    assert again.get(job.id).state == "done" and not again.get(job.id).credentials
    assert again.get(job.id).to_json()["credentials_count"] == 1
    jobs.dismiss(job.id)
    assert not jobs.get(job.id).credentials and jobs.get(job.id).credentials_dismissed


async def test_running_job_in_the_file_is_interrupted_at_start(tmp_path):
    path = tmp_path / "jobs.json"
    jobs = JobManager(str(path))
    job = jobs.start("import", lambda job: asyncio.sleep(30), group="accounts")
    await asyncio.sleep(0.05)
    # the process dies here (no shutdown): the file still says "running"
    assert json.loads(path.read_text())["jobs"][0]["state"] == "running"
    after = JobManager(str(path))
    assert after.get(job.id).state == "interrupted" and "restarted" in after.get(job.id).error
    assert after.running("accounts") is None and after.interrupted_at_start
    jobs._tasks[job.id].cancel()


async def test_credentials_expire(tmp_path):
    jobs = JobManager(None, credentials_ttl=0.05)
    job = jobs.record("password reset", credentials=[{"login": "x", "password": "p"}])
    assert jobs.get(job.id).credentials
    await asyncio.sleep(0.1)
    assert not jobs.get(job.id).credentials


@pytest.mark.hub
@pytest.mark.sandbox
def test_restart_interrupts_the_job_and_reconciles_the_hub(rosters):
    box, hub = start_hub(prefix="jhub-service-restart-", others=False)
    try:
        headers = {"Authorization": f"token {hub.user_token(ADMIN)}"}
        roster = "nom;prénom;classe\n" + "".join(f"ELEVE{i:04d};Test;T{i % 4}\n" for i in range(250))
        r = requests.post(service_url(hub, "api/imports"), data=roster.encode(), headers=headers)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 30
        while requests.get(service_url(hub, f"api/jobs/{job_id}"), headers=headers).json()["stage"] != "hashing":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(hub.service_pid(), signal.SIGKILL)  # the service dies in the middle of the import
        # Meanwhile, an account made by the CLI while the hub API is unreachable: local only
        late = box.root / "late.csv"
        late.write_text("late.user;Late-Passw0rd-1;\n")
        # (the hub restarts its managed service, whose start-up reconcile may hold the lock: the
        # command waits for it)
        out = box.run([sys.executable, "-m", "jhub_admin_service.cli", "import", str(late), "--yes"],
                      env={**hub.cli_env(), "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api"})
        assert "not reachable" in out.stderr
        hub.stop()
        hub.start()
        wait_for_service(hub)
        job = requests.get(service_url(hub, f"api/jobs/{job_id}"), headers=headers).json()
        assert job["state"] == "interrupted" and "restarted" in job["error"], job
        dashboard = requests.get(service_url(hub, "api/dashboard"), headers=headers).json()
        assert any(w.get("job") == job_id for w in dashboard["warnings"])
        # the service's start-up reconcile made the hub user of the late account
        deadline = time.monotonic() + 30
        while "late.user" not in {u["name"] for u in hub.api("GET", "/users")}:
            assert time.monotonic() < deadline, hub.log_tail()
            time.sleep(0.3)
        # importing the same file again finishes the work, once the start-up reconcile is done
        deadline = time.monotonic() + 60
        while (r := requests.post(service_url(hub, "api/imports"), data=roster.encode(),
                                  headers=headers)).status_code == 409:
            assert "try again" in r.json()["error"] and time.monotonic() < deadline, r.text
            time.sleep(0.3)
        assert r.status_code == 202, r.text
        job = requests.get(service_url(hub, f"api/jobs/{r.json()['id']}?wait=60"), headers=headers).json()
        assert job["state"] == "done", job
        accounts = requests.get(service_url(hub, "api/accounts?role=student"), headers=headers).json()
        assert accounts["total"] == 251
    finally:
        hub.stop()
        box.cleanup()
