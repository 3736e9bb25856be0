"""Pure validation helpers of the sidecar: targets, archive names, logins,
settings and the retention policy.  No I/O here, so everything is unit-tested.
"""
import datetime as _dt
import re
from typing import Iterable, Optional

#: The volumes the sidecar knows about, in archive order.
VOLUME_TARGETS = ("home", "exchange", "data")
#: What a caller may ask to export or restore (everything first: the usual choice).
TARGETS = ("all",) + VOLUME_TARGETS

#: Compressors the sidecar knows, fastest first, with their archive suffix.
COMPRESSORS = {"zstd": "zst", "pigz": "gz", "gzip": "gz"}

# jhub-<target>-[<school year>-]<YYYYmmddTHHMMSSZ>-<6 hex>.tar.<zst|gz>
ARCHIVE_NAME_RE = re.compile(
    r"\Ajhub-(?P<target>home|exchange|data|all)-(?:(?P<school_year>\d{4}-\d{4})-)?(?P<stamp>\d{8}T\d{6}Z)-"
    r"(?P<rand>[0-9a-f]{6})\.tar\.(?P<ext>zst|gz)\Z"
)
# A login that is safe as a single path component (same rule as the
# product's login generator: lowercase, digits, ._- ; no leading dot/dash).
LOGIN_RE = re.compile(r"\A[a-z_][a-z0-9_.-]{0,31}\Z")
SHA256_RE = re.compile(r"\A[0-9a-f]{64}\Z")
SCHOOL_YEAR_RE = re.compile(r"\A(?P<first>\d{4})-(?P<second>\d{4})\Z")
TIME_RE = re.compile(r"\A(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)\Z")


class ValidationError(ValueError):
    """Bad input from a caller: reported as HTTP 400, nothing is changed."""


def validate_target(target) -> str:
    if not isinstance(target, str) or target not in TARGETS:
        raise ValidationError(
            f"unknown target {target!r} (expected one of: {', '.join(TARGETS)})"
        )
    return target


def expand_target(target: str) -> list:
    """``all`` -> every volume target; anything else -> itself."""
    validate_target(target)
    return list(VOLUME_TARGETS) if target == "all" else [target]


def validate_archive_name(name) -> str:
    """Archive names are produced by the sidecar only; anything else is refused.

    The strict regex excludes ``/``, ``..``, NUL, leading dots (temporary and
    metadata files) and every name the sidecar did not create.
    """
    if not isinstance(name, str) or not ARCHIVE_NAME_RE.match(name):
        raise ValidationError(f"invalid archive name {name!r}")
    return name


def validate_login(login) -> str:
    if (
        not isinstance(login, str)
        or not LOGIN_RE.match(login)
        or login in (".", "..")
        or ".." in login
    ):
        raise ValidationError(f"invalid login {login!r}")
    return login


def validate_sha256(value) -> str:
    if not isinstance(value, str) or not SHA256_RE.match(value.strip().lower()):
        raise ValidationError("a sha256 (64 hexadecimal characters) is required")
    return value.strip().lower()


def validate_school_year(value) -> str:
    """A school year as the French school names it: "2026-2027" (two following years)."""
    match = isinstance(value, str) and SCHOOL_YEAR_RE.match(value)
    if not match or int(match["second"]) != int(match["first"]) + 1:
        raise ValidationError(f"invalid school year {value!r} (expected e.g. 2026-2027)")
    return value


def make_archive_name(target: str, when: _dt.datetime, rand: str, compressor: str,
                      school_year: Optional[str] = None) -> str:
    """The archive's name; a year's closing export carries the school year it keeps."""
    validate_target(target)
    if compressor not in COMPRESSORS:
        raise ValidationError(f"unknown compressor {compressor!r}")
    stamp = when.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    year = f"{validate_school_year(school_year)}-" if school_year else ""
    return validate_archive_name(
        f"jhub-{target}-{year}{stamp}-{rand}.tar.{COMPRESSORS[compressor]}"
    )


def _opt_int(value, name, minimum, maximum):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be an integer")
    try:
        ivalue = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be an integer") from None
    if ivalue != value and not isinstance(value, str):
        raise ValidationError(f"{name} must be an integer")
    if not minimum <= ivalue <= maximum:
        raise ValidationError(f"{name} must be between {minimum} and {maximum}")
    return ivalue


def validate_retention(keep=None, days=None) -> dict:
    """keep: the N newest archives are kept (1..1000); days: archives younger
    than D days are kept (1..3650).  Either may be None (not used)."""
    return {
        "keep": _opt_int(keep, "keep", 1, 1000),
        "days": _opt_int(days, "days", 1, 3650),
    }


DEFAULT_SETTINGS = {
    "schedule": {"enabled": False, "time": "02:30", "target": "all"},
    "retention": {"keep": 7, "days": None},
}


def validate_settings(data, current: Optional[dict] = None) -> dict:
    """Validate a (partial) settings document and merge it into ``current``."""
    if not isinstance(data, dict):
        raise ValidationError("settings must be a JSON object")
    unknown = set(data) - {"schedule", "retention"}
    if unknown:
        raise ValidationError(f"unknown settings: {', '.join(sorted(unknown))}")
    base = current or DEFAULT_SETTINGS
    out = {
        "schedule": dict(base.get("schedule", DEFAULT_SETTINGS["schedule"])),
        "retention": dict(base.get("retention", DEFAULT_SETTINGS["retention"])),
    }
    sched = data.get("schedule")
    if sched is not None:
        if not isinstance(sched, dict) or set(sched) - {"enabled", "time", "target"}:
            raise ValidationError("schedule accepts only enabled, time, target")
        if "enabled" in sched:
            if not isinstance(sched["enabled"], bool):
                raise ValidationError("schedule.enabled must be true or false")
            out["schedule"]["enabled"] = sched["enabled"]
        if "time" in sched:
            if not isinstance(sched["time"], str) or not TIME_RE.match(sched["time"]):
                raise ValidationError("schedule.time must be HH:MM (24 h)")
            out["schedule"]["time"] = sched["time"]
        if "target" in sched:
            out["schedule"]["target"] = validate_target(sched["target"])
    ret = data.get("retention")
    if ret is not None:
        if not isinstance(ret, dict) or set(ret) - {"keep", "days"}:
            raise ValidationError("retention accepts only keep, days")
        merged = dict(out["retention"])
        merged.update(ret)
        out["retention"] = validate_retention(merged.get("keep"), merged.get("days"))
    return out


def schedule_due(settings: dict, now: _dt.datetime, last_run: Optional[str]) -> bool:
    """True when the daily export is enabled, today's time has passed, and it
    has not run yet today (``last_run`` is an ISO date ``YYYY-MM-DD``)."""
    sched = settings.get("schedule") or {}
    if not sched.get("enabled"):
        return False
    m = TIME_RE.match(sched.get("time", ""))
    if not m:
        return False
    if last_run == now.date().isoformat():
        return False
    return (now.hour, now.minute) >= (int(m.group("h")), int(m.group("m")))


def volumes_of(archive: dict) -> list:
    """The volumes an archive holds, from its metadata."""
    if archive.get("targets"):
        return list(archive["targets"])
    return expand_target(archive["target"]) if archive.get("target") in TARGETS else []


def plan_prune(archives: Iterable[dict], keep=None, days=None, now: Optional[float] = None):
    """Split archives into (kept, deleted) by the retention policy.

    Each archive is a dict with at least ``name`` and ``created_ts`` (epoch seconds), and
    usually ``target`` (home, exchange, data, all), ``targets`` and ``kind`` (manual, scheduled,
    safety). The policy counts per target, and the safety exports that a restore takes count
    apart: seven home-only safety exports never push out the archives of everything. In each of
    these groups an archive is kept when it is one of the ``keep`` newest, or younger than
    ``days`` days, and the group's newest is always kept. Beyond the groups, the newest archive
    that holds each volume (home, exchange, data) is never deleted, nor is a year's closing
    export (kind ``year``: the school's record of that year, deleted only by hand). With neither
    rule set nothing is deleted.
    """
    rules = validate_retention(keep, days)
    items = sorted(archives, key=lambda a: (a["created_ts"], a["name"]), reverse=True)
    if rules["keep"] is None and rules["days"] is None:
        return items, []
    if now is None:
        import time

        now = time.time()
    groups = {}
    for arch in items:
        groups.setdefault((arch.get("target"), arch.get("kind") == "safety"), []).append(arch)
    keep_names = set()
    for group in groups.values():
        for rank, arch in enumerate(group):  # newest first
            if (rank == 0 or (rules["keep"] is not None and rank < rules["keep"])
                    or (rules["days"] is not None and now - arch["created_ts"] < rules["days"] * 86400)):
                keep_names.add(arch["name"])
    for volume in VOLUME_TARGETS:
        holding = [a for a in items if volume in volumes_of(a)]
        if holding:
            keep_names.add(holding[0]["name"])
    keep_names.update(a["name"] for a in items if a.get("kind") == "year")
    kept = [a for a in items if a["name"] in keep_names]
    deleted = [a for a in items if a["name"] not in keep_names]
    assert kept or not items
    return kept, deleted
