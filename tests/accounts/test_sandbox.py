"""The test sandbox itself: its private mounts never show on the host.

A bind mount of the Python installation visible from the host once let an rmtree of a sandbox
folder walk into /root/.pyenv and delete it; these checks keep that from coming back.
"""
import sys
from pathlib import Path


def host_mount_points():
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def test_sandbox_mounts_stay_inside_its_namespace(sandbox):
    inside = sandbox.run(["cat", "/proc/self/mountinfo"]).stdout
    mounts = {fields[4]: fields[3] for fields in (line.split() for line in inside.splitlines())}
    assert mounts["/etc"] == str(sandbox.etc)  # inside, /etc is the sandbox's copy
    assert not [p for p in host_mount_points() if p.startswith(str(sandbox.root))]


def test_python_runs_in_the_sandbox_and_the_sandbox_folder_holds_no_link_to_it(sandbox):
    out = sandbox.run([sys.executable, "-c", "import jhub_admin_service, sys; print(sys.prefix)"]).stdout
    assert out.strip() == sys.prefix
    if sandbox.python_home:  # an empty mount point from the host's side
        assert list((sandbox.root / ".python-home").iterdir()) == []
