"""An async client of the JupyterHub REST API, with the service's token.

Reads follow the hub's pagination (``Accept: application/jupyterhub-pagination+json``), as
jupyterhub-idle-culler does. Only users and groups that jhub-admin manages are changed; the
caller decides which those are.
"""
import json
import logging
from typing import Any, Collection, Optional
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

log = logging.getLogger(__name__)

PAGINATION = "application/jupyterhub-pagination+json"


class HubAPIError(RuntimeError):
    def __init__(self, code: int, message: str):
        super().__init__(f"JupyterHub API error {code}: {message}")
        self.code = code


class HubUnreachable(HubAPIError):
    """No answer at all (connection refused, timeout): the hub is not running."""


class HubClient:
    """``api_url`` and ``token`` come from AdminSettings (hub_api_url, hub_api_token); without
    them the client is not ``configured`` and callers skip the hub side."""

    def __init__(self, api_url: str, token: str, page_size: int = 200):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.page_size = page_size
        self.http = AsyncHTTPClient()

    @property
    def configured(self) -> bool:
        return bool(self.api_url and self.token)

    async def request(self, method: str, path: str, body: Optional[dict] = None,
                      accept: str = "application/json") -> Any:
        req = HTTPRequest(
            self.api_url + path, method=method,
            headers={"Authorization": f"token {self.token}", "Accept": accept,
                     "Content-Type": "application/json"},
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True, request_timeout=60,
        )
        try:
            resp = await self.http.fetch(req)
        except HTTPClientError as exc:
            if exc.code == 599:
                raise HubUnreachable(exc.code, str(exc)) from None
            message = exc.response.body.decode("utf-8", "replace")[:500] if exc.response else str(exc)
            raise HubAPIError(exc.code, message) from None
        return json.loads(resp.body) if resp.body else None

    async def paginated(self, path: str, **params: Any) -> list:
        """Every item of a paginated list endpoint."""
        items, offset = [], 0
        while True:
            query = urlencode({**params, "offset": offset, "limit": self.page_size})
            page = await self.request("GET", f"{path}?{query}", accept=PAGINATION)
            if isinstance(page, list):  # a hub without pagination support
                return page
            items.extend(page["items"])
            nxt = (page.get("_pagination") or {}).get("next")
            if not nxt:
                return items
            offset = nxt["offset"]

    # Users

    async def users(self, **params: Any) -> dict:
        return {u["name"]: u for u in await self.paginated("/users", **params)}

    async def create_users(self, names: Collection[str], admin: bool = False) -> None:
        if names:
            await self.request("POST", "/users", {"usernames": sorted(names), "admin": admin})

    async def set_admin(self, name: str, admin: bool) -> None:
        await self.request("PATCH", f"/users/{quote(name)}", {"admin": admin})

    async def delete_user(self, name: str) -> None:
        await self._delete_if_there(f"/users/{quote(name)}")

    async def _delete_if_there(self, path: str) -> None:
        """DELETE path; one already gone (404) is what was wanted."""
        try:
            await self.request("DELETE", path)
        except HubAPIError as exc:
            if exc.code != 404:
                raise

    async def stop_server(self, name: str) -> None:
        try:
            await self.request("DELETE", f"/users/{quote(name)}/server")
        except HubAPIError as exc:
            if exc.code not in (204, 400, 404):
                raise

    async def start_server(self, name: str) -> None:
        """Start a user's default server; one that runs or starts already is left as it is."""
        try:
            await self.request("POST", f"/users/{quote(name)}/server")
        except HubAPIError as exc:
            if exc.code != 400:  # 400: already running or pending
                raise

    async def mark_active(self, name: str, when: str) -> None:
        """Record activity now on a user's default server (ISO 8601), as the server itself does."""
        await self.request("POST", f"/users/{quote(name)}/activity",
                           {"last_activity": when, "servers": {"": {"last_activity": when}}})

    async def running_servers(self) -> dict:
        """{user: server model} for every user with a running or pending default server."""
        active = await self.paginated("/users", state="active")
        return {u["name"]: u["servers"].get("", {}) for u in active if "" in (u.get("servers") or {})}

    # Groups

    async def groups(self) -> dict:
        return {g["name"]: g for g in await self.paginated("/groups")}

    async def create_groups(self, names: Collection[str]) -> None:
        if names:
            await self.request("POST", "/groups", {"groups": sorted(names)})

    async def add_to_group(self, group: str, names: Collection[str]) -> None:
        if names:
            await self.request("POST", f"/groups/{quote(group)}/users", {"users": sorted(names)})

    async def remove_from_group(self, group: str, names: Collection[str]) -> None:
        if names:
            await self.request("DELETE", f"/groups/{quote(group)}/users", {"users": sorted(names)})

    async def delete_group(self, name: str) -> None:
        await self._delete_if_there(f"/groups/{quote(name)}")

    async def sync_groups(self, wanted: dict, existing: Optional[dict] = None) -> None:
        """Make each group in wanted ({name: set(users)}) have exactly those members."""
        existing = existing if existing is not None else await self.groups()
        await self.create_groups([n for n in wanted if n not in existing])
        for name, members in sorted(wanted.items()):
            current = set(existing.get(name, {}).get("users", []))
            await self.add_to_group(name, members - current)
            await self.remove_from_group(name, current - members)

