"""French and English through tornado.locale and gettext catalogues (French by default).

Catalogues: ``service/translations/{fr,en}/LC_MESSAGES/jhub_admin.po`` compiled to ``.mo``
(``python -m jhub_admin_service.service.i18n compile``). Message ids are English.

The maintenance commands (compile the catalogues, list untranslated strings) are in
``catalogues.py``.

The engine speaks English (rejection reasons, file errors): :func:`translate_engine` translates
the exact messages found in the catalogue, and the common messages with variable parts through
:data:`ENGINE_PATTERNS`.
"""
import os
import re
from typing import Optional

import tornado.locale

DOMAIN = "jhub_admin"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
TRANSLATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")

def N_(message: str) -> str:
    """Mark a string for translation without translating it now (labels defined at import)."""
    return message


def load() -> None:
    tornado.locale.load_gettext_translations(TRANSLATIONS_DIR, DOMAIN)
    tornado.locale.set_default_locale(DEFAULT_LANGUAGE)


def get_locale(code: str) -> tornado.locale.Locale:
    return tornado.locale.get(code)


def translate(locale: tornado.locale.Locale, message: str, plural: Optional[str] = None,
              count: Optional[int] = None) -> str:
    return locale.translate(message, plural, count)


#: (regex on the English engine message, msgid with %(name)s placeholders). The msgid is what
#: the catalogue translates; the placeholders are filled from the regex groups.
ENGINE_PATTERNS = [
    (r"(?P<n>\d+) line\(s\) of the next year's lists are rejected: correct them and preview again \(nothing is "
     r"done before\)", N_("%(n)s line(s) of the next year's lists are rejected: correct them and preview again "
                           "(nothing is done before)")),
    (r"a password of (?P<n>\d+) character\(s\), shorter than the (?P<min>\d+) that the password page asks for",
     N_("a password of %(n)s character(s), shorter than the %(min)s that the password page asks for")),
    (r"duplicate login '(?P<login>[^']*)' on lines (?P<lines>.+)", N_("duplicate login '%(login)s' on lines %(lines)s")),
    (r"login longer than (?P<n>\d+) characters", N_("login longer than %(n)s characters")),
    (r"unknown role '(?P<role>[^']*)'; accepted roles: (?P<roles>.*)",
     N_("unknown role '%(role)s'; accepted roles: %(roles)s")),
    (r"differs only by case from line (?P<line>\d+) \((?P<login>[^)]*)\); JupyterHub would treat them as the same "
     r"account", N_("differs only by case from line %(line)s (%(login)s); JupyterHub would treat them as the same "
                    "account")),
    (r"JupyterHub not reachable \((?P<error>.*)\): local accounts are done; hub users and groups will follow with "
     r"`jhub-admin reconcile`\.", N_("JupyterHub not reachable (%(error)s): local accounts are done; hub users and "
                                     "groups will follow with `jhub-admin reconcile`.")),
    (r"The file has (?P<lines>\d+) lines; at most (?P<max>\d+) accounts can be imported at once\.",
     N_("The file has %(lines)s lines; at most %(max)s accounts can be imported at once.")),
    (r"Unrecognised columns: (?P<columns>.*?)\. Expected a header.*",
     N_("Unrecognised columns: %(columns)s. Expected a header naming at least a login or the first and last "
        "names (identifiant, nom, prénom, classe, profil, mot de passe), or the historical login;password;1 "
        "format.")),
    (r"no account '(?P<login>[^']*)' is managed by jhub-admin", N_("no account '%(login)s' is managed by jhub-admin")),
    (r"the installation failed; the teaching kernel is unchanged: (?P<error>.*)",
     N_("the installation failed; the teaching kernel is unchanged: %(error)s")),
    (r"the packages conflict with the teaching kernel's; it is unchanged: (?P<error>.*)",
     N_("the packages conflict with the teaching kernel's; it is unchanged: %(error)s")),
    (r"a job \((?P<kind>[^)]*)\) is already running \(job (?P<id>[^,]*), started by (?P<user>[^)]*)\); wait until it "
     r"is finished", N_("a job (%(kind)s) is already running (job %(id)s, started by %(user)s); wait until it is "
                        "finished")),
    (r"No such course of yours: (?P<course>.*)", N_("No such course of yours: %(course)s")),
    (r"No student is enrolled in the course (?P<course>.*)\.", N_("No student is enrolled in the course %(course)s.")),
    (r"minutes must be between 1 and (?P<max>\d+)", N_("minutes must be between 1 and %(max)s")),
    (r"admin column: '(?P<value>[^']*)' is neither oui nor non", N_("admin column: '%(value)s' is neither oui nor non")),
    (r"the role '(?P<role>[^']*)' and the admin column \('(?P<cell>[^']*)'\) disagree",
     N_("the role '%(role)s' and the admin column ('%(cell)s') disagree")),
    (r"another jhub-admin operation is running; try again when it is finished",
     N_("another jhub-admin operation is running; try again when it is finished")),
]
_compiled = [(re.compile(pattern + r"\Z", re.S), msgid) for pattern, msgid in ENGINE_PATTERNS]


def translate_engine(locale: tornado.locale.Locale, message: str) -> str:
    text = translate(locale, message)
    if text != message:
        return text
    for pattern, msgid in _compiled:
        m = pattern.match(message)
        if m:
            translated = translate(locale, msgid)
            try:
                return translated % m.groupdict()
            except (KeyError, ValueError, TypeError):
                return message
    return message
