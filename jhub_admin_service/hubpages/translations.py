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
from .script_words import PATTERNS, WORDS


def page_locale(context) -> tornado.locale.Locale:
    handler = getattr(context.get("static_url"), "__self__", None)
    if handler is None:
        return i18n.get_locale(i18n.DEFAULT_LANGUAGE)
    # tornado's own Accept-Language parsing, as the admin service's pages use it
    return handler.get_browser_locale(i18n.DEFAULT_LANGUAGE)


@pass_context
def translate(context, message: str, plural: str = None, count: int = None, **values) -> str:
    """``_("1 minute", "%(n)d minutes", n, n=n)``: the message (its plural for count), filled."""
    text = i18n.translate(page_locale(context), message, plural, count)
    return text % values if values else text


@pass_context
def page_language(context) -> str:
    return page_locale(context).code[:2]


@pass_context
def script_words(context) -> dict:
    """What the page's scripts write in English, and its translation (script_words.py):
    {"words": {english: translated}, "patterns": [[regex, translated]]}, empty on an English page."""
    locale = page_locale(context)
    if locale.code.startswith("en"):
        return {"words": {}, "patterns": []}
    return {"words": {english: i18n.translate(locale, msgid) for english, msgid in WORDS.items()},
            "patterns": [[regex, i18n.translate(locale, msgid)] for regex, msgid in PATTERNS]}


class HubTranslations(Extension):
    """Adds ``_``, ``page_language()`` and ``script_words()`` to the hub's Jinja environment."""

    def __init__(self, environment):
        super().__init__(environment)
        i18n.load()
        environment.globals.update(_=translate, page_language=page_language, script_words=script_words)
