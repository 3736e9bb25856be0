"""The service app in the test process, with the hub's authentication replaced by a fixed admin.

For tests of page logic that need no real hub (2,000 accounts, the exports page against a fake
sidecar). Access control itself is tested against the real hub in test_service_access.py.
"""
import json
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from jhub_admin_service.service import base
from jhub_admin_service.service.app import AdminService

PREFIX = "/services/jhub-admin/"


class InProcessService:
    def __init__(self, tmp_path, monkeypatch, env=None):
        for name in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JHUB_ADMIN_SIDECAR_URL",
                     "JHUB_ADMIN_SIDECAR_SECRET_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("JHUB_ADMIN_REGISTRY", str(tmp_path / "jhub-admin.sqlite"))
        monkeypatch.setenv("JHUB_ADMIN_TOKEN_FILE", str(tmp_path / "no-token"))
        monkeypatch.setenv("JHUB_ADMIN_HOME_ROOT", str(tmp_path / "home"))
        monkeypatch.setenv("JHUB_EXCHANGE_ROOT", str(tmp_path / "exchange"))
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)

        def get_current_user(handler):
            handler._token_authenticated = True  # as with an admin's API token: no XSRF
            return {"name": "admin", "admin": True, "kind": "user", "scopes": []}

        monkeypatch.setattr(base.AdminAuthMixin, "get_current_user", get_current_user)
        self.service = AdminService()
        self.app = self.service.make_app()
        self.ctx = self.service.ctx
        sock, self.port = bind_unused_port()
        self.server = HTTPServer(self.app)
        self.server.add_sockets([sock])
        self.http = AsyncHTTPClient()

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{PREFIX}{path}"

    async def fetch(self, path, method="GET", body=None, lang="fr", **kwargs):
        headers = {"Authorization": "token test", "Accept-Language": lang, **kwargs.pop("headers", {})}
        if isinstance(body, dict):
            body = json.dumps(body)
        req = HTTPRequest(self.url(path), method=method, body=body, headers=headers, follow_redirects=False,
                          allow_nonstandard_methods=True, request_timeout=60, **kwargs)
        return await self.http.fetch(req, raise_error=False)

    def close(self):
        self.server.stop()
        self.ctx.reader.close()
        self.ctx.operations.registry.close()


def multipart(fields: dict, files: list) -> tuple:
    """(body, Content-Type) of a form as a browser posts it: fields, then one "file" part per
    (file name, bytes)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
              f"Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
