"""rfc3987_syntax, loaded when first used instead of when imported (users' servers only).

Importing the installed ``rfc3987_syntax`` 1.1 builds about forty Lark parsers of RFC 3987's
grammar: about 0.9 s of CPU. ``jsonschema._format`` imports it, for its "iri" and "iri-reference"
format checkers, whenever ``jsonschema`` is imported, and ``jupyter_events`` imports ``jsonschema``
in every Jupyter server (jupyter_server issue 1559), although no Jupyter event schema uses those
formats. This folder comes first on the users' servers' ``PYTHONPATH``
(docker/exporters/README.md), so this package is the ``rfc3987_syntax`` they import: it stands
for the installed one without building anything, and builds it at the first use of any of its
names. ``is_valid_syntax`` and ``parse`` (what jsonschema calls) are defined here so that
``from rfc3987_syntax import is_valid_syntax`` stays cheap; every other name is the installed
module's, through ``__getattr__``. The installed package's own modules (``syntax_helpers``,
``utils``) are reached through ``__path__``, untouched. Where the package is not installed, this
one is not either: importing it raises ImportError, as jsonschema expects.
"""
import importlib
import importlib.machinery
import os
import sys

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _installed_locations():
    """The folders of the installed rfc3987_syntax: the first one on sys.path after this one."""
    path = [entry for entry in sys.path
            if os.path.abspath(entry or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec(__name__, path)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)


_locations = _installed_locations()
if _locations is None:
    del _locations
    raise ImportError("rfc3987_syntax is not installed", name=__name__)
__path__ = _locations  # submodules come from the installed package
del _locations


def _helpers():
    # import_module, not "from . import": that would look the name up on this module first,
    # that is call __getattr__ below, before the submodule is imported.
    return importlib.import_module(__name__ + ".syntax_helpers")  # builds the parsers, once


def parse(term, value):
    return _helpers().parse(term=term, value=value)


def is_valid_syntax(term, value):
    return _helpers().is_valid_syntax(term=term, value=value)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_helpers(), name)


def __dir__():
    return sorted(set(globals()) | set(dir(_helpers())))
