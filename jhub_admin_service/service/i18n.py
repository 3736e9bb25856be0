"""French and English through tornado.locale and gettext catalogues (French by default).

Catalogues: ``service/translations/{fr,en}/LC_MESSAGES/jhub_admin.po`` compiled to ``.mo``
(``python -m jhub_admin_service.service.i18n compile``). Message ids are English.

Plugged page modules may ship their own strings as a module-level ``MESSAGES`` dict
(``{"fr": {"Courses": "Cours"}, "en": {}}``): it is used when the catalogue has no entry.

The engine speaks English (rejection reasons, file errors): :func:`translate_engine` translates
the exact messages found in the catalogue, and the common messages with variable parts through
:data:`ENGINE_PATTERNS`.
"""
import os
import re
import sys

import tornado.locale

DOMAIN = "jhub_admin"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
TRANSLATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")

_extra = {lang: {} for lang in LANGUAGES}


def N_(message):
    """Mark a string for translation without translating it now (labels defined at import)."""
    return message


def load():
    tornado.locale.load_gettext_translations(TRANSLATIONS_DIR, DOMAIN)
    tornado.locale.set_default_locale(DEFAULT_LANGUAGE)


def register_messages(messages):
    """Merge a plugged module's MESSAGES ({lang: {msgid: text}})."""
    for lang, table in (messages or {}).items():
        _extra.setdefault(lang, {}).update(table)


def get_locale(code):
    return tornado.locale.get(code)


def translate(locale, message, plural=None, count=None):
    text = locale.translate(message, plural, count)
    source = plural if plural is not None and count is not None and count != 1 else message
    if text == source:
        text = _extra.get(locale.code[:2], {}).get(source, text)
    return text


#: (regex on the English engine message, msgid with %(name)s placeholders). The msgid is what
#: the catalogue translates; the placeholders are filled from the regex groups.
ENGINE_PATTERNS = [
    (r"duplicate login '(?P<login>[^']*)' on lines (?P<lines>.+)", N_("duplicate login '%(login)s' on lines %(lines)s")),
    (r"login longer than (?P<n>\d+) characters", N_("login longer than %(n)s characters")),
    (r"unknown role '(?P<role>[^']*)'(?P<rest>.*)", N_("unknown role '%(role)s'%(rest)s")),
    (r"The file has (?P<lines>\d+) lines; at most (?P<max>\d+) accounts can be imported at once\.",
     N_("The file has %(lines)s lines; at most %(max)s accounts can be imported at once.")),
    (r"Unrecognised columns: (?P<columns>.*?)\. Expected a header.*",
     N_("Unrecognised columns: %(columns)s. Expected a header naming at least a login or the first and last "
        "names (identifiant, nom, prénom, classe, profil, mot de passe), or the historical login;password;1 "
        "format.")),
    (r"no account '(?P<login>[^']*)' is managed by jhub-admin", N_("no account '%(login)s' is managed by jhub-admin")),
    (r"another jhub-admin operation is running; try again when it is finished",
     N_("another jhub-admin operation is running; try again when it is finished")),
]
_compiled = [(re.compile(pattern + r"\Z", re.S), msgid) for pattern, msgid in ENGINE_PATTERNS]


def translate_engine(locale, message):
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


def compile_catalogues():
    """Compile every .po into its .mo (babel)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for lang in LANGUAGES:
        folder = os.path.join(TRANSLATIONS_DIR, lang, "LC_MESSAGES")
        with open(os.path.join(folder, DOMAIN + ".po"), "rb") as f:
            catalog = read_po(f, locale=lang)
        with open(os.path.join(folder, DOMAIN + ".mo"), "wb") as f:
            write_mo(f, catalog)
        print(f"{lang}: {len(catalog)} messages")


if __name__ == "__main__":
    if sys.argv[1:] == ["compile"]:
        compile_catalogues()
    else:
        print("usage: python -m jhub_admin_service.service.i18n compile", file=sys.stderr)
        sys.exit(2)
