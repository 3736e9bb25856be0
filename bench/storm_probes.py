"""What the login storm bench reads of the processes behind the hub: the CPU seconds of the
students' single-user servers and kernels and of the hub (from /proc in the hub container), and
the memory (PSS, RSS) of the students' kernels (from the host's /proc).

Kept apart from login_storm.py, which runs the storm: these are the probes, with the scripts they
run in the hub container; the bench calls them between and during its phases.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from e2e_stack import DOCKER  # noqa: E402
from storm_report import log  # noqa: E402


class ProcReader:
    """CPU seconds of one student's server and kernel, read from /proc in the hub container by
    one `docker exec` kept open (one request, one answer, a JSON line each): a `docker exec` per
    reading, twice per student, would cost more CPU than the cells it measures, in the storm it
    measures."""

    SCRIPT = r"""
import json, os, pwd, sys
hz = os.sysconf('SC_CLK_TCK')
me = str(os.getpid())

def cpu_of(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / hz  # with its waited-for children

for line in sys.stdin:
    try:
        req = json.loads(line)
        uid = pwd.getpwnam(req['user']).pw_uid
        tag = 'kernel-%s.json' % req['kernel'] if req.get('kernel') else None
        server = by_id = by_owner = None
        for pid in filter(str.isdigit, os.listdir('/proc')):
            if pid == me:
                continue  # this script's own command line names what it looks for
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
                owner = os.stat(f'/proc/{pid}').st_uid
                if owner == uid and 'jupyterhub-singleuser' in cmd:
                    server = (server or 0.0) + cpu_of(pid)
                elif 'ipykernel_launcher' in cmd and tag and tag in cmd:
                    by_id = (by_id or 0.0) + cpu_of(pid)
                elif 'ipykernel_launcher' in cmd and owner == uid:
                    by_owner = (by_owner or 0.0) + cpu_of(pid)
            except OSError:
                continue  # gone meanwhile
        answer = {"server": server, "kernel": by_id if by_id is not None else by_owner, "uid": uid}
    except Exception as e:
        answer = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(answer), flush=True)
"""

    def __init__(self, stack):
        self.stack = stack
        self.proc = None
        self.pending = b""
        self.lock = threading.Lock()

    def read(self, user, kernel_id, timeout=15.0):
        """{"server": s, "kernel": s, "uid": n} (a part None when its process was not found), or
        None when the reading failed."""
        with self.lock:
            try:
                if self.proc is None or self.proc.poll() is not None:
                    self.proc = subprocess.Popen(
                        [DOCKER, "exec", "-i", self.stack.container("hub"), "python3", "-u", "-c", self.SCRIPT],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                    self.pending = b""
                self.proc.stdin.write(json.dumps({"user": user, "kernel": kernel_id}).encode() + b"\n")
                self.proc.stdin.flush()
                deadline = time.monotonic() + timeout
                while b"\n" not in self.pending:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                        raise TimeoutError(f"no answer within {timeout:.0f} s")
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    if not chunk:
                        raise EOFError("the reader in the hub container ended")
                    self.pending += chunk
                line, self.pending = self.pending.split(b"\n", 1)
                answer = json.loads(line)
            except (OSError, EOFError, ValueError, RuntimeError, subprocess.SubprocessError) as e:
                log(f"CPU reading for {user}: {type(e).__name__}: {e}")
                self.close()  # started again at the next reading
                return None
        if "error" in answer:
            log(f"CPU reading for {user}: {answer['error']}")
            return None
        return answer

    def close(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # the script's end of input: it ends, in the container too
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


# CPU read from /proc in the hub container
CPU_SCRIPT = r"""
import json, os, pwd, sys
hz = os.sysconf('SC_CLK_TCK')
names = set(sys.argv[1:])
out = {"servers": {}, "kernels": {}, "hub": 0.0}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
        uid = os.stat(f'/proc/{pid}').st_uid
    except OSError:
        continue
    cpu = sum(int(x) for x in fields[11:15]) / hz  # with its waited-for children
    user = pwd.getpwuid(uid).pw_name if uid else 'root'
    if user in names and 'jupyterhub-singleuser' in cmd:
        out["servers"][user] = out["servers"].get(user, 0.0) + cpu
    elif user in names and 'ipykernel' in cmd:
        out["kernels"][user] = out["kernels"].get(user, 0.0) + cpu
    elif uid == 0 and ('bin/jupyterhub ' in cmd or 'configurable-http-proxy' in cmd):
        out["hub"] += cpu
print(json.dumps(out))
"""


def cpu_totals(stack, names):
    """The CPU seconds of the named students' servers and kernels and of the hub (CPU_SCRIPT), or
    None when the reading failed."""
    res = stack.exec("hub", "python3", "-c", CPU_SCRIPT, *names, check=False)
    try:
        return json.loads(res.stdout)
    except ValueError:
        return None


def kernels_memory(stack, students):
    """PSS and RSS summed over the students' kernel processes, from the host's /proc: the
    hub container's processes (`docker top`), those of ipykernel_launcher whose connection
    file is a student's kernel's (kernel-<id>.json) or whose owner is a student. Kernels
    forked from the kernel template (classroom/kernel_template.py) share pages with it, so
    that a part of their memory is in the template's PSS: the template's PSS is given apart.
    A dict of bytes and the number of kernels, or None when no kernel could be read."""
    ids = {s.kernel_id for s in students if s.kernel_id}
    uids = {s.uid for s in students if s.uid is not None}
    if not ids or stack is None:
        return None
    try:
        top = subprocess.run([DOCKER, "top", stack.container("hub"), "-eo", "pid"],
                             capture_output=True, text=True, timeout=60)
        pids = [p for p in top.stdout.split()[1:] if p.isdigit()]  # under the header "PID"
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        log(f"docker top: {type(e).__name__}: {e}")
        pids = []
    if not pids:
        # the kernel ids are UUIDs: the host's every process will do
        log("docker top listed no process: the kernels looked for among the host's processes")
        pids = [p for p in os.listdir("/proc") if p.isdigit()]

    def smaps(pid):
        seen = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Pss", "Rss"):
                seen[key] = int(value.split()[0]) * 1024  # kB
        if len(seen) != 2:
            raise ValueError(f"no Pss or Rss in /proc/{pid}/smaps_rollup")
        return seen

    pss = rss = kernels = unreadable = 0
    template_pss = None
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "ipykernel_launcher" not in cmd:
                continue
            owner = os.stat(f"/proc/{pid}").st_uid
            if owner == 0 and "kernel_template" in cmd:
                template_pss = (template_pss or 0) + smaps(pid)["Pss"]
                continue
            if not (any(f"kernel-{k}.json" in cmd for k in ids) or owner in uids):
                continue
            seen = smaps(pid)
        except (OSError, ValueError):
            unreadable += 1  # gone meanwhile, or not ours to read (not root)
            continue
        pss, rss, kernels = pss + seen["Pss"], rss + seen["Rss"], kernels + 1
    if unreadable:
        log(f"kernels' memory: {unreadable} process(es) not read")
    if not kernels:
        return None
    return {"kernels": kernels, "students_with_kernel": len(ids), "pss": pss, "rss": rss,
            "template_pss": template_pss}
