"""Noisy neighbour: does one student's runaway code slow the nine others down?

In the real compose stack (built images; a stack of its own on 127.0.0.1, removed at the end),
ten students each have a kernel on their server. Nine run a short cell every 2 s and time it.
First nobody misbehaves (the quiet run); then the tenth runs, in turn:

1. a memory bomb in the kernel itself (the cell gets a MemoryError at the per-process limit);
2. a memory bomb spread over three processes, each under the limit, together over it (the
   guard stops the kernel: the time from crossing the limit to the stop is measured);
3. a fork loop (stops at the process limit);
4. four busy loops (the guard lowers their priority).

Every misbehaving cell bounds itself (memory, processes, time), the hub container has its memory
limit, and all traffic goes to 127.0.0.1.

It prints the nine students' cell latency (median, p95) in the quiet run and under each offence,
the ratio of the noisy p95 to the quiet p95, whether the hub and the nine servers answered
throughout, what the guard did, and whether any process but the offender's was stopped.

Targets (issue 12): p95 <= 2x the quiet run; the hub and the nine servers answer throughout; the
offender's kernel stopped within 5 s of crossing the memory limit; no other process stopped.

    python3 bench/noisy_neighbour.py              # builds nothing: run docker/build.sh first
    python3 bench/noisy_neighbour.py --cgroups    # with per-user cgroups, as docker/build.sh up runs it
    python3 bench/noisy_neighbour.py --quiet 60 --phase 40
"""
import argparse
import json
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from e2e_stack import HubUser, LentCgroups, Stack  # noqa: E402
from remote_kernel import RemoteKernel  # noqa: E402

STUDENT_MEMORY_MB, STUDENT_PROCESSES = 512, 128
PREFERENCES = "/srv/jupyterhub/jhub-admin-preferences.json"
SHORT_CELL = "sum(i * i for i in range(20000))"
WARM_UP = 15

OFFENCES = {
    "memory bomb in the kernel": "x = []\nfor i in range(80):  # 2 GB at most\n    x.append(bytes(25 * 2**20))\n",
    "memory bomb in 3 processes": (
        "import subprocess, sys\n"
        "code = ('import os, time; open(\"/tmp/start-\" + str(os.getpid()), \"w\").write(str(time.time())); '\n"
        "        'b = bytes(range(256)) * (300 * 2**20 // 256); '\n"
        "        'open(\"/tmp/done-\" + str(os.getpid()), \"w\").write(str(time.time())); time.sleep(30)')\n"
        "children = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(3)]\n"),
    "fork loop": (
        "import os, time\nchildren = []\n"
        "for i in range(1000):  # bounded\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(15)\n        os._exit(0)\n"
        "    children.append(pid)\n"
        "for pid in children:\n    os.kill(pid, 9)\n    os.waitpid(pid, 0)\nprint(len(children))\n"),
    "four busy loops": (
        "import subprocess, sys\n"
        "code = 'import time\\nt = time.time()\\nwhile time.time() - t < 35: pass'\n"
        "busy = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(4)]\n"),
}


class Neighbour(threading.Thread):
    """A student running a short cell every 2 s; keeps (start time, seconds or None on failure)."""

    def __init__(self, kernel: RemoteKernel):
        super().__init__(daemon=True)
        self.kernel, self.samples, self.stop = kernel, [], threading.Event()
        self.pid = int(kernel.execute("import os; print(os.getpid())")["stdout"])

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            try:
                ok = self.kernel.execute(SHORT_CELL, timeout=30)["status"] == "ok"
            except Exception:  # noqa: BLE001 (a failure is a sample too)
                ok = False
            self.samples.append((started, time.time() - started if ok else None))
            self.stop.wait(max(0.0, 2.0 - (time.time() - started)))


class HubProbe(threading.Thread):
    def __init__(self, user: HubUser):
        super().__init__(daemon=True)
        self.user, self.failures, self.count, self.stop = user, [], 0, threading.Event()

    def run(self):
        while not self.stop.wait(1.0):
            self.count += 1
            try:
                if self.user.api("GET", "/hub/api/", timeout=5).status_code != 200:
                    self.failures.append(time.time())
            except Exception:  # noqa: BLE001
                self.failures.append(time.time())


def latencies(neighbours, start, end):
    values = [s for n in neighbours for t, s in n.samples if start <= t < end]
    ok = sorted(v for v in values if v is not None)
    p95 = ok[min(len(ok) - 1, int(0.95 * len(ok)))] if ok else float("nan")
    return {"cells": len(values), "failed": sum(v is None for v in values),
            "median": statistics.median(ok) if ok else float("nan"), "p95": p95}


def guard_events(stack):
    out = stack.exec("hub", "cat", "/run/jhub-guard/usage.json", check=False).stdout
    return json.loads(out)["events"] if out else []


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quiet", type=float, default=60, help="seconds of the quiet run")
    parser.add_argument("--phase", type=float, default=40, help="seconds of each offence")
    parser.add_argument("--cgroups", action="store_true",
                        help="lend the host's cgroups to the hub, as docker/build.sh up does (per-user cgroups); "
                             "without it, the per-process limits and the guard work alone")
    args = parser.parse_args()
    lent = LentCgroups() if args.cgroups else None
    stack = Stack(env={"JHUB_ADMIN_USER": "direction", "JHUB_ADMIN_PASSWORD": "Bench-" + secrets.token_urlsafe(8),
                       **(lent.env if lent else {})}, overrides=(lent.override,) if lent else ())
    try:
        stack.up()
        stack.wait_for_hub()
        run(stack, args)
    finally:
        stack.destroy()
        if lent:
            lent.remove()


def run(stack, args):
    logins = [f"eleve{i:02d}" for i in range(10)]
    passwords = {login: "Nb-" + secrets.token_urlsafe(9) for login in logins}
    roster = Path("/tmp/noisy-neighbour.csv")
    roster.write_text("login;password;role;class\n" + "".join(f"{l};{p};student;2C\n" for l, p in passwords.items()))
    stack.copy_to("hub", roster, "/tmp/classe.csv")
    stack.exec("hub", "jhub-admin", "import", "/tmp/classe.csv", "--yes")
    stack.exec("hub", "python3", "-c", "import sys; from jhub_admin_service.service.preferences import Preferences; "
               f"Preferences({PREFERENCES!r}).set_limits('student', sys.argv[1], sys.argv[2])",
               str(STUDENT_MEMORY_MB), str(STUDENT_PROCESSES))
    users = []
    for login in logins:
        user = HubUser(stack, login, passwords[login])
        assert user.login(), login
        user.make_token()
        user.start_server(timeout=300)
        users.append(user)
    offender_user, others = users[-1], users[:-1]
    neighbours = [Neighbour(RemoteKernel(u)) for u in others]
    probe = HubProbe(others[0])
    offender = RemoteKernel(offender_user)
    offender_pid = int(offender.execute("import os; print(os.getpid())")["stdout"])
    mode = json.loads(stack.exec("hub", "cat", "/run/jhub-guard/usage.json").stdout).get("mode", "rlimits")
    print(f"machine: {stack.exec('hub', 'nproc').stdout.strip()} cores; 10 students, limits "
          f"{STUDENT_MEMORY_MB} MB and {STUDENT_PROCESSES} processes each; limits enforced by: {mode}", flush=True)
    for thread in (*neighbours, probe):
        thread.start()
    time.sleep(WARM_UP)  # the first cells of each kernel (imports, caches) are not the quiet run's
    marks = [("quiet", time.time())]
    time.sleep(args.quiet)
    results = {}
    for name, code in OFFENCES.items():
        marks.append((name, time.time()))
        started = time.time()
        try:
            results[name] = offender.execute(code, timeout=args.phase)
        except Exception as exc:  # noqa: BLE001 (the kernel may be stopped under it)
            results[name] = {"status": f"interrupted ({type(exc).__name__})"}
        time.sleep(max(0.0, args.phase - (time.time() - started)))
        if name == "memory bomb in 3 processes":
            results[name]["kill"] = kill_delay(stack, offender, offender_pid, started)
            offender = RemoteKernel(offender_user)
    marks.append(("end", time.time()))
    for thread in (*neighbours, probe):
        thread.stop.set()
    report(stack, neighbours, probe, marks, results, offender_user.name)


def kill_delay(stack, offender, offender_pid, since):
    """(seconds, exact) from the moment the offender's processes crossed the limit to the guard's
    stop of the kernel. Two children's 600 MB are over 512 MB: the limit was crossed when the
    second child's memory was written, at the latest. If the guard stopped them before two were
    written (it may see them over the limit mid-way), the crossing came after the last child
    started: the delay is at most the stop less that start."""
    stops = [e for e in guard_events(stack) if e["kind"] == "memory" and e["pid"] == offender_pid]
    written = stack.exec("hub", "sh", "-c", "for f in /tmp/start-* /tmp/done-*; do echo $f $(cat $f); done; "
                         "rm -f /tmp/start-* /tmp/done-*", check=False)
    marks = [line.split() for line in written.stdout.splitlines() if len(line.split()) == 2]
    starts = sorted(float(t) for name, t in marks if "/start-" in name)
    done = sorted(float(t) for name, t in marks if "/done-" in name)
    if not stops or not starts:
        return None
    if len(done) >= 2:
        return stops[0]["time"] - done[1], True
    return stops[0]["time"] - starts[-1], False


def report(stack, neighbours, probe, marks, results, offender):
    quiet = latencies(neighbours, marks[0][1], marks[1][1])
    print(f"\nnine neighbours, a short cell every 2 s ({SHORT_CELL}):")
    print(f"  {'phase':30} {'cells':>6} {'failed':>6} {'median':>8} {'p95':>8} {'p95 / quiet':>12}")
    worst = 0.0
    for (name, start), (_, end) in zip(marks, marks[1:]):
        stats = latencies(neighbours, start, end)
        ratio = stats["p95"] / quiet["p95"]
        worst = max(worst, ratio) if name != "quiet" else worst
        print(f"  {name:30} {stats['cells']:6d} {stats['failed']:6d} {stats['median']:8.3f} {stats['p95']:8.3f} "
              f"{ratio:12.2f}")
    failed_cells = sum(s is None for n in neighbours for _, s in n.samples)
    events = guard_events(stack)
    others_stopped = [e for e in events if e["kind"] == "memory" and e["user"] != offender]
    survivors = sum(1 for n in neighbours if int(n.kernel.execute("import os; print(os.getpid())")["stdout"]) == n.pid)
    delay = results.get("memory bomb in 3 processes", {}).get("kill")
    print("\nthe offender:")
    for name, result in results.items():
        print(f"  {name:30} {result.get('status')} {result.get('ename') or ''} "
              f"{(result.get('stdout') or '').strip()[:40]}")
    print(f"  guard: {sum(e['kind'] == 'memory' for e in events)} kernel(s) stopped for memory, "
          f"{sum(e['kind'] == 'cpu' for e in events)} process(es) lowered for CPU")
    print("\ntargets:")
    print(f"  neighbours' p95 <= 2x quiet:                 worst {worst:.2f}x  {'OK' if worst <= 2 else 'MISSED'}")
    print(f"  hub answers throughout:                      {probe.count - len(probe.failures)}/{probe.count}  "
          f"{'OK' if not probe.failures else 'MISSED'}")
    print(f"  nine servers answer throughout:              {failed_cells} failed cell(s)  "
          f"{'OK' if not failed_cells else 'MISSED'}")
    shown = "unknown" if delay is None else f"{'' if delay[1] else 'at most '}{delay[0]:.1f} s"
    print(f"  offender's kernel stopped <= 5 s after crossing the limit: "
          f"{shown}  {'OK' if delay is not None and delay[0] <= 5 else 'MISSED'}")
    print(f"  no other process stopped:                    {9 - survivors} neighbour kernel(s) lost, "
          f"{len(others_stopped)} other stop(s)  {'OK' if survivors == 9 and not others_stopped else 'MISSED'}")


if __name__ == "__main__":
    main()
