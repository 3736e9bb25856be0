"""The sidecar's HTTP API and the exports client, in process, with a fake
Docker API: authentication, refusals, jobs, atomic archives, streaming,
restore confirmation and safety export, prune, settings."""
import asyncio
import hashlib
import json
import logging
import os
import socket

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer

from jhub_admin_service.sidecar.client import ExportsClient, SidecarError
from jhub_admin_service.sidecar.app import make_app
from jhub_admin_service.sidecar.core import Sidecar
from jhub_admin_service.sidecar.engine import DockerEngine
from jhub_admin_service.sidecar.jobs import JobManager, JobStore
from jhub_admin_service.sidecar.store import ArchiveStore

from fakedocker import FakeAPI, FakeClient

SECRET = "s" * 48


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Harness:
    def __init__(self, tmp_path, persist=False, **api_kw):
        self.dir = tmp_path / "backups"
        self.dir.mkdir(exist_ok=True)
        self.api = FakeAPI(str(self.dir), **api_kw)
        log = logging.getLogger("test-sidecar")
        engine = DockerEngine(container_id="c0ffee",
                              volume_keys={"home": "jh_home", "exchange": "jh_exchange",
                                           "data": "jh_data"},
                              backups_volume_key="jh_backups", backup_dir="/backups",
                              client=FakeClient(self.api))
        self.sidecar = Sidecar(store=ArchiveStore(str(self.dir)), engine=engine,
                               jobs=JobManager(log, JobStore(str(self.dir)) if persist else None),
                               compressor="gzip", fsync=False, log=log)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.app = make_app(self.sidecar, SECRET, log, max_body_size=4096)

    async def __aenter__(self):
        self.server = HTTPServer(self.app, max_body_size=4096)
        self.server.listen(self.port, "127.0.0.1")
        self.client = ExportsClient(self.url, secret=SECRET)
        return self

    async def __aexit__(self, *exc):
        self.server.stop()

    async def raw(self, method, path, body=None, auth="good", headers=None):
        h = dict(headers or {})
        if auth == "good":
            h["Authorization"] = "Bearer " + SECRET
        elif auth:
            h["Authorization"] = auth
        if body is None and method in ("POST", "PUT"):
            body = ""
        resp = await AsyncHTTPClient().fetch(HTTPRequest(self.url + path, method=method,
                                                         headers=h, body=body),
                                             raise_error=False)
        return resp.code, resp.body


def run(coro):
    return asyncio.run(coro)


def ops(h):
    """The operations of the helper containers created so far."""
    return [b["Labels"]["org.jhub-admin.operation"] for b in h.api.created]


def test_auth_required_everywhere(tmp_path):
    async def go():
        async with Harness(tmp_path) as h:
            assert (await h.raw("GET", "/health", auth=None))[0] == 200
            for method, path in [("GET", "/api/archives"), ("POST", "/api/exports"),
                                 ("GET", "/api/jobs"), ("GET", "/api/settings"),
                                 ("POST", "/api/prune"), ("GET", "/api/info")]:
                assert (await h.raw(method, path, auth=None))[0] == 401
                assert (await h.raw(method, path, auth="Bearer wrong"))[0] == 401
                assert (await h.raw(method, path, auth="Bearer " + SECRET + "x"))[0] == 401
                assert (await h.raw(method, path, auth=SECRET))[0] == 401
            assert h.api.created == []
            assert (await h.raw("GET", "/api/nothing"))[0] == 404
            assert (await h.raw("POST", "/api/containers/create", auth=None))[0] in (401, 404)
    run(go())


def test_export_list_verify_stream_delete(tmp_path):
    async def go():
        async with Harness(tmp_path) as h:
            c = h.client
            job = await c.export("exchange")
            job = await c.wait_job(job["id"], poll=0.05, timeout=10)
            assert job["state"] == "done", job
            meta = job["result"]
            name = meta["name"]
            assert name.startswith("jhub-exchange-") and name.endswith(".tar.gz")
            data = (h.dir / name).read_bytes()
            assert meta["size"] == len(data)
            assert meta["sha256"] == hashlib.sha256(data).hexdigest()
            assert meta["compression"] == "gzip" and "tar" in meta["tools"]
            assert not [p for p in os.listdir(h.dir) if p.startswith(".tmp-")]
            stored = json.loads((h.dir / (name + ".json")).read_text())
            assert stored["sha256"] == meta["sha256"]
            assert [a["name"] for a in await c.list_archives()] == [name]
            assert (await c.verify(name))["ok"] is True
            chunks = []
            got = await c.stream(name, chunks.append, range_size=1000)
            assert b"".join(chunks) == data and len(chunks) >= len(data) // 1000
            assert got["sha256"] == meta["sha256"]
            out = tmp_path / "dl.tar.gz"
            await c.download(name, str(out))
            assert out.read_bytes() == data
            # corruption is detected
            with open(h.dir / name, "r+b") as f:
                f.write(b"X")
            assert (await c.verify(name))["ok"] is False
            with pytest.raises(SidecarError):
                await c.stream(name, lambda b: None)
            await c.delete(name)
            assert await c.list_archives() == []
            assert os.listdir(h.dir) == []
            # the helper was removed each time (in the background)
            for _ in range(100):
                if len(h.api.removed) == len(h.api.created):
                    break
                await asyncio.sleep(0.01)
            assert len(h.api.removed) == len(h.api.created) == 2  # disk use, export
    run(go())


def test_refusals(tmp_path):
    async def go():
        async with Harness(tmp_path) as h:
            c = h.client
            for target in ("etc", "../home", "", "HOME"):
                with pytest.raises(SidecarError) as e:
                    await c.export(target)
                assert e.value.status == 400
            for name in ("../etc/passwd", "a/b", "..", "jhub-all-x.tar.zst", ".settings.json",
                         "..%2F..%2Fetc%2Fpasswd"):
                for call in (c.verify, c.delete, c.get_archive):
                    with pytest.raises(SidecarError) as e:
                        await call(name)
                    assert e.value.status in (400, 404), (name, e.value)
            for path in ("/api/archives/../../etc/passwd/download",
                         "/api/archives/%2E%2E%2Fsecret/download",
                         "/api/archives/a%2Fb/verify"):
                code, body = await h.raw("GET" if path.endswith("download") else "POST", path)
                assert code in (400, 404), (path, code, body)
            code, _ = await h.raw("POST", "/api/exports", body=json.dumps({"target": "x" * 5000}))
            assert code in (400, 413) or code >= 599
            code, _ = await h.raw("POST", "/api/exports", body="not json")
            assert code == 400
            code, _ = await h.raw("POST", "/api/exports",
                                  body=json.dumps({"target": "home", "image": "alpine"}))
            assert code == 400
            assert h.api.created == []
    run(go())


def test_restore_requires_sha256_and_takes_safety_export(tmp_path):
    async def go():
        async with Harness(tmp_path) as h:
            c = h.client
            job = await c.wait_job((await c.export("all"))["id"], poll=0.05, timeout=10)
            meta = job["result"]
            name = meta["name"]
            with pytest.raises(SidecarError) as e:
                await c.restore(name, "0" * 64)
            assert e.value.status == 400 and "sha256" in e.value.message
            with pytest.raises(SidecarError):
                await c.restore(name, meta["sha256"], user="../root")
            assert ops(h) == ["disk-use", "export"]
            job = await c.restore(name, meta["sha256"], user="alice")
            job = await c.wait_job(job["id"], poll=0.05, timeout=10)
            assert job["state"] == "done", job
            res = job["result"]
            assert res["restored"] == ["home/alice"]
            safety = res["safety_archive"]
            assert safety.startswith("jhub-home-")
            # order: export, room for the safety export, safety export, restore in three steps
            assert ops(h) == ["disk-use", "export", "disk-use", "export", "restore-extract",
                              "restore-swap", "restore-discard"]
            safety_meta = await c.get_archive(safety)
            assert safety_meta["kind"] == "safety"
            restore = h.api.created[-2]
            assert [m["Target"] for m in restore["HostConfig"]["Mounts"]] == ["/dst/home", "/backups"]
            # full restore
            job = await c.wait_job((await c.restore(name, meta["sha256"]))["id"], poll=0.05,
                                   timeout=10)
            assert job["state"] == "done", job
            assert job["result"]["restored"] == ["home", "exchange", "data"]
            assert job["result"]["safety_archive"].startswith("jhub-all-")
    run(go())


def test_failed_helper_leaves_no_archive(tmp_path):
    async def go():
        async with Harness(tmp_path, fail_exit=2) as h:
            job = await h.client.wait_job((await h.client.export("home"))["id"], poll=0.05,
                                          timeout=10)
            assert job["state"] == "failed" and "status 2" in job["error"]
            assert os.listdir(h.dir) == []
            for _ in range(100):
                if h.api.removed:
                    break
                await asyncio.sleep(0.01)
            assert h.api.removed  # removed even on failure
    run(go())


def test_prune_and_settings(tmp_path):
    async def go():
        async with Harness(tmp_path) as h:
            c = h.client
            names = []
            for _ in range(4):
                job = await c.wait_job((await c.export("data"))["id"], poll=0.05, timeout=10)
                names.append(job["result"]["name"])
            res = await c.prune(keep=1)
            assert len(res["kept"]) == 1 and len(res["deleted"]) == 3
            assert [a["name"] for a in await c.list_archives()] == res["kept"]
            res = await c.prune(days=1)  # the last archive is never deleted
            assert res["deleted"] == []
            with pytest.raises(SidecarError):
                await c.prune(keep=0)
            s = await c.get_settings()
            assert s["schedule"]["enabled"] is False
            s = await c.set_settings({"schedule": {"enabled": True, "time": "03:00"},
                                      "retention": {"keep": 3}})
            assert s["schedule"] == {"enabled": True, "time": "03:00", "target": "all"}
            assert s["retention"]["keep"] == 3
            assert json.loads((h.dir / ".settings.json").read_text())["retention"]["keep"] == 3
            with pytest.raises(SidecarError):
                await c.set_settings({"schedule": {"time": "7pm"}})
    run(go())


def test_scheduled_tick(tmp_path):
    import datetime as dt

    async def go():
        async with Harness(tmp_path) as h:
            h.sidecar.store.save_settings({"schedule": {"enabled": True, "time": "02:00",
                                                        "target": "home"},
                                           "retention": {"keep": 2, "days": None}})
            now = dt.datetime(2030, 1, 1, 2, 5)
            job = await h.sidecar.scheduled_tick(now)
            assert job is not None
            job = await h.client.wait_job(job.id, poll=0.05, timeout=10)
            assert job["state"] == "done" and job["result"]["kind"] == "scheduled"
            assert await h.sidecar.scheduled_tick(now) is None  # once a day
    run(go())


def test_refusals_of_a_new_job_say_why(tmp_path):
    """507 without room on the archives volume (the figures in the detail), 503 once stopping;
    nothing is started, and the jobs still answer."""
    async def go():
        async with Harness(tmp_path, disk_use=1 << 50) as h:
            with pytest.raises(SidecarError) as e:
                await h.client.export("home")
            assert e.value.status == 507 and e.value.code == "no_space"
            assert e.value.detail["needed"] > 1 << 50 and "not enough free space" in e.value.message
            assert ops(h) == ["disk-use"]
            assert await h.sidecar.jobs.shutdown(1) is True
            with pytest.raises(SidecarError) as e:
                await h.client.export("home")
            assert e.value.status == 503 and e.value.code == "stopping"
            assert ops(h) == ["disk-use"] and await h.client.jobs() == []
    run(go())


def test_jobs_are_read_back_from_their_files(tmp_path):
    async def go():
        async with Harness(tmp_path, persist=True) as h:
            job = await h.client.wait_job((await h.client.export("data"))["id"], poll=0.05, timeout=10)
        assert job["state"] == "done"
        assert os.listdir(h.dir / ".jobs") == [job["id"] + ".json"]
        again = JobManager(logging.getLogger("test"), JobStore(str(h.dir)))
        assert again.get(job["id"]).to_json() == job
    run(go())
