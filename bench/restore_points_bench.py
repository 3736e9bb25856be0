#!/usr/bin/env python3
"""Restore points benchmark (issue 24), against the full export of the same volumes in the same
run, on the real sidecar, Docker and restic.

    python3 bench/restore_points_bench.py [--homes 35] [--home-mb 28] [--handout-mb 20] [--week 7]

1. Homes of about 1 GB in all (``--homes`` x ``--home-mb``: notebooks, text and data files,
   part random). The first restore point is made (the full backup), then 2 % of the bytes
   change (random files rewritten); the sidecar's full export of the homes and the next night's
   point are timed (the backup itself: its helper container, restic; and the whole job with its
   retention), with a warm page cache and, with ``--cold``, after dropping it before each run.
   Target: the backup takes at most 10 % of the export's time.
2. Every home receives the same ``--handout-mb`` handout (the teacher's files copied into 35
   homes); the repository's growth at the next point is compared with the handout's size.
   Target: about one copy, not one per home.
3. ``--week`` more nightly points, each after a small change, then one file brought back from
   the oldest point (a week old) through the sidecar's API: the time from the request to the
   job's end. Target: at most 3 s.

Everything runs on this machine; everything created is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "sidecar"))
sys.path.insert(0, os.path.join(HERE, ".."))

from dockerenv import SidecarEnv  # noqa: E402

GENERATE = r'''
import json, os, random, sys
homes, home_mb = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(24)
words = "import numpy as np liste boucle fonction variable tableau exercice question".split()
total = files = 0
for h in range(homes):
    login = "eleve%02d" % h
    home = f"/v/home/{login}"
    os.makedirs(f"{home}/tp", exist_ok=True)
    budget = home_mb << 20
    i = 0
    while budget > 0:
        if i % 4 == 3:   # a data file: random bytes (images, a dataset)
            size = min(budget, rnd.randint(500_000, 3_000_000))
            data = os.urandom(size)
            name = f"{home}/tp/data{i:03d}.bin"
        else:            # a notebook: text
            text = " ".join(rnd.choice(words) for _ in range(rnd.randint(2000, 12000)))
            data = json.dumps({"cells": [{"cell_type": "code", "source": text}], "nbformat": 4}).encode()
            name = f"{home}/tp/nb{i:03d}.ipynb"
        with open(name, "wb") as f:
            f.write(data)
        budget -= len(data); total += len(data); files += 1; i += 1
    for root, dirs, names in os.walk(home):
        for n in dirs + names:
            os.chown(os.path.join(root, n), 2000 + h, 2000 + h)
    os.chown(home, 2000 + h, 2000 + h)
    os.chmod(home, 0o700)
print(json.dumps({"bytes": total, "files": files}))
'''

#: 2 % of the bytes: random data files rewritten, a tenth of the notebooks appended to.
CHANGE = r'''
import os, random, sys
fraction, seed = float(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
paths = sorted(os.path.join(r, n) for r, _, ns in os.walk("/v/home") for n in ns)
total = sum(os.path.getsize(p) for p in paths)
budget, changed = int(total * fraction), 0
for p in rnd.sample(paths, len(paths)):
    if changed >= budget:
        break
    size = os.path.getsize(p)
    if size > budget - changed:
        continue
    st = os.stat(p)
    with open(p, "r+b") as f:
        f.write(os.urandom(size))
    os.utime(p, None)
    changed += size
print(changed, total)
'''


def call(env, method, path, body=None):
    status, text = env.http(method, path, body)
    return status, json.loads(text)


def job(env, status, answer, timeout=3600):
    assert status == 202, answer
    done = env.wait_job(answer["job"]["id"], timeout=timeout)
    assert done["state"] == "done", done
    return done


def job_seconds(done) -> float:
    return done["finished"] - done["started"]


def repo_bytes(env) -> int:
    return int(env.sidecar_exec("du -s -B1 /backups/restore-points | cut -f1"))


def drop_caches(cache: str) -> None:
    """The host's page cache dropped (this machine's, for the cold measurement only)."""
    if cache == "cold":
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")


def point(env):
    done = job(env, *call(env, "POST", "/api/points"))
    return done, done["result"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--homes", type=int, default=35)
    ap.add_argument("--home-mb", type=int, default=28)
    ap.add_argument("--handout-mb", type=int, default=20)
    ap.add_argument("--change", type=float, default=0.02)
    ap.add_argument("--week", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cold", action="store_true",
                    help="also measure with the page cache dropped before each run (needs root)")
    args = ap.parse_args(argv)
    env = SidecarEnv()
    results = {}
    try:
        print("image built in %.0f s" % env.build(), flush=True)
        env.setup()
        info = json.loads(env.run_in_volumes(
            "python3 - %d %d <<'PY'\n%s\nPY" % (args.homes, args.home_mb, GENERATE)).strip().splitlines()[-1])
        print("homes: %d files, %.2f GB" % (info["files"], info["bytes"] / 1e9), flush=True)
        status, answer = call(env, "POST", "/api/points/enable")
        assert status == 201, answer
        done, first = point(env)
        print("first point (everything): %.1f s, %.0f MB added" % (job_seconds(done), first["summary"]["data_added"] / 1e6))

        # 1. a night where 2 % changed, against the full export of the same homes; with a warm
        # page cache (the worst case for the ratio: the export reads memory) and, with --cold,
        # after dropping it before each (as at night, when the day's files have left the cache)
        for cache in ("warm", "cold") if args.cold else ("warm",):
            exports, nights, jobs = [], [], []
            for r in range(args.rounds):
                changed, total = map(int, env.run_in_volumes(
                    "python3 - %s %d <<'PY'\n%s\nPY" % (args.change, r, CHANGE)).split())
                drop_caches(cache)
                done, night = point(env)
                nights.append(night["timings_s"]["backup"])
                jobs.append(job_seconds(done))
                drop_caches(cache)
                export = job(env, *call(env, "POST", "/api/exports", {"target": "home"}))
                exports.append(job_seconds(export))
                env.http("DELETE", "/api/archives/" + export["result"]["name"])
                print("%s round %d: %.1f MB changed (%.1f %%); point: backup %.2f s (restic %.2f s), whole job "
                      "%.2f s, %.1f MB added; full export %.2f s"
                      % (cache, r + 1, changed / 1e6, 100 * changed / total, nights[-1],
                         night["timings_s"]["restic_backup"], jobs[-1], night["summary"]["data_added"] / 1e6,
                         exports[-1]), flush=True)
            ratio = statistics.median(nights) / statistics.median(exports)
            results[f"night_vs_export_{cache}"] = round(ratio, 3)
            results[f"night_job_vs_export_{cache}"] = round(statistics.median(jobs) / statistics.median(exports), 3)
            print("%s cache: night with %.0f %% changed / full export (medians): %.3f  (target <= 0.10); "
                  "whole nightly job (with its retention) / export: %.3f"
                  % (cache, 100 * args.change, ratio, results[f"night_job_vs_export_{cache}"]), flush=True)

        # 2. the same handout in every home
        before = repo_bytes(env)
        env.run_in_volumes(
            "head -c %d /dev/urandom > /tmp/handout.bin && for h in /v/home/eleve*; do "
            "cp /tmp/handout.bin \"$h/tp/sujet.bin\"; done" % (args.handout_mb << 20))
        point(env)
        growth = repo_bytes(env) - before
        copies = growth / (args.handout_mb << 20)
        results["handout_copies_stored"] = round(copies, 3)
        print("%d homes x %d MB handout: the repository grew by %.1f MB = %.2f copies  (target ~1, not %d)"
              % (args.homes, args.handout_mb, growth / 1e6, copies, args.homes))

        # 3. one file from a point a week old: seven more points, all kept (they are made the
        # same day, when restic's daily retention would keep only the newest)
        assert call(env, "PUT", "/api/points/settings", {"keep": {"last": 50}})[0] == 200
        week_old = call(env, "GET", "/api/points")[1]["points"][0]["id"]
        for day in range(args.week):
            env.run_in_volumes("echo night%d >> /v/home/eleve00/tp/nb000.ipynb" % day)
            point(env)
        timings = []
        for r in range(args.rounds):
            t0 = time.monotonic()
            done = job(env, *call(env, "POST", f"/api/points/{week_old}/restore",
                                  {"user": "eleve01", "path": "tp/nb000.ipynb"}), timeout=60)
            timings.append(time.monotonic() - t0)
            print("restore of one file from the point of a week ago: %.2f s (%s)"
                  % (timings[-1], done["result"]["placed"]), flush=True)
        results["one_file_restore_s"] = round(statistics.median(timings), 2)
        print("one file from a week-old point (median): %.2f s  (target <= 3 s)" % results["one_file_restore_s"])
        print(json.dumps(results))
    finally:
        errors = env.cleanup()
        if errors:
            print("cleanup errors: %s" % errors, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
