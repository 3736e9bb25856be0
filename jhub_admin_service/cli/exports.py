"""``jhub-admin exports ...``: the sidecar's operations from a shell.

``main`` calls :func:`register` with its subparsers; every sub-command
sets ``func=run``, and ``run(args)`` returns the exit status (0 ok, 1 refused
or failed, 2 sidecar unreachable).
"""
import argparse
import asyncio
import json
import sys

from ..sidecar.client import ExportsClient, SidecarError, SidecarUnavailable
from ..sidecar.validation import TARGETS
from .common import settings_from


def _common_options(parser, default):
    # Accepted before or after the sub-command; SUPPRESS keeps the group's value.
    parser.add_argument("--sidecar-url", dest="sidecar_url", default=default,
                        help="sidecar URL (default: $JHUB_ADMIN_SIDECAR_URL or "
                             "http://sidecar:8750)")
    parser.add_argument("--secret-file", dest="secret_file", default=default,
                        help="shared secret file (default: $JHUB_ADMIN_SIDECAR_SECRET_FILE)")
    parser.add_argument("--json", action="store_true",
                        default=default if default is not None else False, help="print JSON")


def _sub_parser_class(parent, common):
    base = type(parent)

    def factory(*args, **kwargs):
        kwargs.setdefault("parents", [common])
        return base(*args, **kwargs)

    return factory


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "exports", help="export, list, verify, download, restore or prune archives",
        description="Exports and restores of the home, exchange and data volumes "
                    "through the Docker-socket sidecar.")
    _common_options(p, None)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="exports_command", metavar="COMMAND",
                           parser_class=_sub_parser_class(p, common))
    sub.required = True

    c = sub.add_parser("create", help="export a target to a new archive")
    c.add_argument("target", choices=TARGETS)
    c.add_argument("--no-wait", action="store_true", help="print the job and return")

    sub.add_parser("list", help="list archives, newest first")

    v = sub.add_parser("verify", help="recompute an archive's sha256")
    v.add_argument("name")

    d = sub.add_parser("delete", help="delete an archive")
    d.add_argument("name")

    r = sub.add_parser("restore", help="restore an archive (a safety export is taken first)")
    r.add_argument("name")
    r.add_argument("--sha256", required=True, help="the archive's sha256, as confirmation")
    r.add_argument("--user", default=None, help="restore only this user's home")
    r.add_argument("--no-wait", action="store_true")

    pr = sub.add_parser("prune", help="delete old archives (never the newest)")
    pr.add_argument("--keep", type=int, default=None, help="keep the N newest")
    pr.add_argument("--days", type=int, default=None, help="keep archives younger than D days")

    dl = sub.add_parser("download", help="download an archive (sha256 checked)")
    dl.add_argument("name")
    dl.add_argument("-o", "--output", required=True, help="destination file")

    s = sub.add_parser("schedule", help="show or change the daily export and retention")
    s.add_argument("--enable", dest="enabled", action="store_true", default=None)
    s.add_argument("--disable", dest="enabled", action="store_false")
    s.add_argument("--time", default=None, help="HH:MM")
    s.add_argument("--target", default=None, choices=TARGETS)
    s.add_argument("--keep", type=int, default=None)
    s.add_argument("--days", type=int, default=None)

    for parser in (p, c, v, d, r, pr, dl, s) + tuple(sub.choices.values()):
        parser.set_defaults(func=run)
    return p


def _human(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _progress(job):
    sys.stderr.write(f"\r{job['state']} {job.get('phase') or ''}: {_human(job.get('bytes'))} written   ")
    sys.stderr.flush()


async def _wait(client, job, args):
    if args.no_wait:
        return job
    job = await client.wait_job(job["id"], poll=1.0,
                                progress=None if args.json else _progress)
    if not args.json:
        sys.stderr.write("\n")
    return job


async def _run(args) -> int:
    settings = settings_from(args)
    client = ExportsClient(args.sidecar_url or settings.sidecar_url,
                           args.secret_file or settings.sidecar_secret_file)
    cmd = args.exports_command
    out = None
    status = 0
    if cmd == "create":
        job = await _wait(client, await client.export(args.target), args)
        out = job
        if job["state"] == "failed":
            status = 1
        elif job["state"] == "done" and not args.json:
            m = job["result"]
            print(f"{m['name']}  {_human(m['size'])}  sha256 {m['sha256']}")
            return 0
    elif cmd == "list":
        archives = await client.list_archives()
        if args.json:
            out = archives
        else:
            for a in archives:
                print(f"{a['name']:48} {a.get('kind', ''):9} {_human(a.get('size')):>10}  "
                      f"{a.get('created', '')}  {a.get('sha256')}  {a.get('target', '')}")
            return 0
    elif cmd == "verify":
        out = await client.verify(args.name)
        status = 0 if out["ok"] else 1
        if not args.json:
            print(f"{args.name}: {'OK' if out['ok'] else 'MISMATCH'} (sha256 {out['sha256']})")
            return status
    elif cmd == "delete":
        out = await client.delete(args.name)
    elif cmd == "restore":
        job = await _wait(client, await client.restore(args.name, args.sha256, user=args.user), args)
        out = job
        if job["state"] == "failed":
            status = 1
    elif cmd == "prune":
        out = await client.prune(keep=args.keep, days=args.days)
        if not args.json:
            for n in out["deleted"]:
                print(f"deleted {n}")
            print(f"{len(out['kept'])} kept, {len(out['deleted'])} deleted")
            return 0
    elif cmd == "download":
        meta = await client.download(args.name, args.output)
        out = {"name": meta["name"], "path": args.output, "size": meta["size"],
               "sha256": meta["sha256"]}
    elif cmd == "schedule":
        change = {}
        sched = {k: getattr(args, k) for k in ("enabled", "time", "target")
                 if getattr(args, k) is not None}
        if sched:
            change["schedule"] = sched
        ret = {k: getattr(args, k) for k in ("keep", "days") if getattr(args, k) is not None}
        if ret:
            change["retention"] = ret
        out = await (client.set_settings(change) if change else client.get_settings())
    else:  # pragma: no cover - argparse refuses unknown commands
        raise SystemExit(2)
    if out is not None:
        print(json.dumps(out, indent=2, sort_keys=True))
        if not args.json and isinstance(out, dict) and "state" in out and out.get("error"):
            print(f"error: {out['error']}", file=sys.stderr)
    return status


def run_sidecar_command(command, args: argparse.Namespace) -> int:
    """``command(args)`` (a coroutine function of a sidecar verb group) run to its exit status:
    1 when the sidecar refuses or fails, 2 when it cannot be reached."""
    try:
        return asyncio.run(command(args))
    except SidecarUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SidecarError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """Run one ``exports`` sub-command; returns the exit status."""
    return run_sidecar_command(_run, args)
