"""The container-create template: only the configured volumes, read-only for
exports, no network, capabilities dropped, no binds, never pulled."""
import json

import pytest

from jhub_admin_service.sidecar.engine import DiscoveryError, DockerEngine
from jhub_admin_service.sidecar.template import (
    EXPORT_CAPS,
    RESTORE_CAPS,
    VolumeRefused,
    check_volume,
    disk_use_body,
    export_body,
    restore_body,
)
from jhub_admin_service.sidecar.validation import ValidationError

from fakedocker import PROJECT, FakeAPI, FakeClient, volume

IMAGE = "sha256:" + "1" * 64
VOLS = {"home": "p_jh_home", "exchange": "p_jh_exchange", "data": "p_jh_data"}
ARCH = "jhub-all-20261125T215258Z-ef7018.tar.zst"
ALLOWED_KEYS = {"Image", "Entrypoint", "Cmd", "Env", "Labels", "User", "WorkingDir",
                "NetworkDisabled", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                "OpenStdin", "Healthcheck", "HostConfig"}
ALLOWED_HOST = {"Mounts", "NetworkMode", "CapDrop", "CapAdd", "SecurityOpt", "ReadonlyRootfs",
                "Privileged", "PidsLimit", "AutoRemove", "RestartPolicy", "LogConfig"}


def exp(targets=("home", "exchange", "data"), **kw):
    args = dict(image=IMAGE, project="p", job_id="abc123", volumes=VOLS,
                backups_volume="p_jh_backups", targets=list(targets),
                tmp_name=".tmp-" + ARCH, compressor="zstd", level=3)
    args.update(kw)
    return export_body(**args)


def common_asserts(body):
    assert set(body) <= ALLOWED_KEYS
    assert set(body["HostConfig"]) <= ALLOWED_HOST
    hc = body["HostConfig"]
    assert body["Image"] == IMAGE
    assert body["NetworkDisabled"] is True and hc["NetworkMode"] == "none"
    assert hc["CapDrop"] == ["ALL"]
    assert hc["Privileged"] is False
    assert hc["SecurityOpt"] == ["no-new-privileges"]
    assert hc["ReadonlyRootfs"] is True
    assert "Binds" not in hc and "Devices" not in hc and "PortBindings" not in hc
    assert body["Labels"]["org.jhub-admin.sidecar-helper"] == "1"
    for m in hc["Mounts"]:
        assert m["Type"] == "volume" and "/" not in m["Source"]
    json.dumps(body)  # plain JSON


def test_export_body_mounts_only_configured_volumes_read_only():
    body = exp()
    common_asserts(body)
    hc = body["HostConfig"]
    assert hc["CapAdd"] == EXPORT_CAPS == ["DAC_READ_SEARCH"]
    mounts = {m["Target"]: m for m in hc["Mounts"]}
    assert set(mounts) == {"/src/home", "/src/exchange", "/src/data", "/backups"}
    for t in ("home", "exchange", "data"):
        assert mounts["/src/" + t]["Source"] == VOLS[t]
        assert mounts["/src/" + t]["ReadOnly"] is True
    assert mounts["/backups"]["Source"] == "p_jh_backups"
    env = dict(e.split("=", 1) for e in body["Env"])
    assert env["JHUB_TARGETS"] == "home exchange data"
    assert env["JHUB_OUT"] == "/backups/.tmp-" + ARCH


def test_export_single_target_mounts_one_volume():
    body = exp(targets=["exchange"])
    targets = [m["Target"] for m in body["HostConfig"]["Mounts"]]
    assert targets == ["/src/exchange", "/backups"]


def test_restore_body():
    body = restore_body(image=IMAGE, project="p", job_id="abc123", volumes=VOLS,
                        backups_volume="p_jh_backups", targets=["home"], archive=ARCH,
                        compressor="zstd", user="alice")
    common_asserts(body)
    hc = body["HostConfig"]
    assert sorted(hc["CapAdd"]) == sorted(RESTORE_CAPS)
    assert set(hc["CapAdd"]) <= {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID"}
    mounts = {m["Target"]: m for m in hc["Mounts"]}
    assert set(mounts) == {"/dst/home", "/backups"}
    assert mounts["/dst/home"]["ReadOnly"] is False
    assert mounts["/backups"]["ReadOnly"] is True
    env = dict(e.split("=", 1) for e in body["Env"])
    assert env["JHUB_USER"] == "alice" and env["JHUB_ARCHIVE"] == "/backups/" + ARCH


def test_restore_steps_share_one_template():
    base = dict(image=IMAGE, project="p", job_id="abc123", volumes=VOLS,
                backups_volume="p_jh_backups", targets=["home", "data"], archive=ARCH,
                compressor="zstd")
    scripts = set()
    for step in ("extract", "swap", "discard"):
        body = restore_body(step=step, **base)
        common_asserts(body)
        assert body["Labels"]["org.jhub-admin.operation"] == "restore-" + step
        assert [m["Target"] for m in body["HostConfig"]["Mounts"]] == ["/dst/home", "/dst/data", "/backups"]
        scripts.add(body["Entrypoint"][2])
    assert len(scripts) == 3
    with pytest.raises(ValidationError):
        restore_body(step="rm -rf /", **base)


def test_disk_use_body_reads_the_volumes_only():
    body = disk_use_body(image=IMAGE, project="p", job_id="abc123", volumes=VOLS,
                         targets=["data", "home"])
    common_asserts(body)
    hc = body["HostConfig"]
    assert hc["CapAdd"] == EXPORT_CAPS
    assert [(m["Target"], m["ReadOnly"]) for m in hc["Mounts"]] == [("/src/home", True), ("/src/data", True)]
    assert body["Labels"]["org.jhub-admin.operation"] == "disk-use"
    with pytest.raises((ValidationError, VolumeRefused)):
        disk_use_body(image=IMAGE, project="p", job_id="abc123", volumes=VOLS, targets=["etc"])


@pytest.mark.parametrize("kw", [
    {"targets": ["etc"]}, {"targets": []}, {"tmp_name": "../../etc/x"},
    {"tmp_name": ".tmp-../x"}, {"compressor": "sh -c evil"},
])
def test_export_body_refuses_bad_parameters(kw):
    with pytest.raises((ValidationError, VolumeRefused)):
        exp(**kw)


def test_export_body_refuses_path_like_volume():
    with pytest.raises(VolumeRefused):
        exp(volumes=dict(VOLS, home="/etc"))
    with pytest.raises(VolumeRefused):
        exp(backups_volume="/var/run")


def test_restore_body_refuses_bad_parameters():
    base = dict(image=IMAGE, project="p", job_id="abc123", volumes=VOLS,
                backups_volume="p_jh_backups", targets=["home"], archive=ARCH, compressor="zstd")
    for kw in ({"user": "../root"}, {"user": "a/b"}, {"archive": "../" + ARCH},
               {"targets": ["exchange"], "user": "alice"}, {"job_id": "a;rm"}):
        with pytest.raises((ValidationError, VolumeRefused)):
            restore_body(**dict(base, **kw))


def test_check_volume():
    assert check_volume(volume("jh_home", "p"), "p", "jh_home") == "p_jh_home"
    assert check_volume(dict(volume("jh_home", "p"), Options={}), "p", "jh_home")
    refused = [
        volume("jh_home", "p", options={"type": "none", "o": "bind", "device": "/"}),
        volume("jh_home", "p", options={"device": "/dev/sda1"}),
        volume("jh_home", "p", options={"type": "nfs", "o": "addr=10.0.0.1"}),
        volume("jh_home", "p", driver="rexray"),
        volume("jh_home", "other"),
        volume("jh_exchange", "p"),
    ]
    for attrs in refused:
        with pytest.raises(VolumeRefused):
            check_volume(attrs, "p", "jh_home")


def engine(api, **kw):
    args = dict(container_id="c0ffee", volume_keys={"home": "jh_home", "exchange": "jh_exchange",
                                                    "data": "jh_data"},
                backups_volume_key="jh_backups", backup_dir="/backups",
                client=FakeClient(api))
    args.update(kw)
    return DockerEngine(**args)


def test_discovery_uses_own_image_and_project(tmp_path):
    api = FakeAPI(str(tmp_path))
    d = engine(api).discover()
    assert d.image == IMAGE and d.project == PROJECT
    assert d.volumes == {"home": "schoolx_jh_home", "exchange": "schoolx_jh_exchange",
                         "data": "schoolx_jh_data"}
    assert d.backups_volume == "schoolx_jh_backups"


def test_discovery_refuses_bind_volume(tmp_path):
    vols = [volume("jh_home", options={"type": "none", "o": "bind", "device": "/etc"}),
            volume("jh_exchange"), volume("jh_data"), volume("jh_backups")]
    with pytest.raises(VolumeRefused, match="bind or device"):
        engine(FakeAPI(str(tmp_path), volumes=vols)).discover()


def test_discovery_refuses_missing_or_duplicate_volumes(tmp_path):
    vols = [volume("jh_home"), volume("jh_data"), volume("jh_backups")]
    with pytest.raises(DiscoveryError, match="jh_exchange"):
        engine(FakeAPI(str(tmp_path), volumes=vols)).discover()
    vols = [volume("jh_home"), volume("jh_home", name="schoolx_jh_home2"), volume("jh_exchange"),
            volume("jh_data"), volume("jh_backups")]
    with pytest.raises(DiscoveryError, match="exactly one"):
        engine(FakeAPI(str(tmp_path), volumes=vols)).discover()


def test_discovery_requires_backups_volume_mounted(tmp_path):
    with pytest.raises(DiscoveryError):
        engine(FakeAPI(str(tmp_path)), backup_dir="/elsewhere").discover()
