"""``jhub-admin year close``: the school year's close, previewed, then run (year/close.py)."""
import argparse
import asyncio
import datetime
import json
import sys

from ..accounts.engine import noop_progress
from ..sidecar.client import ExportsClient
from ..year.plan import ClosePlan, school_year_of
from ..year.sizes import measure
from .accounts import new_credentials_path, read_lists, save_credentials
from .common import operations_from, print_warnings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("year", help="close the school year")
    verbs = parser.add_subparsers(dest="year_command", required=True, metavar="COMMAND")
    close = verbs.add_parser("close", help="preview, then close the school year: a verified export named "
                                           "after it, grades sheets, exchange emptied, leavers removed, classes ended")
    close.add_argument("--school-year", help="e.g. 2026-2027 (default: the one of today's date)")
    close.add_argument("--dry-run", action="store_true", help="show the preview only")
    close.add_argument("--yes", action="store_true", help="close without asking")
    close.add_argument("--json", action="store_true", help="the preview (and the summary) as JSON")
    close.add_argument("--lang", default="fr", help="language of the grades sheets (fr or en)")
    close.add_argument("--next", nargs="+", metavar="LIST", default=[],
                       help="open the next year in the same step with these class lists (SIECLE, ENT, "
                            "historical...), previewed with the close: the pupils they do not name leave")
    close.add_argument("--credentials", metavar="OUT",
                       help="with --next: where to write the new passwords (CSV, mode 0600; default: "
                            "credentials-DATE.csv here)")
    close.set_defaults(func=cmd_close)


def _mib(n) -> str:
    return "?" if n is None else f"{n / 2**20:.0f} MiB"


def print_plan(plan: ClosePlan) -> None:
    print(f"Close of the school year {plan.school_year}")
    print(f"- a verified export of everything, named after the year (at most {_mib(plan.export_bytes)})")
    for c in plan.courses:
        print(f"- course {c.course_id} ({c.teacher}): grades sheet; {c.pupils} pupil(s) leave it; exchange "
              f"({_mib(c.exchange_bytes)}) archived and emptied; keeps the classes {', '.join(c.classes) or '-'}")
    print(f"- {len(plan.leavers)} leaver(s) removed, each with a ZIP of their work: "
          + (", ".join(leaver.login for leaver in plan.leavers) or "none"))
    if plan.kept_staff:
        print(f"- marked as leaving but never removed by a rollover (teachers, admins): {', '.join(plan.kept_staff)}")
    print(f"- {plan.pupils_in_classes} pupil(s) and {plan.teachers_in_classes} teacher(s) leave their classes; "
          f"the classes that end: "
          f"{', '.join(plan.classes) or 'none'}")
    print(f"- disk: takes {_mib(plan.takes_bytes)} on the data volume ({_mib(plan.free_bytes)} free), "
          f"frees {_mib(plan.frees_bytes)}")
    if plan.next_year is not None:
        counts, renamed = plan.next_year.counts(), [p for p in plan.next_year.update if p.renamed]
        print(f"- then the next year opens with the new lists: {counts['create']} new account(s), "
              f"{counts['update'] + counts['unchanged']} returning, {counts['rejected']} rejected line(s)")
        for p in renamed:
            print(f"  renamed: {p.login} -> {p.first_name} {p.last_name} ({p.where or p.line})")
        for r in plan.next_year.rejected:
            print(f"  rejected: {r.where or r.line} {r.login}: {r.reason}", file=sys.stderr)
    for problem in plan.problems:
        print(f"problem: {problem}", file=sys.stderr)


def asked(args) -> bool:
    if args.yes:
        return True
    if args.json or not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("Nothing done: without a terminal to confirm (or with --json), add --yes to close the year.",
              file=sys.stderr)
        return False
    return input("Close the year? [y/N] ").strip().lower() in ("y", "yes", "o", "oui")


def _progress(stage: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r{stage}: {done}/{total}      ")
    sys.stderr.flush()


def cmd_close(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    next_lists = read_lists(args.next) or None
    plan = ops.plan_year_close(args.school_year or school_year_of(datetime.date.today()), measure(ops.settings),
                               next_lists)
    if args.json:
        print(json.dumps(plan.to_json(), indent=1, ensure_ascii=False))
    else:
        print_plan(plan)
    if args.dry_run:
        return 0
    if plan.problems:
        return 1
    if not asked(args):
        return 1
    # Where the newcomers' passwords go: a new file, checked before anything is done.
    credentials_path = new_credentials_path(args.credentials) if next_lists else None
    exports = ExportsClient.if_configured(ops.settings)
    summary = asyncio.run(ops.close_year(plan, exports, noop_progress if args.json else _progress, args.lang,
                                         next_lists))
    saved = save_credentials(credentials_path, summary.pop("credentials", []))
    if args.json:
        print(json.dumps(summary, indent=1, ensure_ascii=False))
    else:
        sys.stderr.write("\n")
        print(f"school year {summary['school_year']} closed: export {summary['export']['name']}; "
              f"{len(summary['removed'])} leaver(s) removed; {summary['classes']['pupils']} pupil(s) out of their classes")
    if "opened" in summary and not args.json:
        counts = summary["opened"]["counts"]
        print(f"next year opened: {counts['create']} account(s) created, {counts['update']} updated"
              + (f"; the new passwords are in {saved}" if saved else ""))
    print_warnings(summary["warnings"])
    return 0 if summary["finished"] else 1
