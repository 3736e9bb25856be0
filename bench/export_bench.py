#!/usr/bin/env python3
"""Export benchmark (issue 5): the sidecar's export vs a plain ``tar -c``
piped through the same compressor, on the same synthetic exchange-like tree
of about 1 GB, in the same run and the same image.

    python3 bench/export_bench.py [--notebooks 20000] [--big-files 10] [--rounds 3]

The tree: ``--notebooks`` small notebooks (JSON with code, text and a few
base64 image outputs, 5-45 KB, owned by assorted uids) in course folders,
plus ``--big-files`` 50 MB files (half random data, half CSV text); the
exchange root is 1777.  Both measurements run in containers of the sidecar
image with the volume mounted read-only; the page cache is warmed first and
the two are alternated for ``--rounds`` rounds; the best time of each is
compared (the ratio of medians is printed too, and the ratio against
the same pipeline timed around a whole ``docker run``).  The sidecar figure is the job's duration as recorded by the
sidecar (helper container creation, export_pipe.py's tar | zstd | sha256, fsync,
metadata, atomic rename) and the client's wall-clock time is printed too.
Target: sidecar <= 1.25 x tar.  Everything created is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "sidecar"))
sys.path.insert(0, os.path.join(HERE, ".."))

from dockerenv import SidecarEnv  # noqa: E402

GENERATE = r'''
import base64, json, os, random, sys
root = "/v/exchange"
n_nb, n_big, big_mb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
os.chmod(root, 0o1777)
words = ("import numpy as np pandas plot liste tableau boucle fonction variable "
         "def return for while if else print range len append dictionnaire "
         "exercice question reponse eleve classe NSI SNT maths").split()
png = base64.b64encode(os.urandom(6000)).decode()
courses = ["nsi-1g", "nsi-tg", "snt-2a", "snt-2b", "maths-1s"]
total = 0
for i in range(n_nb):
    course = courses[i % len(courses)]
    kind = ("inbound", "outbound", "feedback")[i % 3]
    d = os.path.join(root, course, kind, "eleve%04d+tp%02d" % (i // 20, i % 20))
    os.makedirs(d, exist_ok=True)
    cells = []
    for c in range(rnd.randint(4, 30)):
        src = "\n".join(" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12)))
                        for _ in range(rnd.randint(1, 8)))
        cell = {"cell_type": "code" if c % 2 else "markdown", "metadata": {}, "source": src}
        if c % 2:
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": src[:200]}]
            if rnd.random() < 0.2:
                cell["outputs"].append({"output_type": "display_data",
                                        "data": {"image/png": png}, "metadata": {}})
            cell["execution_count"] = c
        cells.append(cell)
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    p = os.path.join(d, "tp%02d.ipynb" % (i % 20))
    data = json.dumps(nb, indent=1).encode()
    with open(p, "wb") as f:
        f.write(data)
    total += len(data)
    os.chown(p, 1000 + (i // 20) % 500, 1000 + (i // 20) % 500)
big = os.path.join(root, "datasets")
os.makedirs(big, exist_ok=True)
chunk = 1024 * 1024
lines = [",".join(str(rnd.randint(0, 10**6)) for _ in range(8)) + "\n" for _ in range(5000)]
for j in range(n_big):
    p = os.path.join(big, "data%02d.%s" % (j, "bin" if j % 2 == 0 else "csv"))
    with open(p, "wb") as f:
        for k in range(big_mb):
            if j % 2 == 0:
                f.write(os.urandom(chunk))
            else:
                f.write(("".join(rnd.choices(lines, k=chunk // 60)).encode() + b"\n" * chunk)[:chunk])
    total += big_mb * chunk
print(json.dumps({"bytes": total, "notebooks": n_nb, "big_files": n_big}))
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebooks", type=int, default=20000)
    ap.add_argument("--big-files", type=int, default=10)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="do not remove the test project")
    args = ap.parse_args(argv)

    env = SidecarEnv(prefix=None)
    try:
        t = env.build()
        print("image built in %.1f s" % t, flush=True)
        env.setup()
        t0 = time.monotonic()
        gen = env.client.containers.run(
            env.image, ["python3", "-c", GENERATE, str(args.notebooks), str(args.big_files),
                        str(args.big_mb)],
            remove=True, network_mode="none", labels=env.labels,
            volumes={env.vol("jh_exchange"): {"bind": "/v/exchange", "mode": "rw"}})
        info = json.loads(gen.decode().strip().splitlines()[-1])
        print("generated %d notebooks + %d x %d MB files: %.2f GB in %.0f s"
              % (info["notebooks"], info["big_files"], args.big_mb, info["bytes"] / 1e9,
                 time.monotonic() - t0), flush=True)
        _, sinfo, _ = env.cli("--json", "list")  # warm the client
        status, body = env.http("GET", "/api/info")
        sinfo = json.loads(body)
        comp, level = sinfo["compressor"], sinfo["level"]
        comp_cmd = {"zstd": "zstd -q -c -T0 -%d" % level, "pigz": "pigz -c -%d" % level,
                    "gzip": "gzip -c -%d" % level}[comp]
        baseline_script = (
            "cd /src && s=$(date +%%s.%%N) && tar --create --file=- --numeric-owner -- exchange"
            " | %s > /out/baseline.tar && e=$(date +%%s.%%N) && sz=$(stat -c %%s /out/baseline.tar)"
            " && rm /out/baseline.tar && echo $s $e $sz" % comp_cmd)
        mounts = {env.vol("jh_exchange"): {"bind": "/src/exchange", "mode": "ro"},
                  env.vol("jh_backups"): {"bind": "/out", "mode": "rw"}}
        # warm the page cache
        env.client.containers.run(env.image, ["bash", "-c", "tar -cf - -C /src exchange | wc -c"],
                                  remove=True, network_mode="none", labels=env.labels,
                                  volumes=mounts)
        base, base_wall, side, side_wall, sizes = [], [], [], [], {}
        for r in range(args.rounds):
            t0 = time.monotonic()
            out = env.client.containers.run(env.image, ["bash", "-c", baseline_script],
                                            remove=True, network_mode="none",
                                            labels=env.labels, volumes=mounts)
            wall = time.monotonic() - t0
            s, e, sz = out.decode().split()
            base.append(float(e) - float(s))
            base_wall.append(wall)
            sizes["tar"] = int(sz)
            print("round %d: tar | %s  %.2f s (docker run wall %.2f s)"
                  % (r + 1, comp, base[-1], wall), flush=True)
            t0 = time.monotonic()
            _, job, _ = env.cli("create", "exchange")
            side_wall.append(time.monotonic() - t0)
            assert job["state"] == "done", job
            side.append(job["finished"] - job["started"])
            sizes["sidecar"] = job["result"]["size"]
            timings = job["result"].get("timings_s", {})
            print("round %d: sidecar export  %.2f s (job: %s), %.2f s (client wall, 1 s polling)"
                  % (r + 1, side[-1], ", ".join("%s %.2f" % kv for kv in timings.items()),
                     side_wall[-1]), flush=True)
            env.cli("delete", job["result"]["name"])
        import statistics

        ratio = min(side) / min(base)
        ratio_median = statistics.median(side) / statistics.median(base)
        ratio_docker_run = min(side) / min(base_wall)
        result = {
            "data_bytes": info["bytes"], "notebooks": info["notebooks"],
            "big_files": info["big_files"], "compressor": "%s -%d" % (comp, level),
            "cpus": os.cpu_count(),
            "tar_s": [round(x, 2) for x in base], "sidecar_s": [round(x, 2) for x in side],
            "sidecar_client_wall_s": [round(x, 2) for x in side_wall],
            "archive_bytes": sizes, "best_tar_s": round(min(base), 2),
            "best_sidecar_s": round(min(side), 2), "ratio": round(ratio, 3),
            "ratio_of_medians": round(ratio_median, 3),
            "tar_docker_run_wall_s": [round(x, 2) for x in base_wall],
            "ratio_vs_docker_run": round(ratio_docker_run, 3),
            "target": 1.25,
        }
        print("\nbest of %d: tar -c | %s: %.2f s    sidecar export: %.2f s    "
              "ratio %.3f (target <= 1.25)" % (args.rounds, comp, min(base), min(side), ratio))
        print("ratio of medians %.3f; vs the same tar in a fresh 'docker run' (the historical "
              "hand-typed way): %.3f" % (ratio_median, ratio_docker_run))
        print(json.dumps(result))
        return 0 if ratio <= 1.25 else 1
    finally:
        if not args.keep:
            errors = env.cleanup()
            if errors:
                print("cleanup errors: %s" % errors, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
