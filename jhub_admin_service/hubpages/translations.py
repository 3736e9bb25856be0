"""The Jinja function ``_`` of the hub's pages: French or English from the browser's
Accept-Language (French when it names neither), with the admin service's catalogues.

JupyterHub renders its templates without the request in their namespace, but with its handler's
bound ``static_url``: the language is read from that handler's request. A page rendered without
it (none in JupyterHub today) is in French.
"""
import tornado.locale
from jinja2 import pass_context
from jinja2.ext import Extension

from ..service import i18n


def page_locale(context) -> tornado.locale.Locale:
    handler = getattr(context.get("static_url"), "__self__", None)
    if handler is None:
        return i18n.get_locale(i18n.DEFAULT_LANGUAGE)
    # tornado's own Accept-Language parsing, as the admin service's pages use it
    return handler.get_browser_locale(i18n.DEFAULT_LANGUAGE)


@pass_context
def translate(context, message: str, **values) -> str:
    text = i18n.translate(page_locale(context), message)
    return text % values if values else text


@pass_context
def page_language(context) -> str:
    return page_locale(context).code[:2]


class HubTranslations(Extension):
    """Adds ``_`` and ``page_language()`` to the hub's Jinja environment."""

    def __init__(self, environment):
        super().__init__(environment)
        i18n.load()
        environment.globals.update(_=translate, page_language=page_language)
