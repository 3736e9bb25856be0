"""Which accounts a page of the Accounts section means: its filter (q, class, role, state), or
the accounts ticked in its table, or every account that the filter shows."""
from typing import TYPE_CHECKING

from tornado import web

if TYPE_CHECKING:
    from .context import ServiceContext

FILTERS = ("q", "class", "role", "state")


def filtered(ctx: "ServiceContext", args: dict) -> list:
    """Accounts matching the request's filters: q (search), class, role, state."""
    accounts = ctx.reader.accounts(role=args.get("role") or None, klass=args.get("class") or None,
                                   search=(args.get("q") or "").strip() or None)
    state = args.get("state")
    if state == "disabled":
        accounts = [a for a in accounts if a.disabled]
    elif state == "active":
        accounts = [a for a in accounts if not a.disabled]
    elif state == "leaving":
        accounts = [a for a in accounts if a.leaving]
    return accounts


def selected_logins(handler) -> list:
    """A form's selection: with every=1, every account that its filter fields show (all pages);
    else the ticked logins, each once, in their order (400 for one jhub-admin does not manage)."""
    if handler.get_body_argument("every", "") == "1":
        return [a.login for a in filtered(handler.ctx, {k: handler.get_body_argument(k, "") for k in FILTERS})]
    return known_logins(handler, handler.get_body_arguments("login"))


def known_logins(handler, logins: list) -> list:
    logins = list(dict.fromkeys(logins))
    unknown = [login for login in logins if handler.ctx.reader.get(login) is None]
    if unknown:
        raise web.HTTPError(400, handler.engine_text(f"no account {unknown[0]!r} is managed by jhub-admin"))
    return logins


def back_url(handler) -> str:
    """Where a form of the Accounts section sends the admin back: its own page of the list, or
    the School year page."""
    return handler.back_to("back", handler.url("accounts"), within=(handler.url("accounts"), handler.url("year")))
