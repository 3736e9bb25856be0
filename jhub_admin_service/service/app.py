"""Placeholder entry point of the admin service; the real app replaces it."""
import os
from urllib.parse import urlparse

from tornado import ioloop, web
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join


class Index(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self):
        self.write("jhub-admin")


def main():
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/jhub-admin/")
    app = web.Application([(prefix, Index), (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler)],
                          cookie_secret=os.urandom(32))
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    app.listen(url.port, url.hostname)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
