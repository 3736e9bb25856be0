"""Import benchmark (issue 2): jhub-admin against the floor and the historical per-account loop.

Run as root: python bench/import_bench.py [--accounts 1500] [--bare-too]

Everything runs in private mount namespaces (tests/sandbox.py): the host's /etc is never touched.
Measured in one run, on this machine:
- floor: one `chpasswd` batch hashing the same passwords (PAM, yescrypt), accounts pre-made;
- naive: useradd + chpasswd + mkdir + chown per account, as the historical bash importer did;
- jhub-admin: a full import (local accounts, homes, hub users and groups against a running hub);
- re-import of the unchanged roster; a dry run of a 40,000-line file; the CLI importer's peak RSS;
- the same import through the admin service's JSON API, then the service process's RSS.
Targets: jhub-admin <= 1.3x floor and >= 3x faster than naive; re-import <= 2 s with zero hashing;
40,000-line dry run <= 10 s; service memory after the import <= 150 MB RSS.
On a bare machine the bench moves itself into a cgroup of its own first, as the product runs in
its container's (see scheduling.py); --bare-too also times the import before that.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "service")]
from hubtools import RunningHub  # noqa: E402
from sandbox import Sandbox  # noqa: E402
from scheduling import schedule_as_in_the_container, scheduled_by_session  # noqa: E402
from servicetools import wait_for_service  # noqa: E402

CLI = [sys.executable, "-m", "jhub_admin_service.cli"]


def roster_rows(n_accounts, n_teachers=50, n_classes=40):
    rows = []
    for i in range(n_accounts - n_teachers):
        rows.append((f"eleve{i:04d}", f"pw-eleve-{i:04d}", "eleve", f"C{i % n_classes:02d}"))
    for i in range(n_teachers):
        rows.append((f"prof{i:03d}", f"pw-prof-{i:03d}", "prof", ""))
    return rows


def write_roster(path, rows):
    path.write_text("login;password;role;classe\n" + "".join(";".join(r) + "\n" for r in rows))


def timed(fn):
    start = time.monotonic()
    result = fn()
    return time.monotonic() - start, result


def measure_floor(rows, workdir):
    box = Sandbox(workdir / "floor")
    try:
        lines = "".join(f"{login}::{20000 + i}:{20000 + i}::/home/{login}:/bin/bash\n"
                        for i, (login, *_rest) in enumerate(rows))
        box.run(["newusers"], input=lines, check=False)  # untimed: the accounts exist before the floor
        batch = "".join(f"{login}:{password}\n" for login, password, *_ in rows)
        seconds, _ = timed(lambda: box.run(["chpasswd"], input=batch))
        assert box.shadow()[rows[0][0]].startswith("$y$")
        return seconds
    finally:
        box.cleanup()


def measure_naive(rows, workdir):
    box = Sandbox(workdir / "naive")
    script = workdir / "naive.sh"
    # The historical importer: one process chain per account.
    script.write_text(
        "while IFS=';' read -r login password role classe; do\n"
        "  useradd -M -s /bin/bash \"$login\"\n"
        "  echo \"$login:$password\" | chpasswd\n"
        "  mkdir -p \"/home/$login\"\n"
        "  chown \"$login:$login\" \"/home/$login\"\n"
        "done < \"$1\"\n")
    data = workdir / "naive.csv"
    data.write_text("".join(";".join(r) + "\n" for r in rows))
    try:
        seconds, _ = timed(lambda: box.run(["bash", str(script), str(data)]))
        return seconds
    finally:
        box.cleanup()


def measure_jhub_admin(rows, workdir):
    box = Sandbox(workdir / "jhub")
    hub = RunningHub(box)
    roster = workdir / "roster.csv"
    write_roster(roster, rows)
    env = hub.cli_env()
    try:
        hub.start()
        cmd = [*CLI, "import", str(roster), "--json", "--yes", "--credentials", str(workdir / "creds.csv")]
        before, hub_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(hub.proc.pid)
        seconds, proc = timed(lambda: box.run(cmd, env=env))
        after, hub_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(hub.proc.pid) - hub_cpu
        report = json.loads(proc.stdout)
        assert report["local"]["created"] == len(rows) and report["hub"]["created"] == len(rows), report
        print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in report["seconds"].items()), flush=True)
        # The work's CPU time bounds the wall time from below: CPU / cores.
        ours_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"  CPU: importer and its tools {ours_cpu:.1f} s, JupyterHub {hub_cpu:.1f} s; on "
              f"{os.cpu_count()} cores no schedule can take less than {(ours_cpu + hub_cpu) / os.cpu_count():.1f} s",
              flush=True)
        again, proc2 = timed(lambda: box.run([*CLI, "import", str(roster), "--json", "--yes"], env=env))
        report2 = json.loads(proc2.stdout)
        assert report2["counts"]["create"] == 0 and report2["local"]["passwords_set"] == 0, report2
        hashed_again = report2["credentials"]
        return seconds, again, hashed_again, after.ru_maxrss / 1024
    finally:
        hub.stop()
        box.cleanup()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def service_call(hub, token, path, body=None):
    req = urllib.request.Request(f"{hub.url}/services/jhub-admin/{path}", data=body,
                                 method="POST" if body is not None else "GET",
                                 headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def measure_service_import(rows, workdir):
    """The admin's path: the roster posted to the service; returns (seconds, RSS before, RSS after)."""
    box = Sandbox(workdir / "service")
    hub = RunningHub(box)
    roster = workdir / "roster.csv"
    write_roster(roster, rows)
    try:
        hub.start()
        token = hub.user_token("admin")
        wait_for_service(hub)  # the managed service answers a little after the hub
        pid = hub.service_pid()
        before = rss_mb(pid)
        start = time.monotonic()
        job = service_call(hub, token, "api/imports", roster.read_bytes())
        while job["state"] not in ("done", "failed", "interrupted"):
            job = service_call(hub, token, f"api/jobs/{job['id']}?wait=60")
        seconds = time.monotonic() - start
        assert job["state"] == "done", job
        return seconds, before, rss_mb(pid)
    finally:
        hub.stop()
        box.cleanup()


def measure_dry_run(workdir, lines=40_000):
    big = workdir / "big.csv"
    write_roster(big, roster_rows(lines, n_teachers=100, n_classes=200))
    registry = workdir / "empty.sqlite"
    cmd = [*CLI, "--registry", str(registry), "import", str(big), "--dry-run", "--json"]
    seconds, proc = timed(lambda: subprocess.run(cmd, capture_output=True, check=True))
    assert json.loads(proc.stdout)["counts"]["create"] == lines
    assert not registry.exists()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1500)
    parser.add_argument("--bare-too", action="store_true",
                        help="also measure the import in the root cgroup, where sessions are scheduled apart")
    args = parser.parse_args()
    rows = roster_rows(args.accounts)
    with tempfile.TemporaryDirectory(prefix="jhub-bench-") as tmp:
        workdir = Path(tmp)
        if args.bare_too and scheduled_by_session():
            (workdir / "bare").mkdir()
            by_session, *_ = measure_jhub_admin(rows, workdir / "bare")
            print(f"(for reference, jhub-admin scheduled by session, as outside a container: {by_session:.2f} s)",
                  flush=True)
        leave_cgroup = schedule_as_in_the_container()
        if leave_cgroup:
            print("every measurement below runs in a cgroup of its own, as in the container", flush=True)
        try:
            figures = measure_all(rows, workdir)
        finally:
            if leave_cgroup:
                leave_cgroup()
    report(*figures)


def measure_all(rows, workdir):
    floor = measure_floor(rows, workdir)
    print(f"floor (one chpasswd batch, {len(rows)} passwords): {floor:8.2f} s", flush=True)
    ours, again, hashed_again, cli_rss = measure_jhub_admin(rows, workdir)
    print(f"jhub-admin full import (local + homes + hub):      {ours:8.2f} s", flush=True)
    via_service, service_rss_before, service_rss = measure_service_import(rows, workdir)
    print(f"the same import through the service's JSON API:    {via_service:8.2f} s", flush=True)
    naive = measure_naive(rows, workdir)
    print(f"naive per-account loop (useradd/chpasswd/mkdir/chown): {naive:8.2f} s", flush=True)
    dry = measure_dry_run(workdir)
    return floor, ours, again, hashed_again, cli_rss, via_service, service_rss_before, service_rss, naive, dry


def report(floor, ours, again, hashed_again, cli_rss, via_service, service_rss_before, service_rss, naive, dry):
    print()
    print(f"jhub-admin / floor         = {ours / floor:5.2f}x   (target <= 1.30x)")
    print(f"naive / jhub-admin         = {naive / ours:5.2f}x   (target >= 3x)")
    print(f"re-import unchanged        = {again:5.2f} s, passwords hashed: {hashed_again}   (target <= 2 s, 0)")
    print(f"dry run of 40,000 lines    = {dry:5.2f} s   (target <= 10 s)")
    print(f"service RSS after import   = {service_rss:5.1f} MB (idle before: {service_rss_before:.1f} MB)"
          "   (target <= 150 MB)")
    print(f"CLI importer peak RSS      = {cli_rss:5.1f} MB")
    print(f"service import / floor     = {via_service / floor:5.2f}x")


if __name__ == "__main__":
    main()
