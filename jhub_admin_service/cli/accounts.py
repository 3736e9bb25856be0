"""`jhub-admin import | reconcile | bootstrap-admin | accounts ...`: class lists and accounts."""
import argparse
import asyncio
import json
import os
import sys
import time
from typing import Optional, TextIO

from ..accounts import departures
from ..accounts.credentials import write_credentials
from ..accounts.engine import AccountError, Progress, credential
from ..accounts.plan import Plan
from ..sidecar.client import ExportsClient
from .common import operations_from, print_warnings, settings_from


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("import", help="import a class list (comptes.csv, SIECLE, ENT, Excel CSV), or several "
                                        "previewed as one (a new year: SIECLE for the pupils, ENT for the teachers)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    p.add_argument("--json", action="store_true", help="print the plan / report as JSON")
    p.add_argument("--reset-passwords", action="store_true", help="give existing accounts a new password too")
    p.add_argument("--absent-leaving", action="store_true",
                   help="mark the pupils of the registry that the file does not list as leaving at the end of the "
                        "year (the start of a year's list: its absent are the leavers)")
    p.add_argument("--credentials", metavar="OUT", help="where to write new passwords (CSV, mode 0600)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="apply without asking (needed when no terminal can answer the question)")
    p.set_defaults(func=cmd_import)

    p = verbs.add_parser("reconcile", help="bring local accounts and the hub in line with the registry")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--local-only", action="store_true", help="local accounts only (before the hub starts)")
    group.add_argument("--hub-only", action="store_true", help="hub users and groups only")
    p.set_defaults(func=cmd_reconcile)

    p = verbs.add_parser("bootstrap-admin", help="create the first admin once (container start)")
    p.add_argument("--login", help="default: $JHUB_ADMIN_USER or admin")
    p.add_argument("--password-file", help="0600 file keeping a generated password "
                                            "(default: initial-admin-password on the data volume)")
    p.set_defaults(func=cmd_bootstrap_admin)

    accounts = verbs.add_parser("accounts", help="list and manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = accounts.add_parser("list", help="list managed accounts")
    p.add_argument("--class", dest="klass")
    p.add_argument("--role", choices=("student", "teacher", "admin"))
    p.add_argument("--search")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = accounts.add_parser("reset-password", help="give accounts new passwords (printed once)")
    add_selection(p)
    p.add_argument("--credentials", metavar="OUT", help="write them to a 0600 CSV (for slips) instead of printing them")
    p.set_defaults(func=cmd_reset)
    for name, disabled in (("disable", True), ("enable", False)):
        p = accounts.add_parser(name, help=f"{name} accounts")
        add_selection(p)
        p.set_defaults(func=cmd_disable, disabled=disabled)
    p = accounts.add_parser("leaving", help="mark accounts as leaving at the end of the year (the School year page "
                                             "lists them)")
    add_selection(p)
    p.add_argument("--undo", action="store_true", help="no longer leaving")
    p.set_defaults(func=cmd_leaving)
    p = accounts.add_parser("remove", help="remove accounts (each home is archived first, and the account's own "
                                            "work kept as a ZIP to hand over)")
    add_selection(p)
    p.add_argument("--yes", "-y", action="store_true", help="remove several accounts without asking")
    p.set_defaults(func=cmd_remove)
    p = accounts.add_parser("removed", help="the removed accounts that their archive can bring back")
    p.set_defaults(func=cmd_removed)
    p = accounts.add_parser("restore", help="bring a removed account back from its archive (`accounts removed` "
                                             "lists them): its files as they were, a new password (printed once)")
    p.add_argument("archive", help="the archive's name, e.g. jade.perin-20270706-140000.tar.gz")
    p.set_defaults(func=cmd_restore)
    p = accounts.add_parser("set", help="change an account's role, admin rights or classes")
    p.add_argument("login")
    p.add_argument("--role", choices=("student", "teacher", "admin"))
    p.add_argument("--admin", action=argparse.BooleanOptionalAction, default=None,
                   help="a teacher with admin rights as well (--no-admin takes them away); the role stays teacher")
    p.add_argument("--classes", help="comma-separated; empty string for none")
    p.set_defaults(func=cmd_set)


def default_credentials_path() -> str:
    return os.path.abspath(time.strftime("credentials-%Y%m%d-%H%M%S.csv"))


def print_plan(plan: Plan) -> None:
    counts = plan.counts()
    print(f"format: {plan.format}, encoding: {plan.encoding}, delimiter: {plan.delimiter}")
    print("  ".join(f"{k}: {v}" for k, v in counts.items()))
    for kind in ("create", "update"):
        for p in getattr(plan, kind):
            extra = (f" ({', '.join(p.changes)})" if p.changes else "") + (" renamed" if p.renamed else "")
            print(f"  {kind:7} line {p.where or p.line:>5}  {p.login:32} {p.role:8} {','.join(p.classes)}{extra}")
    for r in plan.rejected:
        print(f"  reject  line {r.where or r.line:>5}  {r.login or '-':32} {r.reason}")


def read_lists(paths: list) -> list:
    """[(file name, bytes)] of class lists given on the command line."""
    files = []
    for path in paths:
        with open(path, "rb") as f:
            files.append((os.path.basename(path), f.read()))
    return files


def cmd_import(args: argparse.Namespace) -> int:
    files = read_lists(args.files)
    data = files[0][1] if len(files) == 1 else files
    # The preview reads only: a refused import leaves no registry behind.
    plan = operations_from(args, readonly=True).preview(data, reset_passwords=args.reset_passwords)
    if args.dry_run:
        if args.json:
            json.dump(plan.to_json(), sys.stdout, ensure_ascii=False, indent=1)
            print()
        else:
            print_plan(plan)
        return 0
    makes_passwords = any(p.password for p in plan.create + plan.update)
    credentials_path = new_credentials_path(args.credentials) if makes_passwords else None
    if not args.json:
        print_plan(plan)
    if not confirm_apply(args, settings_from(args), plan):
        return 1
    ops = operations_from(args)
    report = asyncio.run(ops.import_plan(plan, progress=cli_progress(args)))
    out = save_credentials(credentials_path, report.credentials)
    result = report.to_json()
    result["credentials_file"] = out
    if args.absent_leaving:
        leavers = [p.login for p in plan.absent if p.role == "student"]
        if leavers:
            asyncio.run(ops.set_leaving(leavers, True))
        result["marked_leaving"] = leavers
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    else:
        print(f"done: {result['counts']}; local: {report.local}; hub: {report.hub or 'skipped'}")
        if args.absent_leaving:
            print(f"{len(result['marked_leaving'])} absent pupil(s) marked as leaving at the end of the year")
        if out:
            print(f"new passwords written to {out} (mode 0600): hand them out, then delete the file")
    print_warnings(report.warnings)
    return 0


def confirm_apply(args: argparse.Namespace, settings, plan: Plan) -> bool:
    """Asks before an import changes anything: on a terminal, after the plan; without one, only
    ``--yes`` applies. Run where no hub is configured and no registry exists yet, the command is
    probably not in the product's container, and it says so (accounts with the roster's
    passwords would be made on this very machine)."""
    if not (plan.create or plan.update):
        return True
    outside = not settings.hub_api_url and not os.path.exists(settings.registry_path)
    where = (f"This does not look like jhub-admin's container: no JupyterHub API is configured and no "
             f"registry exists at {settings.registry_path}. Applying creates local accounts, with the "
             f"list's passwords, on this machine ({os.uname().nodename}).")
    if args.yes:
        if outside:
            print(f"warning: {where}", file=sys.stderr)
        return True
    if args.json or not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("Nothing applied: without a terminal to confirm (or with --json), add --yes to apply this plan"
              + (f". {where}" if outside else "."), file=sys.stderr)
        return False
    questions = ["Apply this plan?"] + ([f"{where} Apply here anyway?"] if outside else [])
    for question in questions:
        if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes", "o", "oui"):
            print("Nothing applied.", file=sys.stderr)
            return False
    return True


def new_credentials_path(path: Optional[str]) -> str:
    """Where the new passwords will go: a file that must not exist yet (checked before anything is
    applied, so that passwords are never made without a place to put them)."""
    path = path or default_credentials_path()
    if os.path.lexists(path):
        raise AccountError(f"{path} already exists: the credentials go to a new file only; nothing was applied")
    return path


def save_credentials(path: Optional[str], credentials: list) -> Optional[str]:
    if not credentials or path is None:
        return None
    write_credentials(path, credentials)
    return path


class ProgressLine:
    """One terminal line for the stages of an import, which run side by side."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.stages = {}

    def __call__(self, stage, done, total):
        self.stages[stage] = (done, total)
        shown = " · ".join(f"{name} {d}/{t}" for name, (d, t) in self.stages.items())
        finished = all(d >= t for d, t in self.stages.values())
        self.stream.write(f"\r{shown}\x1b[K" + ("\n" if finished else ""))
        self.stream.flush()
        if finished:
            self.stages.clear()


def cli_progress(args: argparse.Namespace) -> Progress:
    if args.json or not sys.stderr.isatty():
        return lambda stage, done, total: None
    return ProgressLine(sys.stderr)


def cmd_reconcile(args: argparse.Namespace) -> int:
    report = asyncio.run(operations_from(args).reconcile(local=not args.hub_only, hub=not args.local_only))
    print(json.dumps({"local": report.local, "hub": report.hub}))
    print_warnings(report.warnings)
    return 1 if report.local.get("failed") else 0


def cmd_bootstrap_admin(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    password = ops.settings.first_admin_password or None
    login = args.login or ops.settings.first_admin
    created = asyncio.run(ops.bootstrap_admin(login, password))
    if created is None:
        print(f"first admin {login!r} already exists")
    elif password:
        print(f"first admin {login!r} created with the password from JHUB_ADMIN_PASSWORD")
    else:
        password_file = args.password_file or os.path.join(ops.settings.data_dir, "initial-admin-password")
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(created + "\n")
        # Printed once, on purpose: this is how the installer learns the first password.
        print(f"first admin {login!r} created; initial password: {created} (also in {password_file})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    accounts = operations_from(args, readonly=True).registry.accounts(role=args.role, klass=args.klass, search=args.search)
    if args.json:
        json.dump([a.to_json() for a in accounts], sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    print(f"{'login':32} {'role':13} {'uid':>6} {'state':8} classes / name")
    for a in accounts:
        state = "disabled" if a.disabled else "active"
        role = "teacher+admin" if a.role == "teacher" and a.hub_admin else a.role
        print(f"{a.login:32} {role:13} {a.uid:>6} {state:8} {','.join(a.classes)}  {a.first_name} {a.last_name}")
    print(f"{len(accounts)} account(s)")
    return 0


def add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("logins", nargs="*", metavar="LOGIN")
    p.add_argument("--class", dest="klass", metavar="CLASS",
                   help="every pupil of this class as well (its teachers only by their logins)")


def selected(args: argparse.Namespace, ops) -> list:
    """The logins named and those of --class, each once; exits when there are none."""
    pupils = ops.registry.accounts(role="student", klass=args.klass) if args.klass else []
    logins = list(args.logins) + [a.login for a in pupils]
    logins = list(dict.fromkeys(logins))
    if not logins:
        raise SystemExit("no account: name logins, or a class with --class")
    for login in logins:
        ops.accounts.get(login)  # AccountError for one that jhub-admin does not manage
    return logins


def cmd_reset(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    logins = selected(args, ops)
    credentials_path = new_credentials_path(args.credentials) if args.credentials else None
    passwords = asyncio.run(ops.reset_passwords(logins))
    if credentials_path:
        save_credentials(credentials_path, [credential(ops.registry.get(login), passwords[login]) for login in logins])
        print(f"{len(logins)} new password(s) written to {args.credentials}")
    else:
        for login in logins:
            print(f"new password for {login}: {passwords[login]}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    logins = selected(args, ops)
    asyncio.run(ops.set_disabled_many(logins, args.disabled))
    print(f"{', '.join(logins)}: {'disabled' if args.disabled else 'enabled'}")
    return 0


def cmd_leaving(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    logins = selected(args, ops)
    asyncio.run(ops.set_leaving(logins, not args.undo))
    print(f"{', '.join(logins)}: {'no longer leaving' if args.undo else 'leaving at the end of the year'}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    logins = selected(args, ops)
    if len(logins) > 1 and not args.yes:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise SystemExit(f"{len(logins)} accounts: add --yes to remove them (nothing removed)")
        if input(f"Remove {len(logins)} accounts ({', '.join(logins[:5])}…)? [y/N] ").strip().lower() \
                not in ("y", "yes", "o", "oui"):
            print("Nothing removed.", file=sys.stderr)
            return 1
    archives, failed = asyncio.run(ops.remove_many(logins))
    for login, archive in archives.items():
        print(f"{login} removed; home archived to {archive}")
    for login, why in failed.items():
        print(f"{login}: not removed ({why}); it stays disabled", file=sys.stderr)
    return 1 if failed else 0


def cmd_set(args: argparse.Namespace) -> int:
    classes = None if args.classes is None else args.classes.split(",")
    asyncio.run(operations_from(args).change(args.login, role=args.role, classes=classes, admin=args.admin))
    print(f"{args.login} updated")
    return 0


def cmd_removed(args: argparse.Namespace) -> int:
    ops = operations_from(args, readonly=True)
    current = {a.login for a in ops.registry.accounts()}
    for d in departures.listed(ops.settings.archive_dir):
        if d.login not in current:
            removed = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.removed))
            print(f"{d.archive}  {d.account['role']:8} {d.account['first_name']} {d.account['last_name']}  "
                  f"removed {removed}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    account, password = asyncio.run(ops.restore_account(args.archive, ExportsClient.if_configured(ops.settings)))
    print(f"{account.login} restored (uid {account.uid}), with its files; new password: {password}")
    return 0

