"""Per-user cgroups (classroom/cgroups.py) with the real kernel: a test subtree of the host's
cgroups, delegated as the compose override delegates one to the hub. Every misbehaving child
bounds itself (its address space, the processes it forks), so that a missing limit fails the
test without hurting the machine."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jhub_admin_service.classroom import cgroups, guard

MB = 2 ** 20
HOST = Path("/sys/fs/cgroup")


def delegated_subtree(tmp_path):
    """(root for UserCgroups, host folders to remove): a fresh subtree of this cgroup v1 host's cgroups."""
    name = "jhub-test-" + uuid.uuid4().hex[:8]
    root = tmp_path / "jhub-cgroups"
    root.mkdir()
    if (HOST / "cgroup.subtree_control").exists():
        pytest.skip("cgroup v2 host: the v2 layout lives in the container's own cgroup, so it is tested "
                    "in the hub's container (tests/e2e/test_e2e_user_cgroups.py)")
    folders = [HOST / c / name for c in cgroups.CONTROLLERS]
    links = dict(zip(cgroups.CONTROLLERS, folders))
    try:
        for folder in folders:
            folder.mkdir()
    except OSError as exc:
        for folder in folders:
            if folder.exists():
                folder.rmdir()
        pytest.skip(f"needs root and writable host cgroups to make a test subtree ({exc})")
    for link, folder in links.items():
        (root / link).symlink_to(folder)
    return root, folders


@pytest.fixture
def subtree(tmp_path):
    root, folders = delegated_subtree(tmp_path)
    tree = cgroups.UserCgroups.find(str(root))
    yield tree
    for folder in folders:
        for child in sorted(folder.glob("user-*")):
            for pid in (child / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 10
        for child in sorted(folder.glob("user-*")):
            while time.monotonic() < deadline:
                try:
                    child.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        folder.rmdir()


def run_in(procs, code, timeout=60):
    """A Python child in the cgroups, capped at 1 GB of address space whatever the cgroup does."""
    def preexec():
        cgroups.join(procs)
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1024 * MB, 1024 * MB))
    return subprocess.run([sys.executable, "-c", code], preexec_fn=preexec, capture_output=True, text=True,
                          timeout=timeout)


def test_a_delegated_subtree_is_found_and_a_missing_or_read_only_one_is_not(subtree, tmp_path):
    assert subtree is not None and subtree.mode == "cgroup v1"
    assert cgroups.UserCgroups.find(str(tmp_path / "nothing")) is None
    for layout in (cgroups.CONTROLLERS, ("unified",)):  # folders, but no cgroup in them
        plain = tmp_path / "-".join(layout)
        for c in layout:
            (plain / c).mkdir(parents=True)
        assert cgroups.UserCgroups.find(str(plain)) is None


def test_the_user_s_processes_together_stop_at_the_hard_limit_and_the_guard_says_why(subtree, tmp_path):
    uid = os.getuid()
    subtree.setup(4096 * MB)
    procs = subtree.prepare(uid, 128 * MB, 64)
    hard = cgroups.hard_limit(128 * MB)
    folder = subtree.folders(uid)[0]
    assert int(Path(folder, "memory.limit_in_bytes").read_text()) == hard == 384 * MB

    the_guard = guard.Guard(cgroup_root=subtree.root, reasons_dir=str(tmp_path / "reasons"),
                            preferences_path=str(tmp_path / "none.json"))
    the_guard.initialize(argv=[])
    # 50 MB at a time, up to 600 MB: above the hard limit (384 MB), below the child's own cap.
    bomb = run_in(procs, "chunks = []\nfor i in range(12):\n    chunks.append(b'x' * (50 * 2 ** 20))\nprint('alive')")
    assert bomb.returncode == -signal.SIGKILL and "alive" not in bomb.stdout, (bomb.returncode, bomb.stderr)
    assert subtree.oom_kills(uid) == 1

    the_guard.report_oom_kills(subtree)
    event = the_guard.events[0]
    assert event["kind"] == "memory" and event["user"] == "root" and "hard limit of 384 MB" in event["reason"]
    reason = (tmp_path / "reasons" / str(uid)).read_text()
    assert '"kind": "cgroup-memory"' in reason and '"limit_mb": 384' in reason
    the_guard.report_oom_kills(subtree)
    assert len(the_guard.events) == 1  # reported once

    # The server stops (its cgroup removed) and starts again: a kill in the new cgroup counts.
    subtree.remove(uid)
    assert subtree.identity(uid) is None
    procs = subtree.prepare(uid, 128 * MB, 64)
    again = run_in(procs, "chunks = []\nfor i in range(12):\n    chunks.append(b'x' * (50 * 2 ** 20))")
    assert again.returncode == -signal.SIGKILL and subtree.oom_kills(uid) == 1
    the_guard.report_oom_kills(subtree)
    assert len(the_guard.events) == 2


def test_a_fork_loop_stops_at_the_user_s_pids_limit(subtree):
    uid = os.getuid()
    procs = subtree.prepare(uid, 256 * MB, 20)
    # At most 60 attempts; each child sleeps (its output closed), so that they count together.
    loop = run_in(procs, "import os, time\nmade = 0\nfor i in range(60):\n    try:\n        pid = os.fork()\n"
                         "    except BlockingIOError:\n        break\n    if pid == 0:\n        os.closerange(0, 3)\n        time.sleep(30)\n"
                         "        os._exit(0)\n    made += 1\nprint(made)")
    assert loop.returncode == 0, loop.stderr
    assert int(loop.stdout) < 20  # the parent counts too


def test_an_empty_user_cgroup_is_removed_and_one_in_use_is_kept(subtree):
    subtree = cgroups.UserCgroups(1, subtree.root, cpu_per_user=True)
    uid = os.getuid()
    procs = subtree.prepare(uid, 256 * MB, 64)
    sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: cgroups.join(procs))
    cgroups.join(subtree.cpu_procs(uid), sleeper.pid)  # as the spawner does once the server answers
    try:
        cpu_members = Path(subtree.cpu_procs(uid)[0]).read_text().split()
        assert cpu_members == [str(sleeper.pid)]
        assert subtree.users() == [uid]
        subtree.remove(uid)
        assert all(os.path.isdir(f) for f in subtree.folders(uid))
        # What is left once the server stopped is killed (the spawner's stop), then removed.
        assert subtree.stop_all(uid) == 1
        assert sleeper.wait(10) == -signal.SIGKILL
    finally:
        sleeper.kill()
        sleeper.wait()
    deadline = time.monotonic() + 10
    while any(os.path.isdir(f) for f in subtree.folders(uid)) and time.monotonic() < deadline:
        subtree.remove(uid)
        time.sleep(0.1)
    assert subtree.users() == []
