"""What the admin sets on the Settings page, kept in a small JSON file beside the registry.

The hub's address printed on credential slips: when it is not set there (nor by
JHUB_ADMIN_PUBLIC_URL), the slips print the address that the admin's browser uses for the hub.
The size above which a home is pointed out on the dashboard and the Accounts page.
The memory and process limits of each role (classroom/limits.py), which the hub's spawner and
the guard read from this same file.
"""
import ipaddress
import json
import os
from typing import Optional
from urllib.parse import urlsplit

from ..classroom import limits as limitsmod


class PreferenceRefused(ValueError):
    """A value the Settings page cannot keep."""


def checked_public_url(value: str) -> str:
    """'' (unset) or an http(s) address of the hub, with a trailing slash."""
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or " " in value:
        raise PreferenceRefused("the address must look like https://jupyter.lycee.fr/ or http://192.168.1.20:8000/")
    return value if value.endswith("/") else value + "/"


#: A home above this many MB is pointed out, until the admin sets another threshold.
DEFAULT_HOME_WARNING_MB = 1024


def checked_home_warning_mb(value: str) -> int:
    try:
        mb = int(str(value).strip())
    except ValueError:
        raise PreferenceRefused("the home size threshold must be a whole number of MB") from None
    if not 1 <= mb <= 10 ** 7:
        raise PreferenceRefused("the home size threshold must be between 1 and 10000000 MB")
    return mb


def only_on_this_machine(url: str) -> bool:
    """Whether url names the server itself (localhost, 127.0.0.0/8, ::1): useless on a slip."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Preferences:
    def __init__(self, path: str):
        self.path = path

    def read(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def public_url(self) -> Optional[str]:
        return self.read().get("public_url") or None

    def home_warning_bytes(self) -> int:
        mb = self.read().get("home_warning_mb")
        return (mb if isinstance(mb, int) and mb > 0 else DEFAULT_HOME_WARNING_MB) * 1024 * 1024

    def limits(self) -> dict:
        """{role: Limits}, the admin's choices over the defaults that fit the server's memory."""
        return limitsmod.limits_from(self.read(), limitsmod.machine_memory_bytes())

    def set_limits(self, role: str, memory_mb: str, processes: str) -> limitsmod.Limits:
        try:
            value = limitsmod.checked(role, memory_mb, processes)
        except limitsmod.LimitRefused as exc:
            raise PreferenceRefused(str(exc)) from None
        self._write(limits={**(self.read().get("limits") or {}), role: limitsmod.to_json({role: value})[role]})
        return value

    def set_public_url(self, value: str) -> str:
        url = checked_public_url(value)
        self._write(public_url=url)
        return url

    def set_home_warning_mb(self, value: str) -> int:
        mb = checked_home_warning_mb(value)
        self._write(home_warning_mb=mb)
        return mb

    def ent(self):
        """The school's ENT as the Settings page set it (ent/config.py; off until then)."""
        from ..ent import config as entconfig
        return entconfig.from_json(self.read().get("ent"))

    def set_ent(self, **fields):
        """Keep the ENT's settings; an empty secret keeps the one already kept."""
        from ..ent import config as entconfig
        if not fields.get("client_secret"):
            fields["client_secret"] = self.ent().client_secret
        try:
            config = entconfig.checked(**fields)
        except entconfig.EntSettingRefused as exc:
            raise PreferenceRefused(str(exc)) from None
        self._write(ent=config.to_json())
        return config

    def _write(self, **changes) -> None:
        data = {**self.read(), **changes}
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)
