"""jhub-admin: the same engine as the admin service, from a shell.

Exit status: 0 on success, 2 when the input is refused (not a class list, bad arguments),
1 when an operation failed.
"""
import argparse
import logging
import sys
from typing import Optional

from ..accounts.engine import AccountError
from ..accounts.roster import RosterError
from ..courses.rules import CourseError
from ..locks import Busy
from ..classroom.kernel_packages import KernelPackagesError, SiteListRefused
from ..year.close import YearCloseError
from . import accounts, courses, exports, kernel, points, year

#: The verb groups, each a module with register(subparsers); listed here, imported statically.
VERB_GROUPS = (accounts, courses, exports, kernel, points, year)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jhub-admin", description=__doc__.splitlines()[0])
    parser.add_argument("--registry", help="account registry (default: $JHUB_ADMIN_REGISTRY or "
                                           "/srv/jupyterhub/jhub-admin.sqlite)")
    parser.add_argument("-v", "--verbose", action="store_true")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for group in VERB_GROUPS:
        group.register(verbs)
    return parser


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (RosterError, AccountError, CourseError, SiteListRefused) as exc:
        print(f"jhub-admin: {exc}", file=sys.stderr)
        return 2
    except (KernelPackagesError, YearCloseError) as exc:
        print(f"jhub-admin: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"jhub-admin: {exc.filename}: no such file", file=sys.stderr)
        return 2
    except Busy as exc:
        print(f"jhub-admin: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
