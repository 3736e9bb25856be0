#!/usr/bin/env python3
"""Restore points kept elsewhere (issue 24): what a point and a restore cost on a second disk, an
SFTP server and an S3-compatible store, against the archives volume in the same run, on the real
sidecar, Docker, restic and rclone.

    python3 bench/restore_points_places_bench.py [--homes 35] [--home-mb 8] [--rounds 3]

For each place (the archives volume first: the baseline), with the same homes: the repository is
made there, the first point (everything), then ``--rounds`` nights where 2 % of the bytes changed
(the backup's time: its helper container and restic, through the sidecar's tunnel and rclone for
the other places), and one file brought back (request to the job's end). Printed: each place's
medians and their ratio to the archives volume's. The SFTP server (Debian's OpenSSH) and the S3
store (moto's server) are containers on this machine, on a network that the bench makes: the
ratio measures the tunnel and rclone, not a real network's latency.

Everything runs on this machine; everything created is removed at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "sidecar"))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from dockerenv import SidecarEnv, build_image, call  # noqa: E402
from restore_points_bench import CHANGE, GENERATE, job, job_seconds  # noqa: E402

SFTP_IMAGE = "jhub-admin-test-sftp:latest"
PLACES = {
    "archives": {"kind": "archives"},
    "disk": {"kind": "disk"},
    "sftp": {"kind": "sftp", "host": "sftp", "port": 22, "user": "sauvegarde", "path": "points"},
    "s3": {"kind": "s3", "endpoint": "http://s3:9000", "bucket": "jhub-points", "prefix": "bench",
           "access_key_id": "bench", "secret_access_key": "bench-secret"},
}


def servers(env, egress: str, image: str) -> None:
    """moto's S3 server and an OpenSSH server on the bench's own network, the sidecar's SSH key
    allowed on the latter."""
    import moto

    site = os.path.dirname(os.path.dirname(moto.__file__))
    build_image(SFTP_IMAGE, "tests/sidecar/sftp/Dockerfile", context=os.path.join(HERE, "..", "tests", "sidecar", "sftp"))
    network = env.client.networks.get(egress)
    for alias, kwargs in (
            ("s3", dict(image=image, command=["/usr/bin/python3", "-m", "moto.server", "-H", "0.0.0.0", "-p", "9000"],
                        environment={"PYTHONPATH": "/opt/host-site"},
                        volumes={site: {"bind": "/opt/host-site", "mode": "ro"}})),
            ("sftp", dict(image=SFTP_IMAGE))):
        ctr = env.client.containers.run(name=f"{env.prefix}_{alias}", detach=True, labels=env.labels,
                                        network=egress, **kwargs)
        network.disconnect(ctr)
        network.connect(ctr, aliases=[alias])
        setattr(env, alias, ctr)
    public = call(env, "POST", "/api/points/ssh-key")[1]["public_key"]
    env.sftp.exec_run(["sh", "-c", f"echo '{public}' > /home/sauvegarde/.ssh/authorized_keys && "
                                   "chown sauvegarde: /home/sauvegarde/.ssh/authorized_keys"])
    env.sidecar_exec("for i in $(seq 100); do python3 -c \"import urllib.request; "
                     "urllib.request.urlopen('http://s3:9000/', timeout=2)\" 2>/dev/null && exit 0; "
                     "sleep 0.2; done; exit 1")


def at_place(env, name: str, place: dict, rounds: int, change: float) -> dict:
    """The repository made at ``place``; its first point, the nights, one file restored."""
    env.sidecar_exec("rm -rf /srv/sidecar-keys/restore-points.key /srv/sidecar-keys/restore-points-place.json "
                     "/backups/restore-points /backups/.points-state.json")
    status, answer = call(env, "POST", "/api/points/enable", {"place": place})
    assert status == 201, answer
    first = job(env, *call(env, "POST", "/api/points"))
    nights, restores = [], []
    for r in range(rounds):
        env.run_in_volumes("python3 - %s %d <<'PY'\n%s\nPY" % (change, r, CHANGE))
        done = job(env, *call(env, "POST", "/api/points"))
        nights.append(done["result"]["timings_s"]["backup"])
        t0 = time.monotonic()
        job(env, *call(env, "POST", f"/api/points/{done['result']['point']}/restore",
                       {"user": "eleve01", "path": "tp/nb000.ipynb"}), timeout=120)
        restores.append(time.monotonic() - t0)
    out = {"first": job_seconds(first), "night": statistics.median(nights), "restore": statistics.median(restores)}
    print("%-8s first point %.1f s; night (2 %% changed) %s s, median %.2f s; one file back %s s, median %.2f s"
          % (name, out["first"], [round(n, 2) for n in nights], out["night"],
             [round(x, 2) for x in restores], out["restore"]), flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--homes", type=int, default=35)
    ap.add_argument("--home-mb", type=int, default=8)
    ap.add_argument("--change", type=float, default=0.02)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    env = SidecarEnv()
    disk = tempfile.mkdtemp(prefix="jhub-points-bench-disk-")
    try:
        print("image built in %.0f s" % env.build(), flush=True)
        egress = env.client.networks.create("%s_egress" % env.prefix, driver="bridge", labels=env.labels)
        env.sidecar_volumes = {disk: {"bind": "/srv/points-disk", "mode": "rw"}}
        env.sidecar_networks = [egress.name]
        env.setup()
        env.run_in_volumes("python3 - %d %d <<'PY'\n%s\nPY" % (args.homes, args.home_mb, GENERATE))
        servers(env, egress.name, env.image)
        results = {name: at_place(env, name, place, args.rounds, args.change) for name, place in PLACES.items()}
        base = results["archives"]
        for name in ("disk", "sftp", "s3"):
            print("%-8s / archives volume: first point %.2f, night %.2f, one file back %.2f"
                  % (name, results[name]["first"] / base["first"], results[name]["night"] / base["night"],
                     results[name]["restore"] / base["restore"]))
        return 0
    finally:
        env.cleanup()
        shutil.rmtree(disk, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
