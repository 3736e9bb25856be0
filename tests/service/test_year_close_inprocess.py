"""The close of the school year, from its page, in a service without a sidecar: the preview in
French, the confirmation, and the refusal to close without a verified export (nothing done)."""
import html
import json
import re
from urllib.parse import urlencode

import pytest

from inprocess import InProcessService

from jhub_admin_service.accounts.registry import Account


@pytest.fixture
async def service(tmp_path, monkeypatch):
    svc = InProcessService(tmp_path, monkeypatch)
    registry = svc.ctx.operations.registry
    with registry.transaction() as db:
        for i, (login, role, classes, leaving) in enumerate((
                ("admin", "admin", [], False), ("marie.martin", "teacher", [], True),
                ("jade.perin", "student", ["TG1"], True), ("leo.durand", "student", ["2NDE1"], False))):
            registry.insert(db, Account(login=login, uid=3000 + i, gid=3000 + i, role=role, classes=classes,
                                        leaving=leaving, first_name=login.split(".")[0].title(),
                                        last_name=login.split(".")[-1].upper(), password_hash="$y$x"))
    svc.ctx.operations.courses.create("cours_marie_martin", "marie.martin", as_default=True)
    svc.ctx.operations.courses.enrol("cours_marie_martin", classes=["2NDE1", "TG1"])
    yield svc
    svc.close()


async def test_the_preview_says_what_the_close_does_in_french(service):
    page = html.unescape((await service.fetch("year")).body.decode())
    assert "Clôturer l'année scolaire 2026-2027" in page and "year/close?school_year=2026-2027" in page
    page = html.unescape((await service.fetch("year/close?school_year=2026-2027")).body.decode())
    plan = re.search(r'<ol id="jha-close-plan">(.*?)</ol>', page, re.S).group(1)
    assert "Un export vérifié de tout" in plan and "au nom de l'année 2026-2027" in plan
    assert "1 partant supprimé" in plan and "jade.perin" in plan
    # A teacher marked as leaving is named apart: a rollover never removes staff.
    assert "jamais supprimés par un changement d'année" in plan and "marie.martin" in plan
    assert "cours_marie_martin" in plan and "2NDE1, TG1" in plan
    assert "2 élèves quittent leurs classes" in plan
    assert 'name="confirm"' in page and "Pour clôturer l'année, tapez 2026-2027" in page
    data = json.loads((await service.fetch("api/year/close?school_year=2026-2027")).body)
    assert [leaver["login"] for leaver in data["leavers"]] == ["jade.perin"] and data["kept_staff"] == ["marie.martin"]


async def test_the_close_is_typed_again_and_never_runs_without_a_verified_export(service):
    r = await service.fetch("year/close", method="POST", body=urlencode({"school_year": "2026-2027", "confirm": "2026"}))
    assert r.code == 303 and "year/close?school_year=2026-2027" in r.headers["Location"]
    assert service.ctx.jobs.list() == []
    r = await service.fetch("year/close", method="POST",
                            body=urlencode({"school_year": "2026-2027", "confirm": "2026-2027"}))
    assert r.code == 303 and "/jobs/" in r.headers["Location"]
    job = await service.ctx.jobs.wait(r.headers["Location"].rsplit("/", 1)[1], timeout=60)
    assert job.state == "failed" and "verified export" in job.error
    registry = service.ctx.operations.registry
    assert registry.get("jade.perin") is not None and registry.get("leo.durand").classes == ["2NDE1"]
    page = html.unescape((await service.fetch("jobs/" + job.id)).body.decode())
    assert "clôture de l'année" in page
    r = await service.fetch("api/year/close", method="POST", body={"school_year": "2026/2027"}, lang="en")
    assert r.code == 400 and "invalid school year" in json.loads(r.body)["error"]
