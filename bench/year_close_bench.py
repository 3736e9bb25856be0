#!/usr/bin/env python3
"""Closing a school year of 1,500 accounts (issue 22), against a plain export of the same volumes
in the same run, on a stack started by docker/compose.yaml (images built by docker/build.sh).

    python3 bench/year_close_bench.py [--pupils 1500] [--leavers 150] [--home-kb 400]

The stack gets --pupils pupils in classes of 30 (each home holding --home-kb of notebooks and
--random-kb of incompressible data, as images are), ten teachers each with a course enrolled in three classes and a released
assignment with its submissions in the exchange, and --leavers pupils (the Terminale classes)
marked as leaving. Then, in this order:

1. the baseline: one export of everything through the sidecar (what the Exports page's button
   does), timed from the request to the job's end, after a first one that warms the page cache;
2. the close of the year through the service's API (what the School year page's button does):
   its own export, verified, the grades sheets, the exchange emptied, the leavers removed (each
   one's ZIP; their homes are in the year's export), the classes ended.

Prints both, the ratio close / export and where the close spent its time. Target: <= 1.5.
Only 127.0.0.1 (the stack's published port) is contacted. Everything is removed at the end.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from e2e_stack import HubUser, Stack  # noqa: E402

ADMIN, PASSWORD = "benchadmin", "Bench-Admin-Passw0rd-42"
SERVICE = "/services/jhub-admin/"
CLASS_SIZE = 30

FILL = r"""
import json, os, pwd, sys
kb = int(sys.argv[1])
cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
        "source": "import numpy as np\nx = np.linspace(0, 10, 100)\nprint(x.mean())\n" * 8}
nb = json.dumps({"cells": [cell] * max(1, kb // 2), "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
for user in pwd.getpwall():
    if not (10000 <= user.pw_uid < 60000) or not os.path.isdir(user.pw_dir):
        continue
    for name, data in (("tp1.ipynb", nb.encode()), ("images.bin", os.urandom(int(sys.argv[2]) * 1024))):
        path = os.path.join(user.pw_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, user.pw_uid, user.pw_gid)
"""

EXCHANGE = r"""
import os, pwd, sys
root = "/srv/nbgrader/exchange"
for course in sys.argv[1:]:
    teacher = pwd.getpwnam(course.split("_", 1)[1].replace("_", "."))
    out = os.path.join(root, course, "outbound", "tp1")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tp1.ipynb"), "w") as f:
        f.write("{}")
    os.chown(out, teacher.pw_uid, teacher.pw_gid)
    for i in range(30):
        sub = os.path.join(root, course, "inbound", f"eleve{i}+tp1+2027-06-01 10:00:00.000000 UTC")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "tp1.ipynb"), "w") as f:
            f.write("{}" * 2000)
"""


def roster(pupils: int, leavers: int) -> str:
    lines = ["login;password;role;class;first_name;last_name"]
    n_terminale = -(-leavers // CLASS_SIZE)
    for i in range(pupils):
        k = i // CLASS_SIZE
        klass = f"TG{k}" if k < n_terminale else f"C{k}"
        lines.append(f"eleve{i:05d};;student;{klass};Prénom{i};Nom{i}")
    lines += [f"prof.p{t};;teacher;;Prof;P{t}" for t in range(10)]
    return "\n".join(lines) + "\n"


def wait(admin: HubUser, path: str, timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = admin.api("GET", path, timeout=60).json()
        job = job.get("job", job)
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.5)
    raise SystemExit(f"{path} did not end in {timeout} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=1500)
    parser.add_argument("--leavers", type=int, default=150)
    parser.add_argument("--home-kb", type=int, default=2000, help="notebooks in each home (compressible)")
    parser.add_argument("--random-kb", type=int, default=1000, help="images and data in each home (incompressible)")
    args = parser.parse_args(argv)

    stack = Stack(env={"JHUB_ADMIN_USER": ADMIN, "JHUB_ADMIN_PASSWORD": PASSWORD})
    try:
        stack.up()
        stack.wait_for_hub(timeout=300)
        started = time.monotonic()
        stack.exec("hub", "sh", "-c", "cat > /tmp/r.csv && jhub-admin import /tmp/r.csv --yes >/dev/null",
                   input=roster(args.pupils, args.leavers))
        courses = []
        n_classes = -(-args.pupils // CLASS_SIZE)
        for t in range(10):
            course = f"cours_prof_p{t}"
            stack.exec("hub", "jhub-admin", "courses", "create", course, "--teacher", f"prof.p{t}", check=False)
            classes = [a for j in range(3) for a in ("--class", f"C{(3 * t + j) % n_classes}")]
            stack.exec("hub", "jhub-admin", "courses", "enrol", course, *classes)
            courses.append(course)
        stack.exec("hub", "python3", "-c", FILL, str(args.home_kb), str(args.random_kb))
        stack.exec("hub", "python3", "-c", EXCHANGE, *courses)
        admin = HubUser(stack, ADMIN, PASSWORD)
        assert admin.login()
        admin.make_token()
        leavers = [f"eleve{i:05d}" for i in range(min(args.leavers, args.pupils))]
        r = admin.api("POST", f"{SERVICE}api/accounts/_bulk", json={"action": "leave", "logins": leavers}, timeout=300)
        assert r.status_code == 200, r.text
        print(f"[bench] {args.pupils} pupils, 10 teachers, {len(leavers)} leavers set up in "
              f"{time.monotonic() - started:.0f} s", flush=True)

        # A first export warms the page cache for both measures (the close's export reads the
        # same files), then the one measured.
        for _ in range(2):
            t0 = time.monotonic()
            job = admin.api("POST", f"{SERVICE}api/exports", json={"target": "all"}).json()["job"]
            done = wait(admin, f"{SERVICE}api/exports/jobs/{job['id']}")
            export_s = time.monotonic() - t0
            assert done["state"] == "done", done
        print(f"[bench] plain export of everything: {export_s:.1f} s ({done['result']['size'] / 2**20:.0f} MiB)",
              flush=True)

        t0 = time.monotonic()
        r = admin.api("POST", f"{SERVICE}api/year/close", json={"school_year": "2026-2027"}, timeout=300)
        assert r.status_code == 202, r.text
        closed = wait(admin, f"{SERVICE}api/jobs/{r.json()['id']}")
        close_s = time.monotonic() - t0
        assert closed["state"] == "done" and closed["summary"]["finished"], closed
        print(f"[bench] close of the year: {close_s:.1f} s; removed {len(closed['summary']['removed'])}; "
              f"steps (s): {closed['summary']['seconds']}; the classes' step (s): "
              f"{closed['summary']['classes'].get('seconds')}; the removals' parts (s): "
              f"{closed['summary'].get('removal_seconds')}")
        print(f"[bench] ratio close / plain export: {close_s / export_s:.2f} (target <= 1.5)")
        return 0
    finally:
        stack.destroy()


if __name__ == "__main__":
    sys.exit(main())
