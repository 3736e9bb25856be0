"""`jhub-admin kernel ...`: the packages that the school adds to the teaching kernel."""
import argparse
import asyncio
import json
import sys

from ..classroom.kernel_packages import KernelPackages
from .common import settings_from


def register(verbs: argparse._SubParsersAction) -> None:
    kernel = verbs.add_parser("kernel", help="the teaching kernel's site packages").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = kernel.add_parser("show", help="the site list and what the kernel has of it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = kernel.add_parser("set", help="replace the site list (one package a line, e.g. scipy>=1.11)")
    p.add_argument("file", help="a text file, or - for standard input")
    p.set_defaults(func=cmd_set)
    p = kernel.add_parser("install", help="install the site list into the kernel (it is unchanged if this fails)")
    p.set_defaults(func=cmd_install)


def cmd_show(args: argparse.Namespace) -> int:
    packages = KernelPackages(settings_from(args))
    listed, installed = packages.read_list(), packages.installed()
    if args.json:
        json.dump({"list": listed, "installed": installed}, sys.stdout, indent=1)
        print()
        return 0
    print(listed.rstrip() or "(the site list is empty)")
    if installed is None:
        print("installed: nothing yet (`jhub-admin kernel install`)")
    else:
        print(f"installed: {', '.join(f'{n}=={v}' for n, v in sorted(installed['packages'].items())) or 'nothing'}")
        if installed["requirements"] != packages.checked(listed):
            print("the list changed since: run `jhub-admin kernel install`")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    requirements = KernelPackages(settings_from(args)).save_list(text)
    print(f"site list saved: {len(requirements)} package(s); `jhub-admin kernel install` installs them")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    packages = KernelPackages(settings_from(args))
    record = asyncio.run(packages.install(log_line=lambda line: print(line, file=sys.stderr)))
    print(json.dumps(record["packages"]))
    return 0
