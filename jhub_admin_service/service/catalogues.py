"""Maintenance of the service's catalogues: ``python -m jhub_admin_service.service.catalogues
compile|check``.

``compile`` turns every ``.po`` into its ``.mo`` (babel); ``check`` lists the msgids of the
service's code and templates that the French catalogue does not translate, and the French
texts whose punctuation has a plain space where French typography puts a no-break one.
"""
import ast
import glob
import os
import re
import sys

from .i18n import DOMAIN, LANGUAGES, TRANSLATIONS_DIR

#: French typography: a no-break space (not a plain one) before : ; ? ! and inside « ».
PLAIN_SPACE = re.compile(r" [:;?!]|« | »")


def compile_catalogues() -> None:
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


def source_msgids() -> list:
    """Literal msgids of the service's and the hub pages' code and templates: _("..."), N_("...")."""
    here = os.path.dirname(os.path.abspath(__file__))
    hubpages = os.path.join(os.path.dirname(here), "hubpages")
    ids = []
    for path in sorted(glob.glob(os.path.join(here, "*.py")) + glob.glob(os.path.join(hubpages, "*.py"))):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", None)
                if name in ("_", "N_") and isinstance(node.args[0].value, str):
                    ids.append(node.args[0].value)
    literal = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*[,)]""")
    for path in sorted(glob.glob(os.path.join(here, "templates", "*.html"))
                       + glob.glob(os.path.join(hubpages, "templates", "*.html"))):
        with open(path, encoding="utf-8") as f:
            ids.extend(ast.literal_eval(m.group(1)) for m in literal.finditer(f.read()))
    return list(dict.fromkeys(ids))


def check_catalogues() -> list:
    """Print the msgids of the sources that the French catalogue does not translate."""
    from babel.messages.pofile import read_po

    with open(os.path.join(TRANSLATIONS_DIR, "fr", "LC_MESSAGES", DOMAIN + ".po"), "rb") as f:
        catalog = read_po(f, locale="fr")
    # A plural message's id is (singular, plural): the sources name it by both (N_ marks each).
    translated = {form for m in catalog if m.id and all(m.string if isinstance(m.string, tuple) else [m.string])
                  for form in (m.id if isinstance(m.id, tuple) else [m.id])}
    missing = [i for i in source_msgids() if i not in translated]
    for msgid in missing:
        print(f"missing: {msgid!r}")
    badly_spaced = [text for m in catalog if m.id
                    for text in (m.string if isinstance(m.string, tuple) else [m.string]) if PLAIN_SPACE.search(text)]
    for text in badly_spaced:
        print(f"French typography (a no-break space before : ; ? ! and inside « »): {text!r}")
    return missing + badly_spaced


if __name__ == "__main__":
    if sys.argv[1:] == ["compile"]:
        compile_catalogues()
    elif sys.argv[1:] == ["check"]:
        sys.exit(1 if check_catalogues() else 0)
    else:
        print("usage: python -m jhub_admin_service.service.catalogues compile|check", file=sys.stderr)
        sys.exit(2)
