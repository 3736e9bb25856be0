"""A course's year put away: the exchange zipped (never through a pupil's link) then emptied with
its folders kept, and the teacher's year work moved aside, converging when run again."""
import os
import zipfile

from jhub_admin_service.year.course_year import archive_exchange, empty_exchange
from jhub_admin_service.year.close import zip_is_sound
from jhub_admin_service.year.teacher_side import put_away


def test_the_exchange_is_zipped_without_following_links_then_emptied(tmp_path):
    course = tmp_path / "exchange" / "cours_x"
    for sub in ("outbound/tp1", "inbound", "feedback"):
        (course / sub).mkdir(parents=True)
    (course / "outbound" / "tp1" / "tp1.ipynb").write_text("{}")
    (course / "inbound" / "eleve.un+tp1+2027-06-01 10:00:00.000000 UTC").mkdir()
    (course / "inbound" / "eleve.un+tp1+2027-06-01 10:00:00.000000 UTC" / "tp1.ipynb").write_text("rendu")
    (course / "feedback" / "0123abcd.html").write_text("<p>bien</p>")
    secret = tmp_path / "secret.txt"
    secret.write_text("not the course's")
    (course / "inbound" / "planted").symlink_to(secret)
    dest = tmp_path / "years" / "2026-2027" / "exchange" / "cours_x.zip"
    assert archive_exchange(str(tmp_path / "exchange"), "cours_x", str(dest)) == 3
    assert zip_is_sound(str(dest))
    with zipfile.ZipFile(dest) as z:
        names = sorted(z.namelist())
    assert names == ["feedback/0123abcd.html", "inbound/eleve.un+tp1+2027-06-01 10:00:00.000000 UTC/tp1.ipynb",
                     "outbound/tp1/tp1.ipynb"]
    assert empty_exchange(str(tmp_path / "exchange"), "cours_x") == 4
    assert sorted(os.listdir(course)) == ["feedback", "inbound", "outbound"]
    assert all(os.listdir(course / sub) == [] for sub in ("feedback", "inbound", "outbound"))
    assert secret.read_text() == "not the course's"
    assert archive_exchange(str(tmp_path / "exchange"), "absent", str(tmp_path / "no.zip")) == 0
    assert not (tmp_path / "no.zip").exists()


def test_the_teacher_s_year_work_moves_aside_once(tmp_path):
    root = tmp_path / "cours_x"
    (root / "source" / "tp1").mkdir(parents=True)
    (root / "submitted" / "eleve.un" / "tp1").mkdir(parents=True)
    (root / "gradebook.db").write_bytes(b"last year")
    report = put_away(str(tmp_path), "cours_x", "2026-2027", b"xlsx")
    year = tmp_path / "archives" / "2026-2027"
    assert report["moved"] == ["gradebook.db", "submitted"]
    assert (year / "notes-cours_x-2026-2027.xlsx").read_bytes() == b"xlsx"
    assert (year / "cours_x" / "gradebook.db").read_bytes() == b"last year"
    assert (root / "source" / "tp1").is_dir() and not (root / "gradebook.db").exists()
    # Run again after the course sync made a new gradebook: the new one stays, the old one too.
    (root / "gradebook.db").write_bytes(b"new year")
    report = put_away(str(tmp_path), "cours_x", "2026-2027", b"xlsx")
    assert report["moved"] == [] and "gradebook.db" in report["already"]
    assert (root / "gradebook.db").read_bytes() == b"new year"
    assert (year / "cours_x" / "gradebook.db").read_bytes() == b"last year"
