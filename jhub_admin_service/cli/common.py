"""What every verb group of the CLI shares: the settings and the operations, from the options."""
import argparse
import sys

from ..operations import Operations
from ..settings import AdminSettings, load

#: A command waits this long for another jhub-admin operation (the service's) to finish.
CLI_LOCK_WAIT = 60.0


def settings_from(args: argparse.Namespace) -> AdminSettings:
    settings = load()
    if getattr(args, "registry", None):
        settings.registry_path = args.registry
    return settings


def operations_from(args: argparse.Namespace, readonly: bool = False) -> Operations:
    return Operations(settings_from(args), readonly=readonly, lock_wait=CLI_LOCK_WAIT)


def print_warnings(warnings: list) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
