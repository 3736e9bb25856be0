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


def _body(image, argv, env, mounts, caps, labels):
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
    validate_archive_name(archive)
    if user is not None:
        validate_login(user)
        if list(targets) != ["home"]:
            raise ValidationError("a single user's restore applies to the home target only")
    targets = _check_targets(targets, volumes)
    if compressor not in COMPRESSORS:
        raise ValidationError(f"unknown compressor {compressor!r}")
    if step not in RESTORE_SCRIPTS:
        raise ValidationError(f"unknown restore step {step!r}")
    mounts = [_mount(volumes[t], "/dst/" + t, False) for t in targets]
    mounts.append(_mount(backups_volume, HELPER_BACKUPS, True))
    env = {
        "JHUB_TARGETS": " ".join(targets),
        "JHUB_ARCHIVE": HELPER_BACKUPS + "/" + archive,
        "JHUB_COMPRESSOR": compressor,
        "JHUB_STAGE": ".jhub-restore-" + job_id,
        "JHUB_USER": user or "",
    }
    if not job_id.isalnum():
        raise ValidationError("bad job id")
    return _body(image, ["/bin/bash", "-c", RESTORE_SCRIPTS[step], "jhub-helper"], env, mounts,
                 RESTORE_CAPS, helper_labels(project, f"restore-{step}", job_id))


def disk_use_body(*, image, project, job_id, volumes, targets) -> dict:
    """The container body that measures the volumes an export would archive (du, read-only
    mounts at /src as for the export, no archives volume)."""
    targets = _check_targets(targets, volumes)
    mounts = [_mount(volumes[t], "/src/" + t, True) for t in targets]
    env = {"JHUB_TARGETS": " ".join(targets)}
    return _body(image, ["/bin/bash", "-c", DISK_USE, "jhub-helper"], env, mounts, EXPORT_CAPS,
                 helper_labels(project, "disk-use", job_id))
