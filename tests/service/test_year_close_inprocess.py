"""The close of the school year, from its page, in a service without a sidecar: the preview in
French, the confirmation, and the refusal to close without a verified export (nothing done)."""
import html
import json
import re
from urllib.parse import urlencode

import pytest

from inprocess import InProcessService, multipart

from jhub_admin_service.accounts.registry import Account

PREFIX = "/services/jhub-admin/"


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


NEXT_YEAR = ("eleves.csv", b"login;password;role;class\njade.perin;;student;1ERE1\nnina.petit;Nina-Passw0rd-42;student;2NDE1\n")


async def test_the_close_previewed_with_the_next_year_s_lists_opens_it_in_the_same_step(service):
    """Issue 22: the next year's lists uploaded on the close's page make one preview: the pupils
    they do not name leave, the new ones are listed, one button does both; nothing is done until
    the year's export is verified."""
    body, content_type = multipart({"school_year": "2026-2027"}, [NEXT_YEAR])
    r = await service.fetch("year/close/lists", method="POST", body=body, headers={"Content-Type": content_type})
    assert r.code == 303 and "year/close?school_year=2026-2027&next=" in r.headers["Location"], r.body[:300]
    location = r.headers["Location"].split(PREFIX, 1)[1]
    page = html.unescape((await service.fetch(location)).body.decode())
    plan = re.search(r'<ol id="jha-close-plan">(.*?)</ol>', page, re.S).group(1)
    leavers = re.search(r'<li id="jha-close-leavers">(.*?)</li>', plan, re.S).group(1)
    # Marked (jade.perin, though the lists name her) and absent from the lists (leo.durand).
    assert "2 partants supprimés" in leavers and "jade.perin" in leavers and "leo.durand" in leavers
    assert "ceux que les nouvelles listes ne nomment pas" in leavers
    opens = re.search(r'<li id="jha-close-open">(.*?)</ul>', plan, re.S).group(1)
    assert "L'année suivante s'ouvre" in opens and "1 nouveau compte\u00a0: nina.petit" in opens
    assert "Prévisualisé avec\u00a0: eleves.csv" in page and "Clôturer l'année et ouvrir la suivante" in page
    next_id = re.search(r'name="next" value="([^"]+)"', page).group(1)

    body, content_type = multipart({"school_year": "2026-2027"}, [NEXT_YEAR])
    r = await service.fetch("api/year/close?dry_run=1", method="POST", body=body,
                            headers={"Content-Type": content_type})
    data = json.loads(r.body)
    assert [leaver["login"] for leaver in data["leavers"]] == ["leo.durand", "jade.perin"]
    assert data["next_year"]["counts"]["create"] == 1 and data["problems"] == []

    # Without a sidecar the close fails at its export: nobody marked, removed or created.
    r = await service.fetch("year/close", method="POST", body=urlencode(
        {"school_year": "2026-2027", "confirm": "2026-2027", "next": next_id}))
    assert r.code == 303 and "/jobs/" in r.headers["Location"]
    job = await service.ctx.jobs.wait(r.headers["Location"].rsplit("/", 1)[1], timeout=60)
    assert job.state == "failed" and "verified export" in job.error and job.meta["next_lists"] == "eleves.csv"
    registry = service.ctx.operations.registry
    assert not registry.get("leo.durand").leaving and registry.get("nina.petit") is None


async def test_next_year_s_lists_with_a_rejected_line_cannot_close_the_year(service):
    body, content_type = multipart({"school_year": "2026-2027"}, [
        ("eleves.csv", b"login;password;role;class\nleo.durand;;student;1ERE1\nBad Login;;student;1ERE1\n")])
    r = await service.fetch("year/close/lists", method="POST", body=body, headers={"Content-Type": content_type})
    page = html.unescape((await service.fetch(r.headers["Location"].split(PREFIX, 1)[1])).body.decode())
    assert "1 ligne refusée" in page and "ligne(s) des listes de l'année suivante sont refusées" in page
    assert 'name="confirm"' not in page
