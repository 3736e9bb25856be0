"""A leaver's ZIP: the owner's own files only, no link followed, opens with any unzip; expiry."""
import os
import subprocess
import time
import zipfile

from jhub_admin_service.accounts.handover import delete_expired, listed, write_home_zip


def test_the_zip_holds_the_owner_s_work_and_nothing_a_link_or_another_owner_brings(tmp_path):
    home, secret = tmp_path / "jade.perin", tmp_path / "secret"
    (home / "TP" / "données").mkdir(parents=True)
    (home / "TP" / "données" / "élèves.csv").write_text("nom;note\n", encoding="utf-8")
    (home / "devoir.ipynb").write_text("{}")
    (home / ".cache").mkdir()
    (home / ".cache" / "big").write_bytes(b"x" * 1000)
    (home / ".bash_history").write_text("ls")
    secret.write_text("root:$y$...:")
    (home / "lien").symlink_to(secret)
    (home / "dossier-lien").symlink_to(tmp_path)
    os.mkfifo(home / "tube")
    other = home / "du-prof.ipynb"
    other.write_text("{}")
    uid = os.stat(home / "devoir.ipynb").st_uid
    os.chown(other, uid + 1, -1)
    dest = tmp_path / "jade.perin.zip"
    assert write_home_zip(str(home), uid, str(dest)) == 2
    with zipfile.ZipFile(dest) as z:
        assert sorted(z.namelist()) == ["TP/données/élèves.csv", "devoir.ipynb"]
        assert z.read("TP/données/élèves.csv") == "nom;note\n".encode()
        assert z.testzip() is None
        assert all(i.flag_bits & 0x800 for i in z.infolist() if not i.filename.isascii())  # UTF-8 names
    assert oct(dest.stat().st_mode & 0o777) == "0o600" and not (tmp_path / "jade.perin.zip.partial").exists()


def test_zips_are_listed_with_their_expiry_and_deleted_after_it(tmp_path):
    for name, age_days in (("lea.dupont-20250701-100000.zip", 400), ("noe.martin-20260701-100000.zip", 10)):
        path = tmp_path / name
        path.write_bytes(b"PK")
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    kept = listed(str(tmp_path), keep_days=365)
    assert [(h.login, round((h.expires - h.created) / 86400)) for h in kept] == [("noe.martin", 365), ("lea.dupont", 365)]
    assert delete_expired(str(tmp_path), keep_days=365) == ["lea.dupont-20250701-100000.zip"]
    assert [h.login for h in listed(str(tmp_path), 365)] == ["noe.martin"]


def test_a_sparse_or_too_large_file_and_a_deep_tree_cost_the_zip_nothing(tmp_path):
    home = tmp_path / "eleve6"
    home.mkdir()
    deep = "/".join(["d"] * 1100)  # deeper than Python's recursion limit
    subprocess.run(["sh", "-c", f"mkdir -p {deep} && echo ok > {deep}/fond.txt"], cwd=home, check=True)
    with open(home / "creux", "wb") as f:
        f.truncate(15 << 40)  # 15 TB of nothing
    (home / "gros.bin").write_bytes(os.urandom(3000))
    (home / "petit.txt").write_text("travail")
    uid = os.stat(home / "petit.txt").st_uid
    started = time.monotonic()
    assert write_home_zip(str(home), uid, str(tmp_path / "z.zip"), max_bytes=2500) == 2
    assert time.monotonic() - started < 60  # a sanity bound, not a benchmark: reading 15 TB never ends
    with zipfile.ZipFile(tmp_path / "z.zip") as z:
        names = z.namelist()
        note = z.read("LISEZMOI - fichiers non inclus.txt").decode()
    assert "petit.txt" in names and any(n.endswith("d/fond.txt") and n.count("d/") == 1100 for n in names)
    assert "creux" in note and "gros.bin" in note and "creux" not in names
    # Gone now: pytest's own cleanup of old temporary folders recurses, and fails on such a tree.
    subprocess.run(["rm", "-rf", str(home / "d")], check=True)


def test_the_archives_of_removed_accounts_and_their_records_expire_with_the_zips(tmp_path):
    from jhub_admin_service.accounts import departures
    from jhub_admin_service.accounts.registry import Account

    archive = tmp_path / "jade.perin-20260706-140000.tar.gz"
    archive.write_bytes(b"tar")
    departures.write_record(str(archive), Account(login="jade.perin", uid=10042, gid=10042, role="student",
                                                  first_name="Jade", last_name="Perin", password_hash="$y$secret"))
    [found] = departures.listed(str(tmp_path))
    assert found.account["uid"] == 10042 and "password_hash" not in found.account
    assert "secret" not in (tmp_path / "jade.perin-20260706-140000.account.json").read_text()
    assert departures.find(str(tmp_path), "../jade.perin-20260706-140000.tar.gz") is None
    mtime = archive.stat().st_mtime
    assert departures.delete_expired(str(tmp_path), 365, now=mtime + 364 * 86400) == []
    assert departures.delete_expired(str(tmp_path), 365, now=mtime + 365 * 86400) == [archive.name]
    assert list(tmp_path.iterdir()) == []


def test_a_leaver_whose_home_is_in_the_year_s_export_has_a_record_that_names_it(tmp_path):
    """Issue 22: a leaver of a year's close keeps no tar.gz; the record names the year's export."""
    from jhub_admin_service.accounts import departures
    from jhub_admin_service.accounts.registry import Account

    leaver = Account(login="jade.perin", uid=10042, gid=10042, role="student", first_name="Jade",
                     last_name="Perin", password_hash="$y$secret")
    export = {"name": "jhub-all-2026-2027-20270705-120000.tar.zst", "sha256": "ab" * 32, "size": 9}
    path = departures.write_export_record(str(tmp_path), leaver, export, size=4096, when=1783339200)
    name = os.path.basename(path)
    assert departures.RECORD_NAME.match(name) and "secret" not in open(path).read()
    [found] = departures.listed(str(tmp_path))
    assert (found.archive, found.size, found.login) == (name, 4096, "jade.perin")
    assert found.export == {"name": export["name"], "sha256": export["sha256"]}
    assert departures.find(str(tmp_path), "../" + name) is None
    # A record whose export is not named (or a tar.gz's record read by its own name) is not one.
    other = tmp_path / "leo.blanc-20270705-120000.account.json"
    other.write_text('{"login": "leo.blanc", "uid": 1, "gid": 1, "role": "student", "first_name": "", '
                     '"last_name": "", "email": "", "identity_key": "", "external_id": "", "export": "x"}')
    assert departures.find(str(tmp_path), other.name) is None
    tarball = tmp_path / "zoe.roux-20270705-120000.tar.gz"
    tarball.write_bytes(b"tar")
    departures.write_record(str(tarball), Account(login="zoe.roux", uid=10043, gid=10043, role="student"))
    assert departures.find(str(tmp_path), "zoe.roux-20270705-120000.account.json") is None
    assert {d.login for d in departures.listed(str(tmp_path))} == {"jade.perin", "zoe.roux"}
    # Its end: the record goes with the handover period; nothing else is touched.
    mtime = os.stat(path).st_mtime
    gone = departures.delete_expired(str(tmp_path), 365, now=mtime + 365 * 86400)
    assert name in gone and not os.path.exists(path) and other.exists()


def test_what_does_not_shrink_is_stored_and_everything_reads_back(tmp_path):
    import zipfile

    from jhub_admin_service.accounts import handover

    home = tmp_path / "home"
    home.mkdir()
    (home / "photo.jpg").write_bytes(os.urandom(300_000))
    (home / "devoir.ipynb").write_text('{"cells": []}\n' * 20_000)
    (home / "vide.txt").write_bytes(b"")
    assert handover.write_home_zip(str(home), os.getuid(), str(tmp_path / "h.zip")) == 3
    with zipfile.ZipFile(tmp_path / "h.zip") as z:
        kinds = {i.filename: i.compress_type for i in z.infolist()}
        assert z.testzip() is None and z.read("photo.jpg") == (home / "photo.jpg").read_bytes()
    assert kinds == {"photo.jpg": zipfile.ZIP_STORED, "devoir.ipynb": zipfile.ZIP_DEFLATED,
                     "vide.txt": zipfile.ZIP_STORED}
