"""Pure rules of the restore points: their settings, when the nightly point and the weekly check
are due, the paths a caller may name inside a home, and the name of a restored file. No I/O."""
import datetime as _dt
import posixpath
import re
from typing import Optional

from ..validation import TIME_RE, ValidationError

#: restic's retention flags, and the defaults: 7 daily, 4 weekly, 6 monthly points. restic keeps
#: the newest point of each day (week, month) that it keeps; ``last`` keeps the N newest points
#: whatever their day (points made by hand during a day).
KEEP_FLAGS = {"last": "--keep-last", "daily": "--keep-daily", "weekly": "--keep-weekly",
              "monthly": "--keep-monthly"}
DEFAULT_POINT_SETTINGS = {
    "enabled": True,
    "time": "01:30",
    "keep": {"last": 0, "daily": 7, "weekly": 4, "monthly": 6},
    "pupils_may_restore": False,
}
#: Days between two checks of the repository (``restic check``).
CHECK_EVERY_DAYS = 7
#: The word that a restored file's name carries, in the requester's language.
RESTORED_WORD = {"fr": "restauré", "en": "restored"}
#: A snapshot id as restic prints it (full or short).
SNAPSHOT_RE = re.compile(r"\A[0-9a-f]{8,64}\Z")
MAX_PATH_BYTES = 4000


def validate_point_settings(data, current: Optional[dict] = None) -> dict:
    """Validate a (partial) settings document and merge it into ``current``."""
    if not isinstance(data, dict):
        raise ValidationError("settings must be a JSON object")
    unknown = set(data) - set(DEFAULT_POINT_SETTINGS)
    if unknown:
        raise ValidationError(f"unknown settings: {', '.join(sorted(unknown))}")
    base = current or DEFAULT_POINT_SETTINGS
    out = {key: base.get(key, default) for key, default in DEFAULT_POINT_SETTINGS.items()}
    out["keep"] = dict(out["keep"])
    for flag in ("enabled", "pupils_may_restore"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise ValidationError(f"{flag} must be true or false")
            out[flag] = data[flag]
    if "time" in data:
        if not isinstance(data["time"], str) or not TIME_RE.match(data["time"]):
            raise ValidationError("time must be HH:MM (24 h)")
        out["time"] = data["time"]
    if "keep" in data:
        keep = data["keep"]
        if not isinstance(keep, dict) or set(keep) - set(KEEP_FLAGS):
            raise ValidationError("keep accepts only last, daily, weekly, monthly")
        for period, value in keep.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                raise ValidationError(f"keep.{period} must be an integer from 0 to 1000")
            out["keep"][period] = value
        # The newest point is always kept: restic keeps the newest of each day that it keeps.
        if out["keep"]["daily"] < 1:
            raise ValidationError("keep.daily must be at least 1: the newest point is always kept")
    return out


def forget_flags(keep: dict) -> list:
    """restic forget's retention flags (a period at 0 is left out)."""
    flags = []
    for period, flag in KEEP_FLAGS.items():
        if keep.get(period):
            flags += [flag, str(int(keep[period]))]
    return flags


def point_due(settings: dict, now: _dt.datetime, last_run: Optional[str]) -> bool:
    """True when nightly points are on, today's time has passed and none was made today."""
    match = TIME_RE.match(settings.get("time", ""))
    if not settings.get("enabled") or not match or last_run == now.date().isoformat():
        return False
    return (now.hour, now.minute) >= (int(match["h"]), int(match["m"]))


def check_due(last_check: Optional[float], now: float) -> bool:
    """The repository is checked once a week, after a nightly point."""
    return last_check is None or now - last_check >= CHECK_EVERY_DAYS * 86400


def validate_snapshot(value) -> str:
    if not isinstance(value, str) or not SNAPSHOT_RE.match(value):
        raise ValidationError(f"invalid restore point {value!r}")
    return value


def validate_relpath(value, allow_empty: bool = False) -> str:
    """A path inside a home, as the caller names it: relative, normalised, without ``..``.
    Returns it without leading or trailing slashes ("" is the home itself)."""
    if not isinstance(value, str) or "\x00" in value or len(value.encode()) > MAX_PATH_BYTES:
        raise ValidationError("invalid path")
    parts = [p for p in value.strip("/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ValidationError("a path may not contain '..'")
    if parts and parts[0].startswith(".jhub-restore-"):
        raise ValidationError("invalid path")
    if not parts and not allow_empty:
        raise ValidationError("a file or folder is required")
    return "/".join(parts)


def restored_name(name: str, when: _dt.date, lang: str = "fr", attempt: int = 1) -> str:
    """``devoir.ipynb`` -> ``devoir (restauré 2026-12-05).ipynb``; a folder or a name without a
    suffix gets the words at its end; ``attempt`` > 1 numbers a second restore of the same day."""
    word = RESTORED_WORD.get(lang, RESTORED_WORD["en"])
    tag = f" ({word} {when.isoformat()}{'' if attempt == 1 else f' {attempt}'})"
    stem, ext = posixpath.splitext(name)
    if not stem or len(ext) > 16 or " " in ext:  # ".bashrc", "a.b c": no real suffix
        stem, ext = name, ""
    return f"{stem}{tag}{ext}"


def escape_pattern(path: str) -> str:
    """A path as a restic include pattern that matches only itself."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", path)
