"""Fixed templates for every Docker request the sidecar makes.

Nothing here talks to Docker: these functions return the exact JSON body that
is POSTed to ``/containers/create``, so the unit tests can assert on it.  The
caller of the sidecar never supplies any part of this body: the image is the
sidecar's own, the mounts are the volumes discovered from the sidecar's own
compose project (checked by :func:`check_volume`), and every other field is a
constant.  Parameters that reach the helper's shell script are validated
first (targets, login, archive name) and passed as environment variables,
never interpolated into the script.
"""
from .scripts import DISK_USE, RESTORE_SCRIPTS
from .points.policy import validate_relpath, validate_snapshot
from .validation import (
    COMPRESSORS,
    VOLUME_TARGETS,
    ValidationError,
    validate_archive_name,
    validate_login,
)

HELPER_LABEL = "org.jhub-admin.sidecar-helper"
PROJECT_LABEL = "com.docker.compose.project"
VOLUME_LABEL = "com.docker.compose.volume"

#: Where the helper sees the archives directory.
HELPER_BACKUPS = "/backups"

#: Capabilities: exports only need to read every file (0600 homes of other
#: uids); restores need what tar needs to recreate owners, modes and times,
#: and to replace files in the sticky exchange directory.
EXPORT_CAPS = ["DAC_READ_SEARCH"]
RESTORE_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID"]

#: Where a restore-point helper sees the key's volume (read-only), and its argv.
HELPER_KEYS = "/run/jhub-keys"
POINT_ARGV = ["python3", "-I", "-m", "jhub_admin_service.sidecar.points.helper"]
#: The backup's copies of the SQLite databases (in memory; they are small).
POINT_SNAP_TMPFS = {"/snap": "size=2g,mode=0700"}

#: The export runs export_pipe.py (tar, the compressor and the hashing writer, with 1 MiB
#: records and pipes) with the image's Python; its parameters come from the environment.
EXPORT_ARGV = ["python3", "-I", "-m", "jhub_admin_service.sidecar.export_pipe"]

class VolumeRefused(RuntimeError):
    """A volume that the sidecar will not mount (not local, bind, device...)."""


def check_volume(attrs: dict, project: str, key: str) -> str:
    """Check a ``docker volume inspect`` result; return the volume name.

    The volume must belong to the sidecar's own compose project under the
    expected key, use the ``local`` driver, and carry no driver options at
    all (``o: bind``, ``device``, ``type`` would let a volume point anywhere
    on the host or at a remote share).
    """
    name = attrs.get("Name") or "?"
    labels = attrs.get("Labels") or {}
    if labels.get(PROJECT_LABEL) != project or labels.get(VOLUME_LABEL) != key:
        raise VolumeRefused(
            f"volume {name} is not {key} of compose project {project}"
        )
    if attrs.get("Driver") != "local":
        raise VolumeRefused(f"volume {name} uses driver {attrs.get('Driver')!r}, only 'local' is allowed")
    options = attrs.get("Options") or {}
    if options:
        bad = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
        raise VolumeRefused(
            f"volume {name} has driver options ({bad}): bind or device volumes are refused"
        )
    if attrs.get("Scope", "local") != "local":
        raise VolumeRefused(f"volume {name} is not a local-scope volume")
    return name


def _mount(source: str, target: str, read_only: bool) -> dict:
    if not source or "/" in source or source.startswith("."):
        # Volume names never contain "/": a path here would be a host bind.
        raise VolumeRefused(f"refusing mount source {source!r}: only named volumes")
    return {
        "Type": "volume",
        "Source": source,
        "Target": target,
        "ReadOnly": bool(read_only),
        "VolumeOptions": {"NoCopy": True},
    }


def _body(image, argv, env, mounts, caps, labels, tmpfs=None):
    if not image or not isinstance(image, str):
        raise ValueError("the helper image is required")
    return {
        "Image": image,
        "Entrypoint": list(argv),
        "Cmd": [],
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "Labels": labels,
        "User": "0:0",
        "WorkingDir": "/",
        "NetworkDisabled": True,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "Healthcheck": {"Test": ["NONE"]},
        "HostConfig": {
            "Mounts": mounts,
            "NetworkMode": "none",
            "CapDrop": ["ALL"],
            "CapAdd": list(caps),
            "SecurityOpt": ["no-new-privileges"],
            "ReadonlyRootfs": True,
            "Privileged": False,
            "PidsLimit": 256,
            "AutoRemove": False,
            "RestartPolicy": {"Name": "no"},
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
            **({"Tmpfs": dict(tmpfs)} if tmpfs else {}),
        },
    }


def helper_labels(project: str, operation: str, job_id: str) -> dict:
    return {
        HELPER_LABEL: "1",
        "org.jhub-admin.project": project,
        "org.jhub-admin.operation": operation,
        "org.jhub-admin.job": job_id,
    }


def _check_targets(targets, volumes):
    if not targets:
        raise ValidationError("no target")
    for t in targets:
        if t not in VOLUME_TARGETS:
            raise ValidationError(f"unknown target {t!r}")
        if t not in volumes:
            raise VolumeRefused(f"no volume configured for target {t!r}")
    return [t for t in VOLUME_TARGETS if t in targets]


def export_body(*, image, project, job_id, volumes, backups_volume, targets,
                tmp_name, compressor, level, threads=0) -> dict:
    """The container body of an export helper.

    ``volumes`` maps target -> volume name (from discovery); only the
    requested targets are mounted, read-only, under /src; the archives volume
    is mounted at /backups, where the helper writes ``tmp_name``.
    """
    targets = _check_targets(targets, volumes)
    if compressor not in COMPRESSORS:
        raise ValidationError(f"unknown compressor {compressor!r}")
    if not tmp_name.startswith(".tmp-"):
        raise ValidationError("bad temporary name")
    validate_archive_name(tmp_name[len(".tmp-"):])
    mounts = [_mount(volumes[t], "/src/" + t, True) for t in targets]
    mounts.append(_mount(backups_volume, HELPER_BACKUPS, False))
    env = {
        "JHUB_TARGETS": " ".join(targets),
        "JHUB_OUT": HELPER_BACKUPS + "/" + tmp_name,
        "JHUB_COMPRESSOR": compressor,
        "JHUB_LEVEL": str(int(level)),
        "JHUB_THREADS": str(int(threads)),
    }
    return _body(image, EXPORT_ARGV, env, mounts, EXPORT_CAPS,
                 helper_labels(project, "export", job_id))


def restore_body(*, image, project, job_id, volumes, backups_volume, targets,
                 archive, compressor, user=None, step="extract") -> dict:
    """The container body of one step of a restore (``extract``, ``swap``, ``discard``: see
    scripts.py).

    The targets being restored are mounted read-write under /dst, the
    archives volume read-only at /backups.  With ``user``, only the home
    volume is mounted and only ``home/<user>`` is extracted.
    """
    if step == "extract" or archive is not None:  # swap and discard read no archive
        validate_archive_name(archive)
        if compressor not in COMPRESSORS:
            raise ValidationError(f"unknown compressor {compressor!r}")
    targets = _restore_targets(targets, volumes, user)
    if step not in RESTORE_SCRIPTS:
        raise ValidationError(f"unknown restore step {step!r}")
    mounts = [_mount(volumes[t], "/dst/" + t, False) for t in targets]
    mounts.append(_mount(backups_volume, HELPER_BACKUPS, True))
    env = {
        "JHUB_TARGETS": " ".join(targets),
        "JHUB_STAGE": ".jhub-restore-" + job_id,
        "JHUB_USER": user or "",
    }
    if archive is not None:
        env.update(JHUB_ARCHIVE=HELPER_BACKUPS + "/" + archive, JHUB_COMPRESSOR=compressor)
    if not job_id.isalnum():
        raise ValidationError("bad job id")
    return _body(image, ["/bin/bash", "-c", RESTORE_SCRIPTS[step], "jhub-helper"], env, mounts,
                 RESTORE_CAPS, helper_labels(project, f"restore-{step}", job_id))


def _restore_targets(targets, volumes, user) -> list:
    if user is not None:
        validate_login(user)
        if list(targets) != ["home"]:
            raise ValidationError("a single user's restore applies to the home target only")
    return _check_targets(targets, volumes)


def point_extract_body(*, image, project, job_id, volumes, backups_volume, keys_volume, targets,
                       snapshot, user=None) -> dict:
    """The ``extract`` step of a restore from a restore point: restic writes the point's content
    into the same staging folders as an archive's (``STAGE/new``); the swap and the discard are
    the archive restore's own (scripts.py)."""
    validate_snapshot(snapshot)
    targets = _restore_targets(targets, volumes, user)
    if not job_id.isalnum():
        raise ValidationError("bad job id")
    mounts = [_mount(volumes[t], "/dst/" + t, False) for t in targets]
    mounts += _point_mounts(backups_volume, keys_volume)
    env = {"JHUB_POINT_MODE": "extract", "JHUB_TARGETS": " ".join(targets), "JHUB_SNAPSHOT": snapshot,
           "JHUB_USER": user or "", "JHUB_STAGE": ".jhub-restore-" + job_id}
    return _body(image, POINT_ARGV, env, mounts, RESTORE_CAPS,
                 helper_labels(project, "restore-extract", job_id))


def disk_use_body(*, image, project, job_id, volumes, targets) -> dict:
    """The container body that measures the volumes an export would archive (du, read-only
    mounts at /src as for the export, no archives volume)."""
    targets = _check_targets(targets, volumes)
    mounts = [_mount(volumes[t], "/src/" + t, True) for t in targets]
    env = {"JHUB_TARGETS": " ".join(targets)}
    return _body(image, ["/bin/bash", "-c", DISK_USE, "jhub-helper"], env, mounts, EXPORT_CAPS,
                 helper_labels(project, "disk-use", job_id))


def _point_mounts(backups_volume, keys_volume):
    if not keys_volume:
        raise VolumeRefused("the sidecar has no volume for the restore points' key")
    return [_mount(backups_volume, HELPER_BACKUPS, False), _mount(keys_volume, HELPER_KEYS, True)]


def point_backup_body(*, image, project, job_id, volumes, backups_volume, keys_volume, targets,
                      tag) -> dict:
    """A restore point's helper: the volumes read-only under /src, the repository on the archives
    volume, the key read-only, the database copies in a tmpfs (points/helper.py)."""
    targets = _check_targets(targets, volumes)
    if tag not in ("nightly", "manual"):
        raise ValidationError(f"unknown restore point tag {tag!r}")
    mounts = [_mount(volumes[t], "/src/" + t, True) for t in targets]
    mounts += _point_mounts(backups_volume, keys_volume)
    env = {"JHUB_POINT_MODE": "backup", "JHUB_TARGETS": " ".join(targets), "JHUB_TAG": tag}
    return _body(image, POINT_ARGV, env, mounts, EXPORT_CAPS,
                 helper_labels(project, "point-backup", job_id), tmpfs=POINT_SNAP_TMPFS)


def point_restore_file_body(*, image, project, job_id, volumes, backups_volume, keys_volume,
                            snapshot, user, path, point_date, lang) -> dict:
    """The helper that brings back one file or folder of a home, beside the current one: the
    home volume read-write under /dst/home (points/helper.py)."""
    validate_snapshot(snapshot)
    validate_login(user)
    path = validate_relpath(path)
    if lang not in ("fr", "en") or not job_id.isalnum():
        raise ValidationError("bad language or job id")
    mounts = [_mount(volumes["home"], "/dst/home", False)] + _point_mounts(backups_volume, keys_volume)
    env = {"JHUB_POINT_MODE": "restore-file", "JHUB_SNAPSHOT": snapshot, "JHUB_USER": user,
           "JHUB_PATH": path, "JHUB_POINT_DATE": point_date.isoformat(), "JHUB_LANG": lang,
           "JHUB_STAGE": ".jhub-restore-" + job_id}
    return _body(image, POINT_ARGV, env, mounts, RESTORE_CAPS,
                 helper_labels(project, "point-restore-file", job_id))
