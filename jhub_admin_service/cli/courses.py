"""`jhub-admin courses ...`: nbgrader courses, enrolment and the exchange from a shell.

Every write goes to the registry first, then `sync` converges the teachers' homes (as the
teachers) and the hub groups, as the import path does.
"""
import argparse
import asyncio
import json
import os
import sys

from ..courses.exchange import prepare_exchange
from ..courses.grades import to_csv, to_xlsx
from ..courses.rules import CourseError
from .common import operations_from, print_warnings, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    courses = subparsers.add_parser("courses", help="nbgrader courses, enrolment, exchange").add_subparsers(
        dest="action", required=True, metavar="ACTION")

    p = courses.add_parser("list", help="list courses with their teacher, classes, students, assignments")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = courses.add_parser("create", help="give a teacher a course")
    p.add_argument("course")
    p.add_argument("--teacher", required=True, metavar="LOGIN")
    p.add_argument("--default", action="store_true",
                   help="make it the teacher's default course (replaces an unused automatic cours_<login>)")
    p.set_defaults(func=cmd_create)

    for name, helptext in (("enrol", "enrol a class or students in a course"),
                           ("unenrol", "unenrol a class or students (their work is kept)")):
        p = courses.add_parser(name, help=helptext)
        p.add_argument("course")
        p.add_argument("--class", dest="classes", action="append", default=[], metavar="CLASS",
                       help="a class name as in the class lists (repeatable)")
        p.add_argument("--students", default="", metavar="A,B,...", help="comma-separated logins")
        p.set_defaults(func=cmd_enrol, unenrol=name == "unenrol")

    p = courses.add_parser("sync", help="converge default courses, teachers' course folders and "
                                        "gradebooks, and hub groups with the registry")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--local-only", action="store_true", help="homes and exchange only (before the hub starts)")
    group.add_argument("--hub-only", action="store_true", help="hub groups only")
    p.add_argument("--force", action="store_true", help="rewrite every teacher's course files and gradebooks, "
                                                       "even those unchanged since the last sync")
    p.set_defaults(func=cmd_sync)

    p = courses.add_parser("grades", help="a course's grades for Pronote: one row per student in class order, "
                                          "each assignment /20 with its raw score and maximum")
    p.add_argument("course")
    p.add_argument("--assignment", help="one assignment, question by question")
    p.add_argument("--out", metavar="FILE", help="FILE.xlsx or FILE.csv (default: CSV on the standard output)")
    p.add_argument("--lang", choices=("fr", "en"), help="the sheet's words (default: from LANG)")
    p.set_defaults(func=cmd_grades)

    p = courses.add_parser("prepare-exchange", help="create the nbgrader exchange root with mode 1777")
    p.add_argument("--root", help="default: $JHUB_EXCHANGE_ROOT or /srv/nbgrader/exchange")
    p.set_defaults(func=cmd_prepare_exchange)


def _report(ops, report, message):
    print(message)
    print_warnings(report.get("warnings", []))
    if not ops.hub.configured:
        print_warnings(["JupyterHub API not configured: hub groups will follow with `jhub-admin courses sync`"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    courses = operations_from(args, readonly=True).courses.list()
    if args.json:
        json.dump(courses, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    print(f"{'course':28} {'teacher':24} {'students':>8} {'assign.':>7}  classes")
    for c in courses:
        mark = "*" if c["is_default"] else " "
        print(f"{c['course_id']:27}{mark} {c['teacher']:24} {c['n_students']:>8} {c['assignments']:>7}  "
              f"{', '.join(c['classes'])}")
    print(f"{len(courses)} course(s); * = the teacher's default course")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    report = asyncio.run(ops.create_course(args.course, args.teacher, as_default=args.default))
    return _report(ops, report, f"course {args.course} created for {args.teacher}")


def cmd_enrol(args: argparse.Namespace) -> int:
    students = [s.strip() for s in args.students.split(",") if s.strip()]
    if not args.classes and not students:
        raise CourseError("give --class CLASS and/or --students a,b")
    ops = operations_from(args)
    change = ops.unenrol if args.unenrol else ops.enrol
    report = asyncio.run(change(args.course, classes=args.classes, students=students))
    verb = "unenrolled from" if args.unenrol else "enrolled in"
    return _report(ops, report, f"{', '.join(args.classes + students)} {verb} {args.course}")


def cmd_sync(args: argparse.Namespace) -> int:
    ops = operations_from(args)
    report = asyncio.run(ops.sync_courses(local=not args.hub_only, hub=not args.local_only, force=args.force))
    warnings = report.pop("warnings", [])
    print(json.dumps(report))
    print_warnings(warnings)
    return 1 if warnings else 0


def cmd_grades(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    lang = args.lang or ("fr" if settings.lang.lower().startswith("fr") else "en")
    sheet = operations_from(args, readonly=True).courses.grades(args.course, args.assignment, lang)
    xlsx = bool(args.out) and args.out.lower().endswith(".xlsx")
    data = to_xlsx(sheet) if xlsx else to_csv(sheet)
    if not args.out:
        sys.stdout.buffer.write(data)
        return 0
    # A new file, readable by its owner only: grades are personal data.
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise CourseError(f"{args.out} already exists: the grades go to a new file only") from None
    with open(fd, "wb") as f:
        f.write(data)
    print(f"{args.out}: {len(sheet.rows)} student(s)", file=sys.stderr)
    return 0


def cmd_prepare_exchange(args: argparse.Namespace) -> int:
    print(prepare_exchange(args.root or settings_from(args).exchange_root))
    return 0
