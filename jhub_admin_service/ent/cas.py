"""CAS 2.0 and 3.0 for the ENT login, by python-cas (a maintained CAS client): the login's
redirection, the ticket's validation (``serviceValidate`` / ``p3/serviceValidate``, with the
attributes), and the logout address that ends the CAS session (the CAS server then tells the other
services: single logout).

The service address is the hub's ``cas_callback`` with the login's ``next``: the CAS server sends
the ticket back to it, and the validation names it again, rebuilt the same way from the request.

Single logout: when the person logs out of the ENT, the CAS server posts a ``logoutRequest`` to
that address, naming the ticket of the login; ``Sessions`` remembers which hub user each ticket
logged in, so that the hub ends their session too.
"""
import time
from collections import OrderedDict
from typing import Optional

import requests
from cas import CASClient, SingleLogoutMixin
from jupyterhub.utils import url_path_join
from tornado.httputil import url_concat

from .config import EntConfig

#: Seconds the hub waits for the CAS server to validate a ticket.
TIMEOUT = 15


class TicketRefused(Exception):
    """The CAS server did not validate the ticket (expired, used, for another service)."""


class _BoundedSession(requests.Session):
    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(*args, **kwargs)


def client(config: EntConfig, service_url: str = "", verify_cert: bool = True):
    return CASClient(version=config.cas_version, service_url=service_url, server_url=config.url + "/",
                     verify_ssl_certificate=verify_cert, session=_BoundedSession())


def service_url(base: str, hub_prefix: str, next_url: str) -> str:
    """The hub's CAS service address for a login going to next_url (base: https://host)."""
    callback = base.rstrip("/") + url_path_join(hub_prefix, "cas_callback")
    return url_concat(callback, {"next": next_url}) if next_url else callback


def login_url(config: EntConfig, service: str) -> str:
    return client(config, service).get_login_url()


def validate(config: EntConfig, service: str, ticket: str, verify_cert: bool = True) -> dict:
    """The CAS server's answer for this ticket: its attributes, and the user as ``user``
    (blocking: run it in a thread)."""
    user, attributes, _ = client(config, service, verify_cert).verify_ticket(ticket)
    if not user:
        raise TicketRefused("the CAS server did not validate the ticket")
    return {**(attributes or {}), "user": user}


def logout_url(config: EntConfig, back: str) -> str:
    return client(config).get_logout_url(back)


def logged_out_ticket(logout_request: str) -> Optional[str]:
    """The ticket that a CAS server's single logout request names (None if it names none)."""
    found = SingleLogoutMixin.get_saml_slos(logout_request)
    return found[0].text.strip() if found and found[0].text else None


class Sessions:
    """Which hub user each CAS ticket logged in, for single logout: the latest logins, for as
    long as a hub login lasts. In the hub's memory: a restart forgets them (the ENT's logout then
    leaves the hub's session to its own expiry)."""

    def __init__(self, kept: int = 20000, seconds: float = 14 * 24 * 3600):
        self.kept, self.seconds = kept, seconds
        self._users = OrderedDict()

    def logged_in(self, ticket: str, user: str) -> None:
        self._users[ticket] = (user, time.monotonic())
        while len(self._users) > self.kept:
            self._users.popitem(last=False)

    def logged_out(self, ticket: str) -> Optional[str]:
        user, at = self._users.pop(ticket, (None, 0.0))
        return user if user and time.monotonic() - at < self.seconds else None
