"""Page logic that needs no real hub: 2,000 accounts stay instant, the exports page against a
fake sidecar, the catalogues."""
import hashlib
import json
import re
import time

import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from inprocess import InProcessService

from jhub_admin_service.accounts.registry import Account
from jhub_admin_service.service import catalogues, i18n


@pytest.fixture
async def service(tmp_path, monkeypatch):
    svc = InProcessService(tmp_path, monkeypatch)
    yield svc
    svc.close()


def fill_registry(registry, n=2000):
    with registry.transaction() as db:
        for i in range(n):
            registry.insert(db, Account(login=f"eleve{i:04d}", uid=10000 + i, gid=10000 + i, role="student",
                                        classes=[f"C{i % 60:02d}"], first_name="Prénom", last_name=f"NOM{i:04d}",
                                        password_hash="$y$x"))


async def test_two_thousand_accounts_stay_instant(service):
    fill_registry(service.ctx.operations.registry)
    timings = {}
    for path in ("accounts", "accounts?page=40", "accounts?q=nom1999", "accounts?class=C07&role=student",
                 "api/accounts?limit=50&offset=1950", ""):
        start = time.perf_counter()
        r = await service.fetch(path)
        timings[path] = time.perf_counter() - start
        assert r.code == 200, (path, r.body[:300])
    body = (await service.fetch("accounts?page=40")).body.decode()
    assert body.count("<tr>") == 51 and "eleve1999" in body and "2000 comptes" in body
    assert "eleve1999" in (await service.fetch("accounts?q=nom1999")).body.decode()
    print(timings)
    assert max(timings.values()) < 0.5, timings
    data = json.loads((await service.fetch("api/accounts?limit=50&offset=1950")).body)
    assert data["total"] == 2000 and len(data["accounts"]) == 50


async def test_the_accounts_list_tells_namesakes_of_a_class_apart(service):
    """Issue 21, point 6: two Léa Martin of 2nde 3 are told apart by their birth dates; a Léa
    Martin of another class, and everyone else, show none."""
    registry = service.ctx.operations.registry
    people = [("lea.martin", "2nde3", "11/03/2009"), ("lea.martin2", "2nde3", "02/10/2009"),
              ("lea.martin3", "1G2", "05/05/2008")]
    with registry.transaction() as db:
        for i, (login, klass, born) in enumerate(people):
            registry.insert(db, Account(login=login, uid=10000 + i, gid=10000 + i, role="student", classes=[klass],
                                        first_name="Léa", last_name="MARTIN", birth_date=born, password_hash="$y$x"))
    body = (await service.fetch("accounts")).body.decode()
    assert body.count("Homonyme") == 2 and "11/03/2009" in body and "02/10/2009" in body
    assert "05/05/2008" not in body
    assert "born on 02/10/2009" in (await service.fetch("accounts", lang="en")).body.decode()


async def test_dashboard_without_hub_nor_sidecar(service):
    r = await service.fetch("")
    text = r.body.decode()
    assert r.code == 200 and "pas configuré sur ce serveur" in text
    r = await service.fetch("", lang="en")
    assert "Server administration" in r.body.decode()


async def test_engine_messages_are_translated(service):
    data = b"login;password;role\nroot;Passw0rd-long;eleve\nAB CD;Passw0rd-long;eleve\nx.y;Passw0rd-long;chef\n"
    r = await service.fetch("api/imports?dry_run=1", method="POST", body=data)
    reasons = [x["reason"] for x in json.loads(r.body)["rejected"]]
    locale = i18n.get_locale("fr")
    french = [i18n.translate_engine(locale, reason) for reason in reasons]
    assert all(f != e for f, e in zip(french, reasons)), list(zip(reasons, french))
    assert i18n.translate_engine(locale, "duplicate login 'a.b' on lines 2, 3") == \
        "identifiant «\u00a0a.b\u00a0» en double aux lignes 2, 3"
    r = await service.fetch("api/imports?dry_run=1", method="POST", body=b"\x00\x01\x02" * 100)
    assert r.code == 400 and "binary" in json.loads(r.body)["error"]


def test_catalogues_cover_every_message():
    assert catalogues.check_catalogues() == []


class FakeSidecar:
    """The sidecar's documented API, in memory (the real one is tested with Docker)."""

    def __init__(self, secret):
        self.secret = secret
        data = b"archive-bytes-" * 50000
        self.archives = {"jhub-all-20261125-0200.tar.zst": {
            "name": "jhub-all-20261125-0200.tar.zst", "target": "all", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "created": "2026-11-25T02:00:00Z", "created_ts": time.time(),
            "kind": "scheduled", "data": data}}
        self.jobs, self.settings, self.restores = {}, {"schedule": {"enabled": False, "time": "02:00",
                                                                    "target": "all"},
                                                       "retention": {"keep": 7, "days": None}}, []

    def public(self, a):
        return {k: v for k, v in a.items() if k != "data"}

    def app(self):
        fake = self

        class H(web.RequestHandler):
            def prepare(self):
                if self.request.headers.get("Authorization") != f"Bearer {fake.secret}":
                    raise web.HTTPError(401)

            def body(self):
                return json.loads(self.request.body or b"{}")

        class Archives(H):
            def get(self):
                self.write({"archives": [fake.public(a) for a in fake.archives.values()]})

        class Archive(H):
            def get(self, name):
                if name not in fake.archives:
                    raise web.HTTPError(404)
                self.write(fake.public(fake.archives[name]))

            def delete(self, name):
                fake.archives.pop(name)
                self.write({"deleted": name})

        class Download(H):
            def get(self, name):
                data = fake.archives[name]["data"]
                start, end = map(int, self.request.headers["Range"].split("=")[1].split("-"))
                self.set_status(206)
                self.write(data[start:end + 1])

        class Verify(H):
            def post(self, name):
                a = fake.archives[name]
                self.write({"ok": True, "sha256": a["sha256"], "recorded_sha256": a["sha256"], "size": a["size"]})

        class Restore(H):
            def post(self, name):
                if not self.body().get("user"):  # the hub runs: the sidecar's refusal, as it words it
                    self.set_status(409)
                    self.write({"error": "the volumes to restore are in use by running container(s) "
                                         "jhub-admin-hub-1 ...", "status": 409, "code": "volume_in_use",
                                "detail": {"containers": ["jhub-admin-hub-1"]}})
                    return
                fake.restores.append((name, self.body()))
                fake.jobs["r1"] = {"id": "r1", "kind": "restore", "state": "running", "bytes": 0}
                self.write({"job": fake.jobs["r1"]})

        class Exports(H):
            def post(self):
                job = {"id": "e1", "kind": "export", "state": "running", "phase": "export home", "bytes": 1234,
                       "target": self.body()["target"]}
                fake.jobs["e1"] = job
                self.write({"job": job})

        class Jobs(H):
            def get(self):
                self.write({"jobs": list(fake.jobs.values())})

        class Job(H):
            def get(self, job_id):
                self.write(fake.jobs[job_id])

        class Info(H):
            def get(self):
                self.write({"compressor": "zstd", "discovery": {"project": "lycee-jhub"}, "busy": False})

        class Settings(H):
            def get(self):
                self.write(fake.settings)

            def put(self):
                fake.settings.update(self.body())
                self.write(fake.settings)

        return web.Application([
            (r"/api/archives", Archives), (r"/api/archives/([^/]+)", Archive),
            (r"/api/archives/([^/]+)/download", Download), (r"/api/archives/([^/]+)/verify", Verify),
            (r"/api/archives/([^/]+)/restore", Restore), (r"/api/exports", Exports), (r"/api/jobs", Jobs),
            (r"/api/jobs/([^/]+)", Job), (r"/api/settings", Settings), (r"/api/info", Info)])


async def test_exports_page_against_a_fake_sidecar(tmp_path, monkeypatch):
    fake = FakeSidecar("s3cret")
    sock, port = bind_unused_port()
    server = HTTPServer(fake.app())
    server.add_sockets([sock])
    (tmp_path / "sidecar.secret").write_text("s3cret\n")
    svc = InProcessService(tmp_path, monkeypatch, env={"JHUB_ADMIN_SIDECAR_URL": f"http://127.0.0.1:{port}",
                                                       "JHUB_ADMIN_SIDECAR_SECRET_FILE": str(tmp_path / "sidecar.secret")})
    try:
        name = "jhub-all-20261125-0200.tar.zst"
        r = await svc.fetch("exports")
        text = r.body.decode()
        assert r.code == 200 and name in text and "planifiée" in text and fake.archives[name]["sha256"] in text
        # Every tick box says what it is for (its <label for=...>).
        for box_id in re.findall(r'<input[^>]*type="checkbox"[^>]*id="([^"]+)"', text):
            assert f'for="{box_id}"' in text, box_id
        assert not re.search(r'<input(?![^>]*\bid=)[^>]*type="checkbox"', text)
        assert "Dernière exportation" in (await svc.fetch("")).body.decode()
        r = await svc.fetch("exports/export", method="POST", body="target=home")
        assert r.code == 303 and "job=e1" in r.headers["Location"] and fake.jobs["e1"]["target"] == "home"
        page = (await svc.fetch("exports?job=e1")).body.decode()
        assert "exportation des dossiers personnels" in page and "export home" not in page.replace('"export home"', "")
        assert json.loads((await svc.fetch("api/exports/jobs/e1")).body)["bytes"] == 1234
        r = await svc.fetch(f"exports/archives/{name}/download")
        assert r.code == 200 and r.body == fake.archives[name]["data"]
        assert "attachment" in r.headers["Content-Disposition"]
        r = await svc.fetch(f"exports/archives/{name}/verify", method="POST", body="")
        assert r.code == 303
        r = await svc.fetch(f"exports/archives/{name}/restore")
        assert "sha256" in r.body.decode()
        r = await svc.fetch(f"exports/archives/{name}/restore", method="POST", body="sha256=deadbeef&user=")
        assert r.code == 200 and "8 premiers" in r.body.decode() and not fake.restores  # refused
        sha = fake.archives[name]["sha256"]
        r = await svc.fetch(f"exports/archives/{name}/restore", method="POST", body=f"sha256={sha[:8]}&user=")
        text = r.body.decode()  # a full restore under the running hub: said in French, with the commands
        assert r.code == 200 and "Une restauration complète remplace des volumes" in text
        assert "(jhub-admin-hub-1)" in text and f"exports restore {name} --sha256 {sha}" in text
        assert "docker compose -p lycee-jhub -f docker/compose.yaml stop hub" in text  # the sidecar's project
        assert not fake.restores
        r = await svc.fetch(f"exports/archives/{name}/restore", method="POST", body=f"sha256={sha[:8]}&user=lea.dupont")
        assert r.code == 303 and fake.restores == [(name, {"sha256": sha, "user": "lea.dupont"})]
        r = await svc.fetch("exports/settings", method="POST", body="enabled=1&time=03:15&target=all&keep=5&days=30")
        assert r.code == 303 and fake.settings["schedule"] == {"enabled": True, "time": "03:15", "target": "all"}
        assert fake.settings["retention"] == {"keep": 5, "days": 30}
        r = await svc.fetch(f"exports/archives/{name}/delete", method="POST", body="")
        assert r.code == 303 and name in fake.archives  # not confirmed
        r = await svc.fetch(f"exports/archives/{name}/delete", method="POST", body="confirm=1")
        assert r.code == 303 and name not in fake.archives
        # The sidecar gone: a clear message, the page still shows
        server.stop()
        r = await svc.fetch("exports")
        text = r.body.decode()
        assert r.code == 200 and ("ne répond pas" in text or "a refusé" in text)
    finally:
        server.stop()
        svc.close()


async def test_paste_preview_and_reset_option(service):
    fill_registry(service.ctx.operations.registry, n=3)
    text = "identifiant;nom;prénom;classe\neleve0000;NOM0000;Prénom;C00\neleve0001;NOM0001;Prénom;C99\nroot;X;Y;C00\n"
    from urllib.parse import urlencode
    r = await service.fetch("import", method="POST", body=urlencode({"text": text}))
    assert r.code == 303 and "/import/preview/" in r.headers["Location"]
    preview = r.headers["Location"].split("/services/jhub-admin/")[1]
    page = (await service.fetch(preview)).body.decode()
    assert "texte collé" in page and "liste avec en-tête" in page
    assert "Inchangés\u00a0: 1" in page and "À modifier\u00a0: 1" in page and "Rejetés\u00a0: 1" in page
    assert "Absents du fichier\u00a0: 1" in page and "nom réservé au système" in page  # root, translated
    assert "C01 → C99" in page
    page = (await service.fetch(preview + "?reset=1")).body.decode()
    assert "À modifier\u00a0: 2" in page and "nouveau mot de passe" in page
    r = await service.fetch("import", method="POST", body=urlencode({"text": ""}))
    assert r.code == 400 and "Choisissez un fichier" in r.body.decode()
    assert (await service.fetch("import/preview/unknown")).code == 404


async def test_an_admin_cannot_lock_themselves_out(service):
    registry = service.ctx.operations.registry
    with registry.transaction() as db:
        registry.insert(db, Account(login="admin", uid=9999, gid=9999, role="admin", password_hash="$y$x"))
    for path, body in (("accounts/admin/disable", ""), ("accounts/admin/remove", "confirm=admin"),
                       ("accounts/admin/change", "role=teacher&classes=")):
        r = await service.fetch(path, method="POST", body=body)
        assert r.code == 400 and "votre propre compte" in r.body.decode(), path
    r = await service.fetch("api/accounts/admin", method="DELETE", lang="en")
    assert r.code == 400 and "your own account" in json.loads(r.body)["error"]
    assert registry.get("admin").role == "admin" and not registry.get("admin").disabled


async def test_a_new_year_s_lists_uploaded_together_are_previewed_as_one(service):
    """The Import page's file field with several files (as the browser sends them: one "file"
    part each): one preview, each line told by its file, the absent proposed as leavers."""
    from pathlib import Path

    from inprocess import multipart

    fill_registry(service.ctx.operations.registry, n=2)
    folder = Path(__file__).resolve().parents[1] / "data" / "rosters"
    parts, content_type = multipart({}, [(name, (folder / name).read_bytes())
                                         for name in ("siecle-eleves-par-division.csv", "ent-export-comptes.csv")])
    r = await service.fetch("import", method="POST", body=parts, headers={"Content-Type": content_type})
    assert r.code == 303 and "/import/preview/" in r.headers["Location"], r.body[:500]
    page = (await service.fetch(r.headers["Location"].split("/services/jhub-admin/")[1])).body.decode()
    assert "siecle-eleves-par-division.csv, ent-export-comptes.csv" in page
    assert "export SIECLE + export ENT" in page
    assert "siecle-eleves-par-division.csv:2<" in page and "ent-export-comptes.csv:2<" in page
    assert "Absents du fichier\u00a0: 2" in page and "eleve0000" in page


async def test_a_header_of_other_columns_is_refused_and_a_weak_password_is_flagged_in_the_preview(service):
    """Issue 20, points 10 and 11, on the Import page as the admin pastes a list."""
    import html
    from urllib.parse import urlencode

    r = await service.fetch("import", method="POST", body=urlencode({"text": "Classe;Date\n2nde1;12/09/2026\n"}))
    refused = await service.fetch(r.headers["Location"].split("/services/jhub-admin/")[1])
    page = html.unescape(refused.body.decode())
    assert refused.code == 400 and "'Classe', 'Date'" in page and "identifiant" in page, page[-2000:]
    assert "jha-count-create" not in page  # no plan at all
    r = await service.fetch("import", method="POST", body=urlencode({"text": "eleve.court;abc;\neleve.long;Assez-long-12;\n"}))
    assert r.code == 303, r.body[:500]
    page = html.unescape((await service.fetch(r.headers["Location"].split("/services/jhub-admin/")[1])).body.decode())
    weak = page[page.index('id="jha-weak-passwords"'):]
    weak = weak[:weak.index("</table>")]
    assert "Mots de passe faibles (1)" in page and "eleve.court" in weak and "eleve.long" not in weak
    assert "un mot de passe de 3 caractère(s), plus court que les 8 que demande la page du mot de passe" in weak
    assert "À créer\u00a0: 2" in page  # still applied if the admin confirms
