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


def source_msgids():
    """Literal msgids of the service's code and templates: _("..."), N_("...")."""
    import ast
    import glob

    here = os.path.dirname(os.path.abspath(__file__))
    ids = []
    for path in sorted(glob.glob(os.path.join(here, "*.py"))):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", None)
                if name in ("_", "N_") and isinstance(node.args[0].value, str):
                    ids.append(node.args[0].value)
    literal = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*[,)]""")
    for path in sorted(glob.glob(os.path.join(here, "templates", "*.html"))):
        with open(path, encoding="utf-8") as f:
            ids.extend(ast.literal_eval(m.group(1)) for m in literal.finditer(f.read()))
    return list(dict.fromkeys(ids))


def check_catalogues():
    """Print the msgids of the sources that the French catalogue does not translate."""
    from babel.messages.pofile import read_po

    with open(os.path.join(TRANSLATIONS_DIR, "fr", "LC_MESSAGES", DOMAIN + ".po"), "rb") as f:
        catalog = read_po(f, locale="fr")
    translated = {m.id for m in catalog if m.id and m.string}
    import importlib

    from .app import PAGE_MODULES
    for name in PAGE_MODULES:
        try:
            register_messages(getattr(importlib.import_module(name), "MESSAGES", None))
        except ImportError:
            pass
    plugged = set(_extra.get("fr", {}))
    missing = [i for i in source_msgids() if i not in translated and i not in plugged]
    for msgid in missing:
        print(f"missing: {msgid!r}")
    return missing


if __name__ == "__main__":
    if sys.argv[1:] == ["compile"]:
        compile_catalogues()
    elif sys.argv[1:] == ["check"]:
        sys.exit(1 if check_catalogues() else 0)
    else:
        print("usage: python -m jhub_admin_service.service.i18n compile|check", file=sys.stderr)
        sys.exit(2)
