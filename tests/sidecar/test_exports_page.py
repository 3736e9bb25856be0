"""The admin sees what the sidecar did: the service's Exports page (in process, a fixed admin)
against the sidecar's own HTTP app (in process, with the fake Docker API): a restore that a
restart interrupted and the recovery completed, with its safety archive, and the refusal of an
export without room, in French."""
import sys
import time
from pathlib import Path

from jhub_admin_service.sidecar.jobs import Job, JobStore

from test_api import SECRET, Harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from inprocess import InProcessService  # noqa: E402

ARCHIVE = "jhub-all-20261125T215258Z-ef7018.tar.gz"
SAFETY = "jhub-all-20261126T080000Z-0a0b0c.tar.gz"


def interrupted_restore(backups: Path) -> Job:
    """The file of a full restore that a crash stopped during its swap."""
    job = Job.from_json({"kind": "restore", "params": {"archive": ARCHIVE}, "state": "running",
                         "phase": "restore", "started": time.time() - 5,
                         "result": {"archive": ARCHIVE, "restored": [], "safety_archive": SAFETY,
                                    "targets": ["home", "exchange", "data"], "user": None},
                         "journal": {"step": "swap", "archive": ARCHIVE, "user": None,
                                     "targets": ["home", "exchange", "data"], "compressor": "gzip"}})
    JobStore(str(backups)).save(job)
    return job


async def service_for(h, tmp_path, monkeypatch):
    (tmp_path / "sidecar.secret").write_text(SECRET + "\n")
    return InProcessService(tmp_path, monkeypatch, env={
        "JHUB_ADMIN_SIDECAR_URL": h.url, "JHUB_ADMIN_SIDECAR_SECRET_FILE": str(tmp_path / "sidecar.secret")})


async def test_the_page_shows_a_restore_completed_after_a_restart(tmp_path, monkeypatch):
    job = interrupted_restore(tmp_path / "backups")
    async with Harness(tmp_path, persist=True) as h:
        h.sidecar.recover()  # what the sidecar does at start, before it listens
        ops = [b["Labels"]["org.jhub-admin.operation"] for b in h.api.created]
        assert ops == ["restore-swap", "restore-discard"]
        recovered = await h.client.job(job.id)
        assert recovered["state"] == "done" and recovered["recovery"] == "completed_after_restart"
        assert recovered["result"]["restored"] == ["home", "exchange", "data"]
        svc = await service_for(h, tmp_path, monkeypatch)
        try:
            page = (await svc.fetch("exports")).body.decode()
            assert "Interrompue par un redémarrage du conteneur d&#x27;exportation, et terminée à son démarrage." in page
            assert f"Exportation de sécurité faite avant la restauration\u00a0: {SAFETY}" in page
            page = (await svc.fetch("exports", lang="en")).body.decode()
            assert "and completed at its start." in page
        finally:
            svc.close()


async def test_the_page_says_why_an_export_is_refused(tmp_path, monkeypatch):
    async with Harness(tmp_path, disk_use=1 << 50) as h:
        svc = await service_for(h, tmp_path, monkeypatch)
        try:
            r = await svc.fetch("exports/export", method="POST", body="target=home")
            assert r.code == 303
            flash = r.headers["Set-Cookie"].split(";")[0]  # the message shown on the next page
            page = (await svc.fetch("exports", headers={"Cookie": flash})).body.decode()
            assert "Pas assez d&#x27;espace libre sur le volume des archives" in page
            assert "1\u202f024\u202fTo" in page  # the estimate (the fake measures 2^50 bytes), in French
        finally:
            svc.close()
