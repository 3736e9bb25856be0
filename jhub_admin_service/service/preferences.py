"""What the admin sets on the Settings page, kept in a small JSON file beside the registry.

Today: the hub's address printed on credential slips. When it is not set there (nor by
JHUB_ADMIN_PUBLIC_URL), the slips print the address that the admin's browser uses for the hub.
"""
import ipaddress
import json
import os
from typing import Optional
from urllib.parse import urlsplit


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

    def set_public_url(self, value: str) -> str:
        url = checked_public_url(value)
        data = {**self.read(), "public_url": url}
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = f"{self.path}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)
        return url
