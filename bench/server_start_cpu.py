"""CPU seconds of one user's server start, from exec to ready, measured in the hub container.

It runs the command the hub spawns (``jupyterhub-singleuser``) as a local user, with the
environment the spawner gives a student (the student profile first in ``JUPYTER_CONFIG_PATH``, the
users' servers' ``PYTHONPATH``, the French locale), on a free port, until the server answers HTTP
(what the hub's readiness check waits for); then reads the process's CPU time (user + system, its
own and its waited-for children's, from /proc), again ``--settle`` seconds later (work deferred
until after the server listens), and stops it. Repeated ``--repeats`` times (default 5); prints each run and the median.
``--importtime`` instead prints the slowest imports of one start (``python -X importtime``),
cumulative, in milliseconds. ``--pythonpath`` replaces the users' servers' PYTHONPATH, to compare.

Run it inside the hub container, as root, with the hub's Python (it needs nothing but the
standard library), e.g. on the stack of bench/login_storm.py:

    docker exec -i jhub-storm_hub_1 python3 - --user stormsolo < bench/server_start_cpu.py
    docker exec -i jhub-storm_hub_1 python3 - --user stormsolo --importtime < bench/server_start_cpu.py

The user's server must not be running (its port and files are its own, but two servers of one
user would share their runtime folder).
"""
import argparse
import os
import pwd
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

SINGLEUSER = os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")
PROFILES = os.environ.get("JHUB_JUPYTER_PROFILES", "/etc/jupyter/jhub-admin")
EXPORTERS = "/opt/jhub-admin/exporters"
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU of a process and of its children it has waited for (JupyterLab runs
    ``node yarn.js config`` at import, for one)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / HZ


PATH = os.environ.get("PATH", "/usr/bin:/bin")


def environment(user, port, pythonpath, profile):
    prefix = f"/user/{user.pw_name}/"
    env = {
        "PATH": PATH, "HOME": user.pw_dir, "USER": user.pw_name,
        "SHELL": user.pw_shell, "LANG": "fr_FR.UTF-8",
        "JUPYTER_CONFIG_PATH": os.path.join(PROFILES, profile),
        "JHUB_EXCHANGE_ROOT": "/srv/nbgrader/exchange",
        "JUPYTERHUB_API_TOKEN": "bench-not-a-token", "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{user.pw_name}",
        "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api", "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_HOST": "", "JUPYTERHUB_OAUTH_CALLBACK_URL": prefix + "oauth_callback",
        "JUPYTERHUB_OAUTH_SCOPES": "[]", "JUPYTERHUB_OAUTH_ACCESS_SCOPES": "[]",
        "JUPYTERHUB_USER": user.pw_name, "JUPYTERHUB_SERVER_NAME": "", "JUPYTERHUB_SERVICE_PREFIX": prefix,
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}{prefix}", "JUPYTERHUB_DEFAULT_URL": "/lab",
        "JUPYTERHUB_ACTIVITY_URL": f"http://127.0.0.1:8081/hub/api/users/{user.pw_name}/activity",
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def start(user, pythonpath, profile, importtime=False, timeout=120, settle=3.0):
    """One server start: (CPU seconds to ready, CPU seconds after `settle` more seconds idle,
    wall seconds to ready, stderr text)."""
    port = free_port()
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), SINGLEUSER,
           f"--port={port}", "--ip=127.0.0.1"]
    url = f"http://127.0.0.1:{port}/user/{user.pw_name}/api"
    err_path = f"/tmp/server-start-{user.pw_name}.err"
    with open(err_path, "w+") as err:
        begin = time.monotonic()
        proc = subprocess.Popen(cmd, env=environment(user, port, pythonpath, profile), cwd=user.pw_dir,
                                user=user.pw_uid, group=user.pw_gid, extra_groups=os.getgrouplist(
                                    user.pw_name, user.pw_gid), stdout=subprocess.DEVNULL, stderr=err)
        try:
            while True:
                if proc.poll() is not None:
                    err.seek(0)
                    raise SystemExit(f"the server exited ({proc.returncode}):\n{err.read()[-3000:]}")
                if time.monotonic() - begin > timeout:
                    raise SystemExit(f"the server did not answer within {timeout} s")
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    break
                except urllib.error.HTTPError:
                    break  # any HTTP answer: the server listens and serves
                except OSError:
                    time.sleep(0.05)
            wall = time.monotonic() - begin
            cpu = cpu_seconds(proc.pid)
            time.sleep(settle)  # work a server defers until after it listens
            settled = cpu_seconds(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        err.seek(0)
        return cpu, settled, wall, err.read()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--user", required=True)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--profile", default="student", choices=("student", "teacher"))
    p.add_argument("--pythonpath", default=EXPORTERS if os.path.isdir(EXPORTERS) else "",
                   help=f"the servers' PYTHONPATH (default {EXPORTERS} when it exists; '' for none)")
    p.add_argument("--importtime", action="store_true", help="print the slowest imports of one start")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds after ready at which the CPU is read again (default 3)")
    p.add_argument("--path", help="the servers' PATH (default: this one's)")
    args = p.parse_args()
    user = pwd.getpwnam(args.user)
    if args.path is not None:
        global PATH
        PATH = args.path

    if args.importtime:
        _cpu, _settled, _wall, err = start(user, args.pythonpath, args.profile, importtime=True, settle=0)
        rows = []
        for line in err.splitlines():
            if line.startswith("import time:") and "|" in line and "cumulative" not in line:
                _self, cumulative, name = line[len("import time:"):].split("|", 2)
                rows.append((int(cumulative), name.rstrip()))
        top_level = sum(c for c, name in rows if not name.startswith(" " * 2))
        print(f"imports of one start: {top_level / 1e3:.0f} ms (top-level modules, cumulative)")
        for cumulative, name in sorted(rows, reverse=True)[:args.top]:
            print(f"{cumulative / 1e3:8.1f} ms {name}")
        return

    cpus, settled, walls = [], [], []
    for i in range(args.repeats):
        cpu, after, wall, _err = start(user, args.pythonpath, args.profile, settle=args.settle)
        cpus.append(cpu)
        settled.append(after)
        walls.append(wall)
        print(f"start {i + 1}: {cpu:.2f} s CPU to ready ({after:.2f} s {args.settle:g} s later), "
              f"ready in {wall:.2f} s", flush=True)
    print(f"median of {args.repeats}: {statistics.median(cpus):.2f} s CPU to ready "
          f"({statistics.median(settled):.2f} s {args.settle:g} s later), ready in {statistics.median(walls):.2f} s"
          f" (profile {args.profile}, PYTHONPATH={args.pythonpath or '-'}; load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + ")")


if __name__ == "__main__":
    main()
