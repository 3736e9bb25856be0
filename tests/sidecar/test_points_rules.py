"""The restore points' pure rules and their helper bodies: settings and retention, what is due,
the paths a caller may name, the restored file's name, restic's errors named by cause."""
import datetime as dt

import pytest

from jhub_admin_service.sidecar.points.policy import (
    check_due,
    escape_pattern,
    forget_flags,
    point_due,
    restored_name,
    validate_point_settings,
    validate_relpath,
    validate_snapshot,
)
from jhub_admin_service.sidecar.points.restic import backup_summary, classify
from jhub_admin_service.sidecar.template import (
    EXPORT_CAPS,
    RESTORE_CAPS,
    VolumeRefused,
    point_backup_body,
    point_restore_file_body,
)
from jhub_admin_service.sidecar.validation import ValidationError

IMAGE = "sha256:" + "1" * 64
VOLS = {"home": "p_jh_home", "exchange": "p_jh_exchange", "data": "p_jh_data"}
DAY = dt.date(2026, 12, 5)


def test_default_retention_is_7_daily_4_weekly_6_monthly_and_the_newest_is_always_kept():
    settings = validate_point_settings({})
    assert settings["keep"] == {"last": 0, "daily": 7, "weekly": 4, "monthly": 6}
    assert forget_flags(settings["keep"]) == ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6"]
    assert forget_flags({"daily": 3, "weekly": 0, "monthly": 0}) == ["--keep-daily", "3"]
    assert forget_flags({"last": 5, "daily": 1}) == ["--keep-last", "5", "--keep-daily", "1"]
    with pytest.raises(ValidationError, match="newest point"):
        validate_point_settings({"keep": {"daily": 0}})
    for bad in ({"keep": {"yearly": 1}}, {"keep": {"daily": True}}, {"time": "25:00"}, {"enabled": "yes"},
                {"what": 1}, {"keep": {"weekly": -1}}):
        with pytest.raises(ValidationError):
            validate_point_settings(bad)
    merged = validate_point_settings({"keep": {"weekly": 8}}, validate_point_settings({"time": "03:10"}))
    assert merged["time"] == "03:10" and merged["keep"] == {"last": 0, "daily": 7, "weekly": 8, "monthly": 6}


def test_the_nightly_point_is_due_once_a_day_after_its_time_and_the_check_once_a_week():
    settings = validate_point_settings({"time": "01:30"})
    night = dt.datetime(2026, 12, 7, 1, 31)
    assert point_due(settings, night, None) and point_due(settings, night, "2026-12-06")
    assert not point_due(settings, night, "2026-12-07")
    assert not point_due(settings, dt.datetime(2026, 12, 7, 1, 29), None)
    assert not point_due(dict(settings, enabled=False), night, None)
    assert check_due(None, 1000.0) and not check_due(1000.0, 1000.0 + 6 * 86400)
    assert check_due(1000.0, 1000.0 + 7 * 86400)


@pytest.mark.parametrize("path, expected", [
    ("tp/devoir.ipynb", "tp/devoir.ipynb"), ("/tp//./devoir.ipynb/", "tp/devoir.ipynb"),
    ("a b/[1] *.py", "a b/[1] *.py")])
def test_paths_inside_a_home(path, expected):
    assert validate_relpath(path) == expected


@pytest.mark.parametrize("path", ["../bob/x", "tp/../../x", "", "/", "a\x00b", ".jhub-restore-1/x", 5, "x" * 5000])
def test_paths_that_leave_the_home_or_name_nothing_are_refused(path):
    with pytest.raises(ValidationError):
        validate_relpath(path)


def test_a_restored_file_is_named_beside_the_current_one_in_the_requester_s_language():
    assert restored_name("devoir.ipynb", DAY) == "devoir (restauré 2026-12-05).ipynb"
    assert restored_name("devoir.ipynb", DAY, "en") == "devoir (restored 2026-12-05).ipynb"
    assert restored_name("devoir.ipynb", DAY, "fr", 2) == "devoir (restauré 2026-12-05 2).ipynb"
    assert restored_name("tp1", DAY) == "tp1 (restauré 2026-12-05)"
    assert restored_name(".bashrc", DAY) == ".bashrc (restauré 2026-12-05)"
    assert restored_name("archive.tar.gz", DAY) == "archive.tar (restauré 2026-12-05).gz"


def test_an_include_pattern_matches_only_the_path_itself():
    assert escape_pattern("/src/home/u/dev[1] *?.py") == r"/src/home/u/dev\[1\] \*\?.py"
    assert validate_snapshot("0123abcd") == "0123abcd"
    for bad in ("latest", "0123", "../x", "0123abcd/"):
        with pytest.raises(ValidationError):
            validate_snapshot(bad)


def test_restic_errors_are_named_by_their_cause():
    assert classify("Fatal: wrong password or no key found\n", 1).code == "wrong_key"
    assert classify("Save(<data/1234>) returned error: write /backups/x: no space left on device", 1).code == "no_space"
    assert classify("Fatal: unable to open config file: stat /r/config: no such file or directory\n"
                    "Is there a repository at the following location?\n/r", 1).code == "no_repository"
    assert classify("unable to create lock in backend: repository is already locked by PID 7", 1).code == "locked"
    # a repository elsewhere (points/place.py): rclone's and ssh's words
    assert classify("Fatal: create key in repository at s3:x failed: config file already exists", 1).code == "repository_exists"
    assert classify("subprocess ssh: Host key verification failed.\nFatal: unable to start the sftp session", 1).code == "host_key_changed"
    assert classify("rclone: Failed to create file system: NewFs: couldn't connect SSH: ssh: handshake "
                    "failed: knownhosts: key mismatch", 1).code == "host_key_changed"
    assert classify("couldn't connect SSH: ssh: handshake failed: ssh: unable to authenticate", 1).code == "refused"
    assert classify("sauvegarde@nas: Permission denied (publickey).", 1).code == "refused"
    assert classify("Fatal: dial tcp: lookup s3.nowhere: no such host", 1).code == "unreachable"
    assert classify("Fatal: unable to open config file: Stat: The AWS Access Key Id you provided "
                    "does not exist in our records. InvalidAccessKeyId", 1).status == 502
    other = classify("Fatal: something else\n", 1)
    assert other.code == "failed" and str(other) == "Fatal: something else" and other.status == 500
    assert classify("Fatal: wrong password or no key found", 1).status == 409
    summary = backup_summary('{"message_type":"status"}\n{"message_type":"summary","data_added":12,"snapshot_id":"ab"}\n')
    assert summary["data_added"] == 12


def test_the_backup_helper_reads_the_volumes_and_writes_only_the_repository():
    body = point_backup_body(image=IMAGE, project="p", job_id="abc123", volumes=VOLS, backups_volume="p_jh_backups",
                             keys_volume="p_jh_keys", targets=["home", "exchange", "data"], tag="nightly")
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in body["HostConfig"]["Mounts"]}
    assert mounts == {"/src/home": ("p_jh_home", True), "/src/exchange": ("p_jh_exchange", True),
                      "/src/data": ("p_jh_data", True), "/backups": ("p_jh_backups", False),
                      "/run/jhub-keys": ("p_jh_keys", True)}
    assert body["HostConfig"]["CapAdd"] == EXPORT_CAPS and body["NetworkDisabled"]
    assert body["HostConfig"]["ReadonlyRootfs"] and body["HostConfig"]["Tmpfs"] == {"/snap": "size=2g,mode=0700"}
    assert not any("KEY" in e or "PASSWORD=" in e for e in body["Env"]), "the key never travels in the body"
    with pytest.raises(VolumeRefused):
        point_backup_body(image=IMAGE, project="p", job_id="abc123", volumes=VOLS, backups_volume="p_jh_backups",
                          keys_volume="", targets=["home"], tag="nightly")
    with pytest.raises(ValidationError):
        point_backup_body(image=IMAGE, project="p", job_id="abc123", volumes=VOLS, backups_volume="p_jh_backups",
                          keys_volume="p_jh_keys", targets=["home"], tag="$(reboot)")


def test_the_file_restore_helper_writes_only_the_homes():
    args = dict(image=IMAGE, project="p", job_id="abc123", volumes=VOLS, backups_volume="p_jh_backups",
                keys_volume="p_jh_keys", snapshot="0123abcd", user="carol", path="tp/devoir.ipynb",
                point_date=DAY, lang="fr")
    body = point_restore_file_body(**args)
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in body["HostConfig"]["Mounts"]}
    assert mounts == {"/dst/home": ("p_jh_home", False), "/backups": ("p_jh_backups", False),
                      "/run/jhub-keys": ("p_jh_keys", True)}
    assert body["HostConfig"]["CapAdd"] == RESTORE_CAPS
    assert "JHUB_PATH=tp/devoir.ipynb" in body["Env"] and "JHUB_POINT_DATE=2026-12-05" in body["Env"]
    for bad in (dict(user="../x"), dict(path="../../etc/passwd"), dict(snapshot="latest"), dict(lang="de"),
                dict(job_id="a/b")):
        with pytest.raises(ValidationError):
            point_restore_file_body(**dict(args, **bad))
