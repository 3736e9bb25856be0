"""``jhub-admin points ...``: the restore points from a shell, through the sidecar, as the
Restore points page does (docs/exports.md#restore-points-restic).

    jhub-admin points enable              # prints the repository's key, this once
    jhub-admin points enable --place s3 --endpoint https://s3.example.org --bucket B \
        --access-key-id ID --secret-access-key-file FILE      # or: --place disk
    jhub-admin points ssh-key             # then: enable --place sftp --host H --user U --path P
    jhub-admin points key KEY [--place ...]   # the key of an existing repository
    jhub-admin points list | make | check
    jhub-admin points files POINT USER [PATH]
    jhub-admin points restore POINT USER PATH [--lang en]
    jhub-admin points restore-volumes POINT --confirm CODE [--targets home exchange data | --user U]
    jhub-admin points settings [--time 01:30] [--daily 7 --weekly 4 --monthly 6] [--enable|--disable]
"""
import argparse
import json
import sys

from ..sidecar.client import ExportsClient
from .common import settings_from
from .exports import _common_options, _human, _sub_parser_class, _wait, run_sidecar_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("points", help="restore points: make, check, browse, bring back a file",
                              description="Nightly restore points (restic) of the volumes, through the sidecar.")
    _common_options(p, None)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="points_command", metavar="COMMAND", parser_class=_sub_parser_class(p, common))
    sub.required = True
    enable = sub.add_parser("enable", help="create the repository; prints its key, this once")
    key = sub.add_parser("key", help="give the key of an existing repository")
    key.add_argument("key")
    for parser in (enable, key):
        _place_options(parser)
    sub.add_parser("ssh-key", help="the sidecar's SSH key for an SFTP place (its public half)")
    sub.add_parser("list", help="the points, newest first")
    for name, text in (("make", "make a point now"), ("check", "check the repository (restic check)")):
        sub.add_parser(name, help=text).add_argument("--no-wait", action="store_true")
    files = sub.add_parser("files", help="one folder of a user's home in a point")
    files.add_argument("point")
    files.add_argument("user")
    files.add_argument("path", nargs="?", default="")
    restore = sub.add_parser("restore", help="bring back a file or folder beside the current one")
    restore.add_argument("point")
    restore.add_argument("user")
    restore.add_argument("path")
    restore.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of the new name")
    restore.add_argument("--no-wait", action="store_true")
    volumes = sub.add_parser("restore-volumes", help="restore whole volumes, or one home, from a point "
                                                     "(a safety export first; the hub stopped for whole volumes)")
    volumes.add_argument("point")
    volumes.add_argument("--confirm", required=True, help="the point's code (its short id), as confirmation")
    volumes.add_argument("--targets", nargs="+", choices=("home", "exchange", "data"), default=None)
    volumes.add_argument("--user", default=None, help="only this user's home")
    volumes.add_argument("--no-wait", action="store_true")
    settings = sub.add_parser("settings", help="show or change the nightly time and the retention")
    settings.add_argument("--enable", dest="enabled", action="store_true", default=None)
    settings.add_argument("--disable", dest="enabled", action="store_false")
    settings.add_argument("--time", default=None, help="HH:MM")
    for period in ("last", "daily", "weekly", "monthly"):
        settings.add_argument(f"--{period}", type=int, default=None, help=f"{period} points kept")
    for parser in (p, *sub.choices.values()):
        parser.set_defaults(func=run)
    return p


async def _run(args) -> int:
    settings = settings_from(args)
    client = ExportsClient(args.sidecar_url or settings.sidecar_url, args.secret_file or settings.sidecar_secret_file)
    cmd = args.points_command
    if cmd == "enable":
        out = await client.enable_points(_place(args))
        if not args.json:
            print(f"restore points on, at {out['place']['address']}. Their key, shown this once: "
                  f"write it down, keep it off this server:\n\n    {out['key']}\n")
            for fingerprint in out.get("host_key_fingerprints") or []:
                print(f"the SSH server's host key, now required: {fingerprint}")
            return 0
    elif cmd == "key":
        out = await client.set_points_key(args.key, _place(args))
    elif cmd == "ssh-key":
        out = await client.points_ssh_key()
        if not args.json:
            print(out["public_key"])
            return 0
    elif cmd == "list":
        out = (await client.points())
        if not args.json:
            for p in out["points"]:
                added = (p.get("summary") or {}).get("data_added")
                print(f"{p['short_id']}  {p['time'][:19]}  {','.join(p['tags']):8} "
                      f"{'+' + _human(added) if added is not None else ''}")
            return 0
    elif cmd in ("make", "check"):
        job = await (client.make_point() if cmd == "make" else client.check_points())
        out = await _wait(client, job, args)
    elif cmd == "files":
        out = await client.point_files(args.point, args.user, args.path)
        if not args.json:
            for e in out["entries"]:
                print(f"{e['name']}{'/' if e['type'] == 'dir' else ''}")
            return 0
    elif cmd == "restore":
        out = await _wait(client, await client.restore_point_file(args.point, args.user, args.path, args.lang,
                                                                  "jhub-admin CLI"), args)
        if out["state"] == "done" and not args.json:
            print(f"{args.path} of {args.user} is back as {out['result']['placed']}")
            return 0
    elif cmd == "restore-volumes":
        out = await _wait(client, await client.restore_point_volumes(args.point, args.confirm, args.targets,
                                                                     args.user), args)
    else:  # settings
        change = {k: getattr(args, k) for k in ("enabled", "time") if getattr(args, k) is not None}
        keep = {k: getattr(args, k) for k in ("last", "daily", "weekly", "monthly") if getattr(args, k) is not None}
        if keep:
            change["keep"] = keep
        out = await (client.set_points_settings(change) if change else client.points(status_only=True))
    print(json.dumps(out, indent=2, sort_keys=True))
    if isinstance(out, dict) and out.get("state") == "failed":
        print(f"error: {out.get('error')}", file=sys.stderr)
        return 1
    return 0


def _place_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the repository is (default: the archives volume)")
    group.add_argument("--place", choices=("archives", "disk", "sftp", "s3"), default=None)
    for name, text in (("host", "SFTP server"), ("port", "SFTP port (22)"), ("user", "SFTP user"),
                       ("path", "SFTP folder, or S3 folder in the bucket"), ("endpoint", "S3 endpoint, https://host[:port]"),
                       ("bucket", "S3 bucket"), ("region", "S3 region"), ("access-key-id", "S3 access key id"),
                       ("secret-access-key-file", "a file that holds the S3 secret key (never on the command line)")):
        group.add_argument(f"--{name}", default=None, help=text)


def _place(args) -> dict:
    """The place that the options name, or None (the default; or, for ``key``, the current one)."""
    if not args.place:
        return None
    place = {"kind": args.place}
    if args.place == "sftp":
        place.update(host=args.host, port=args.port or 22, user=args.user, path=args.path)
    elif args.place == "s3":
        secret = ""
        if args.secret_access_key_file:
            with open(args.secret_access_key_file) as f:
                secret = f.read().strip()
        place.update(endpoint=args.endpoint, bucket=args.bucket, prefix=args.path or "",
                     region=args.region or "", access_key_id=args.access_key_id, secret_access_key=secret)
    return place


def run(args: argparse.Namespace) -> int:
    """Run one ``points`` sub-command; returns the exit status."""
    return run_sidecar_command(_run, args)
