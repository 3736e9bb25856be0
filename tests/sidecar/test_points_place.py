"""Where the restore points' repository lives: the places an admin may set, refused when they
could reach what they should not, turned into restic's repository and rclone's settings, for the
sidecar (which holds the credentials) and for its helpers (which reach it through its tunnel)."""
import pytest

from jhub_admin_service.sidecar.points.place import public_place, rclone_env, serve_command, validate_place
from jhub_admin_service.sidecar.points.restic import repository
from jhub_admin_service.sidecar.validation import ValidationError

S3 = {"kind": "s3", "endpoint": "https://s3.example.org:9000", "bucket": "lycee-points",
      "prefix": "jhub/", "access_key_id": "AKIA0001", "secret_access_key": "s3cr3t/+x"}
SFTP = {"kind": "sftp", "host": "nas.lycee.local", "port": "2222", "user": "sauvegarde",
        "path": "/srv/points"}


def test_the_archives_volume_is_the_default_place():
    assert validate_place(None) == {"kind": "archives"}
    repo = repository("/backups", "/srv/sidecar-keys", validate_place(None))
    assert repo.env["RESTIC_REPOSITORY"] == "/backups/restore-points" and repo.options == ()
    assert repository("/backups", "/k", {"kind": "archives"}, tunnel=True).options == ()


def test_a_second_disk_is_reached_by_the_sidecar_s_rclone_and_by_helpers_through_its_tunnel():
    place = validate_place({"kind": "disk", "extra": 1})
    assert place == {"kind": "disk"}
    own = repository("/backups", "/srv/sidecar-keys", place)
    assert own.env["RESTIC_REPOSITORY"] == "rclone:/srv/points-disk/restore-points"
    assert own.options == ("-o", "rclone.program=rclone")
    helper = repository("/backups", "/run/jhub-keys", place, tunnel=True)
    assert helper.env["RESTIC_REPOSITORY"] == own.env["RESTIC_REPOSITORY"]
    assert helper.options[1].endswith("/jhub-admin-points-tunnel")
    assert helper.env["JHUB_POINTS_TUNNEL"] == "/run/jhub-keys/tunnel.sock"
    assert serve_command(place) == ["rclone", "serve", "restic", "--stdio", "/srv/points-disk/restore-points"]


def test_an_s3_place_names_its_bucket_and_keeps_its_secret_out_of_sight():
    place = validate_place(dict(S3, unknown="dropped"))
    assert "unknown" not in place and place["prefix"] == "jhub"
    own = repository("/backups", "/keys", place)
    assert own.env["RESTIC_REPOSITORY"] == "rclone::s3:lycee-points/jhub"
    assert own.env["RCLONE_S3_ENDPOINT"] == "https://s3.example.org:9000"
    assert own.env["RCLONE_S3_SECRET_ACCESS_KEY"] == "s3cr3t/+x" and own.env["RCLONE_S3_ENV_AUTH"] == "false"
    helper = repository("/backups", "/run/jhub-keys", place, tunnel=True)
    assert not [v for k, v in helper.env.items() if k.startswith("RCLONE_") or "s3cr3t" in v], \
        "the helper's restic has no credential: the sidecar's rclone holds them"
    assert "s3cr3t" not in " ".join(serve_command(place))
    shown = public_place(place)
    assert "secret_access_key" not in shown and "s3cr3t" not in str(shown)
    assert shown["address"] == "s3:https://s3.example.org:9000/lycee-points/jhub"


def test_an_sftp_place_uses_the_sidecars_key_and_the_recorded_host_key_only():
    place = validate_place(SFTP)
    assert place["port"] == 2222
    env = rclone_env(place, "/keys")
    assert repository("/backups", "/keys", place).env["RESTIC_REPOSITORY"] == "rclone::sftp:/srv/points"
    assert (env["RCLONE_SFTP_HOST"], env["RCLONE_SFTP_PORT"], env["RCLONE_SFTP_USER"]) == (
        "nas.lycee.local", "2222", "sauvegarde")
    assert env["RCLONE_SFTP_KEY_FILE"] == "/keys/restore-points-ssh-key"
    assert env["RCLONE_SFTP_KNOWN_HOSTS_FILE"] == "/keys/restore-points-known-hosts"
    assert env["RCLONE_SFTP_SHELL_TYPE"] == "none", "no command runs in the server's shell"


@pytest.mark.parametrize("bad", [
    {"kind": "nfs"}, "s3", dict(S3, endpoint="ftp://x"), dict(S3, endpoint="https://a b"),
    dict(S3, endpoint="https://user@host"), dict(S3, bucket="UPPER"), dict(S3, bucket="a..b"),
    dict(S3, prefix="../other"), dict(S3, secret_access_key="with space"), dict(S3, access_key_id=""),
    dict(SFTP, host="-oProxyCommand=sh"), dict(SFTP, user="-l root"), dict(SFTP, path="a b"),
    dict(SFTP, path="~/x"), dict(SFTP, path="/srv/../etc"), dict(SFTP, port=0), dict(SFTP, port=True),
    dict(SFTP, path="x;reboot"),
])
def test_a_place_that_could_reach_elsewhere_or_inject_a_command_is_refused(bad):
    with pytest.raises(ValidationError):
        validate_place(bad)
