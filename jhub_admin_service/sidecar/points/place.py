"""Where the restore points' repository lives: pure rules, no I/O.

A place is one of:

- ``archives``: ``restore-points/`` on the archives volume (the default);
- ``disk``: ``restore-points/`` on a second disk, the host folder that the admin mounts in the
  sidecar alone at :data:`DISK_DIR` (docker/compose.points-disk.yaml);
- ``sftp``: a folder on an SSH server, reached with the sidecar's own SSH key (its public half is
  shown to the admin) and the server's host key recorded when the place is set, then required;
- ``s3``: a bucket (and a folder in it) of an S3-compatible store, with an access key.

Every place but the archives volume is reached through rclone (``rclone serve restic``, restic's
rclone backend): by the sidecar itself, and by the helpers, which have no network and no host
folder, through the sidecar's tunnel (tunnel.py). The place, its credentials and the SSH key live
on the keys' volume beside the repository's key: the sidecar's alone, never in a container's body.
"""
import re

from ..validation import ValidationError

KINDS = ("archives", "disk", "sftp", "s3")
REMOTE_KINDS = ("sftp", "s3")
#: Where the sidecar and the helpers see the second disk's volume.
DISK_DIR = "/srv/points-disk"
#: Files on the keys' volume.
PLACE_FILE = "restore-points-place.json"
SSH_KEY_FILE = "restore-points-ssh-key"
KNOWN_HOSTS_FILE = "restore-points-known-hosts"

HOST_RE = re.compile(r"\A(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
SSH_USER_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,31}\Z")
#: A folder on the server: plain names only (no spaces, quotes, ``~`` or ``..``), since restic
#: puts it in a URL and ssh in a command line.
REMOTE_PATH_RE = re.compile(r"\A/?[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?\Z")
BUCKET_RE = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
ENDPOINT_RE = re.compile(r"\A(?P<scheme>https?)://(?P<host>[^/:?#@\s]+)(?::(?P<port>\d{1,5}))?/?\Z")
CREDENTIAL_RE = re.compile(r"\A[\x21-\x7e]{1,256}\Z")
REGION_RE = re.compile(r"\A[a-z0-9-]{1,40}\Z")
#: The fields that are secret: never shown again, never logged.
SECRET_FIELDS = ("secret_access_key",)
#: rclone without a configuration file, with short retries: an unreachable place is said within
#: a minute, not after rclone's ten low-level retries of each request.
RCLONE_ENV = {"RCLONE_CONFIG": "/dev/null", "RCLONE_LOW_LEVEL_RETRIES": "3", "RCLONE_RETRIES": "1",
              "RCLONE_CONTIMEOUT": "20s", "RCLONE_TIMEOUT": "5m", "RCLONE_STATS_LOG_LEVEL": "DEBUG"}


def _host(value, what: str) -> str:
    if not isinstance(value, str) or not HOST_RE.match(value):
        raise ValidationError(f"{what} must be a host name or an IPv4 address")
    return value.lower()


def _remote_path(value) -> str:
    if not isinstance(value, str) or not REMOTE_PATH_RE.match(value) \
            or any(part in ("..", ".") for part in value.strip("/").split("/")):
        raise ValidationError("the folder must be made of plain names (letters, digits, . _ -)")
    return value.rstrip("/") or "/"


def validate_place(data) -> dict:
    """A place as the admin gives it; returns it normalised, with only its own fields."""
    if data is None:
        return {"kind": "archives"}
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise ValidationError(f"the place must be one of: {', '.join(KINDS)}")
    kind = data["kind"]
    if kind in ("archives", "disk"):
        return {"kind": kind}
    if kind == "sftp":
        port = data.get("port", 22)
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError("the SSH port must be a number from 1 to 65535")
        user = data.get("user")
        if not isinstance(user, str) or not SSH_USER_RE.match(user):
            raise ValidationError("the SSH user must be a plain login name")
        return {"kind": "sftp", "host": _host(data.get("host"), "the SSH server"), "port": port,
                "user": user, "path": _remote_path(data.get("path"))}
    endpoint = data.get("endpoint")
    match = ENDPOINT_RE.match(endpoint) if isinstance(endpoint, str) else None
    if not match or not HOST_RE.match(match["host"]) or (match["port"] and not 1 <= int(match["port"]) <= 65535):
        raise ValidationError("the S3 endpoint must be http(s)://host[:port]")
    bucket = data.get("bucket")
    if not isinstance(bucket, str) or not BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValidationError("the bucket's name must be 3 to 63 lowercase letters, digits, . and -")
    prefix = data.get("prefix") or ""
    if prefix:
        prefix = _remote_path(prefix).strip("/")
    for field in ("access_key_id", "secret_access_key"):
        if not isinstance(data.get(field), str) or not CREDENTIAL_RE.match(data[field]):
            raise ValidationError(f"{field} is required (printable characters, no spaces)")
    region = data.get("region") or ""
    if region and (not isinstance(region, str) or not REGION_RE.match(region)):
        raise ValidationError("the region must be letters, digits and -")
    return {"kind": "s3", "endpoint": endpoint.rstrip("/"), "bucket": bucket, "prefix": prefix,
            "region": region, "access_key_id": data["access_key_id"],
            "secret_access_key": data["secret_access_key"]}


def is_remote(place: dict) -> bool:
    return place.get("kind") in REMOTE_KINDS


def public_place(place: dict) -> dict:
    """The place without its secret, with the repository's address for the page."""
    shown = {k: v for k, v in place.items() if k not in SECRET_FIELDS}
    shown["address"] = describe(place)
    return shown


def describe(place: dict) -> str:
    kind = place.get("kind", "archives")
    if kind == "archives":
        return "jh_backups:/restore-points"
    if kind == "disk":
        return f"{DISK_DIR}/restore-points"
    if kind == "sftp":
        return f"sftp://{place['user']}@{place['host']}:{place['port']}{'' if place['path'].startswith('/') else '/~/'}{place['path']}"
    return "s3:" + "/".join(p for p in (place["endpoint"], place["bucket"], place["prefix"]) if p)


def repository_url(place: dict, local_root: str) -> str:
    """restic's repository for a place; ``local_root`` is the archives' folder (kind archives)."""
    if place.get("kind", "archives") == "archives":
        return f"{local_root}/restore-points"
    return "rclone:" + rclone_remote(place)


def rclone_remote(place: dict) -> str:
    """rclone's name of the repository: a folder of the sidecar, or an on-the-fly remote whose
    settings come from :func:`rclone_env` (never from a configuration file)."""
    kind = place["kind"]
    if kind == "disk":
        return f"{DISK_DIR}/restore-points"
    if kind == "sftp":
        return f":sftp:{place['path']}"
    return ":s3:" + "/".join(p for p in (place["bucket"], place["prefix"]) if p)


def rclone_env(place: dict, keys_dir: str) -> dict:
    """rclone's settings for a place: the SFTP server with the sidecar's key and the host keys
    recorded when the place was set (no other is accepted), or the S3 store and its key."""
    env = dict(RCLONE_ENV)
    if place["kind"] == "sftp":
        env.update(RCLONE_SFTP_HOST=place["host"], RCLONE_SFTP_PORT=str(place["port"]),
                   RCLONE_SFTP_USER=place["user"], RCLONE_SFTP_KEY_FILE=f"{keys_dir}/{SSH_KEY_FILE}",
                   RCLONE_SFTP_KNOWN_HOSTS_FILE=f"{keys_dir}/{KNOWN_HOSTS_FILE}",
                   # rclone would run md5sum and friends in the server's shell: no command there
                   RCLONE_SFTP_DISABLE_HASHCHECK="true", RCLONE_SFTP_SHELL_TYPE="none")
    elif place["kind"] == "s3":
        env.update(RCLONE_S3_PROVIDER="Other", RCLONE_S3_ENV_AUTH="false",
                   RCLONE_S3_ENDPOINT=place["endpoint"], RCLONE_S3_ACCESS_KEY_ID=place["access_key_id"],
                   RCLONE_S3_SECRET_ACCESS_KEY=place["secret_access_key"], RCLONE_S3_FORCE_PATH_STYLE="true")
        if place.get("region"):
            env["RCLONE_S3_REGION"] = place["region"]
    return env


def serve_command(place: dict) -> list:
    """What the sidecar runs for each connection of a helper's restic (tunnel.py): the same
    command that restic's rclone backend runs itself."""
    return ["rclone", "serve", "restic", "--stdio", rclone_remote(place)]
