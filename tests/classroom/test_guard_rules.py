"""The guard's and the limits' rules, on plain records (the real processes: tests/e2e/test_e2e_resource_guard.py)."""
import os
import time
from collections import deque

import pytest

from jhub_admin_service.classroom import guard, limits, usage

MB = 2 ** 20


def process(pid, uid=10001, session=None, memory=0, cpu=0.0, demand=0.0, nice=5, command="python", server=False):
    return usage.Process(pid=pid, uid=uid, session=session or pid, memory=memory * MB, cpu_seconds=cpu, nice=nice,
                         threads=1, command=command, demand_seconds=demand, server=server)


KERNEL = "/opt/kernel/bin/python -m ipykernel_launcher -f kernel-1.json"
SERVER = "/opt/venv/bin/python3 /opt/venv/bin/jupyterhub-singleuser"


def test_parse_stat_reads_a_command_with_spaces_and_parentheses():
    text = "4242 (py (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 25 5 3 0 100 1000 2560 184467"
    stat = usage.parse_stat(text)
    assert stat["session"] == 4242 and stat["nice"] == 5 and stat["threads"] == 3
    assert stat["cpu_seconds"] == pytest.approx(300 / usage.TICKS) and stat["memory"] == 2560 * usage.PAGE


def test_a_user_over_the_limit_loses_the_kernel_session_holding_the_most():
    procs = [process(1, memory=150, command=SERVER, server=True), process(2, session=2, memory=60, command=KERNEL),
             process(3, session=3, memory=50, command=KERNEL), process(4, session=3, memory=300)]
    users = usage.by_user(procs, {}, 1.0)
    (user, kernel, reason), = guard.memory_victims(users, lambda login: limits.Limits(400, 256))
    assert kernel["pid"] == 3 and kernel["kernel"] and kernel["memory"] == 350 * MB and kernel["pids"] == [3, 4]
    # The Jupyter server itself does not count: 60 + 50 + 300 MB of programs.
    assert reason == {"kind": "memory", "used_mb": 410, "limit_mb": 400, "kernel_mb": 350}
    # Under the limit, or only kernels that just started: nothing is stopped.
    assert not guard.memory_victims(users, lambda login: limits.Limits(420, 256))
    assert not guard.memory_victims(users, lambda login: limits.Limits(400, 256), settled=lambda pid: False)
    # Over by the sum of resident sets, under by what the programs really hold (shared pages).
    assert not guard.memory_victims(users, lambda login: limits.Limits(400, 256), measure=lambda user: {0: 300 * MB})


def test_holders_are_weighed_by_what_they_hold_not_by_pages_shared_with_the_kernel_template():
    """A forked kernel's resident set counts the libraries it shares with the template (100 MB,
    10 of its own); a detached program holds 90 MB of its own: the program goes."""
    procs = [process(1, memory=150, command=SERVER, server=True), process(2, session=2, memory=100, command=KERNEL),
             process(10, session=10, memory=90, command="python3 -c hog")]
    users = usage.by_user(procs, {}, 1.0)
    pss = {2: 10 * MB, 10: 90 * MB}
    (_, holder, reason), = guard.memory_victims(users, lambda login: limits.Limits(95, 256), measure=lambda u: pss)
    assert holder["pids"] == [10] and reason["kind"] == "memory-program"
    assert reason["used_mb"] == 100 and reason["kernel_mb"] == 90
    # Weighed by resident sets, the innocent kernel would have gone.
    (_, holder, _), = guard.memory_victims(users, lambda login: limits.Limits(95, 256))
    assert holder["pids"] == [2]


def test_a_terminal_holding_the_memory_is_stopped_not_an_innocent_kernel():
    """Issue 20, point 5: 500 MB held by a terminal's program, kernels of 60 and 20 MB: the
    program goes, the kernels stay; a process named like a server is no server (its parent is)."""
    procs = [process(1, memory=150, command=SERVER, server=True),
             process(2, session=2, memory=60, command=KERNEL), process(3, session=3, memory=20, command=KERNEL),
             process(10, session=10, memory=5, command="/bin/bash -l"),  # the terminal's shell
             process(11, session=10, memory=500, command="python3 -c " + "x = bytes(500 * 2**20)"),
             process(20, session=20, memory=30, command="python3 fake/jupyterhub-singleuser")]
    users = usage.by_user(procs, {}, 1.0)
    (user, holder, reason), = guard.memory_victims(users, lambda login: limits.Limits(400, 256))
    assert holder["pid"] == 10 and not holder["kernel"] and holder["pids"] == [10, 11]
    assert reason["kind"] == "memory-program" and reason["used_mb"] == 615 and reason["command"] == "/bin/bash -l"
    assert user.programs_memory == 615 * MB  # the fake server's 30 MB count
    # A program in the server's own session goes alone, never with the server.
    procs = [process(1, memory=150, command=SERVER, server=True), process(5, session=1, memory=500),
             process(2, session=2, memory=60, command=KERNEL)]
    (_, holder, _), = guard.memory_victims(usage.by_user(procs, {}, 1.0), lambda login: limits.Limits(400, 256))
    assert holder["pids"] == [5]


def test_the_server_is_known_by_its_parent_the_hub_or_the_preloading_process():
    assert usage.starts_servers([b"/opt/venv/bin/python3", b"/opt/venv/bin/jupyterhub", b"-f", b"x.py"])
    assert usage.starts_servers([b"/usr/bin/python3 -m jhub_admin_service.classroom.preload /run/p.sock"])
    assert usage.starts_servers([b"/usr/bin/python3", b"-m", b"jhub_admin_service.classroom.preload", b"/run/p"])
    assert not usage.starts_servers([b"/opt/venv/bin/python3", b"/opt/venv/bin/jupyterhub-singleuser"])


def test_a_process_that_always_wants_a_core_is_busy_however_many_share_them():
    history = {}
    start = time.monotonic()
    samples = [(start - 12, 0.0), (start - 6, 5.9)]
    history[7] = deque(samples)
    history[8] = deque([(start - 12, 0.0), (start - 6, 1.0)])
    # pid 7 wanted a core 11.9 s of 12 (it ran half of that: 4 loops on 2 cores); pid 8 slept.
    busy = guard.busy_processes(history, [process(7, demand=11.9, cpu=6.0), process(8, demand=1.2)],
                                busy_seconds=10, busy_share=0.9, lowered=19)
    assert [p.pid for p in busy] == [7]
    # Already at the lowest priority: not again; a process that ended leaves the history.
    assert not guard.busy_processes(history, [process(7, demand=30.0, nice=19)], 10, 0.9, 19)
    assert 8 not in history


def test_default_limits_fit_the_server_s_memory():
    small, large = limits.default_limits(4 * 1024 * MB), limits.default_limits(64 * 1024 * MB)
    assert small["student"] == limits.Limits(512, 256) and small["teacher"].memory_mb == 1024
    assert large["student"].memory_mb == 2048 and large["teacher"].memory_mb == 4096


def test_the_admin_s_limits_win_and_a_damaged_entry_falls_back():
    chosen = limits.limits_from({"limits": {"student": {"memory_mb": 700, "processes": 99},
                                            "teacher": {"memory_mb": "lots"}}}, 16 * 1024 * MB)
    assert chosen["student"] == limits.Limits(700, 99) and chosen["teacher"] == limits.Limits(2048, 512)
    with pytest.raises(limits.LimitRefused):
        limits.checked("student", "64", "100")
    assert limits.role_of(False, {"teachers", "class-2a"}) == "teacher"
    assert limits.role_of(True, set()) == "teacher" and limits.role_of(False, {"students"}) == "student"


def test_one_process_may_reserve_a_little_less_than_the_user_s_limit():
    from jhub_admin_service.classroom.spawner import process_data_limit
    assert process_data_limit(400 * MB) == 240 * MB and process_data_limit(1536 * MB) == 1376 * MB
    assert process_data_limit(256 * MB) == 128 * MB  # at least half


def test_a_kernel_is_named_by_its_notebook(tmp_path):
    """The Servers page names a kernel by the notebook that the Jupyter server gave it
    (JPY_SESSION_NAME in its environment), and says nothing for one without (issue 21, point 15)."""
    from jhub_admin_service.classroom.usage import notebook_of

    (tmp_path / "41").mkdir()
    (tmp_path / "41" / "environ").write_bytes(b"LANG=fr_FR.UTF-8\0JPY_SESSION_NAME=TP/r\xc3\xa9sum\xc3\xa9.ipynb\0HOME=/x\0")
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "environ").write_bytes(b"LANG=fr_FR.UTF-8\0JPY_SESSION_NAME=/home/eleve/\0")  # no notebook
    assert notebook_of(41, str(tmp_path)) == "TP/résumé.ipynb"
    # As the server writes it, the full path: shown from the user's home (here root's own).
    import pwd

    (tmp_path / "44").mkdir()
    (tmp_path / "44" / "status").write_text(f"Uid:\t{os.getuid()}\t0\t0\t0\nGid:\t{os.getgid()}\t0\t0\t0\n")
    home = pwd.getpwuid(os.getuid()).pw_dir.rstrip("/")
    (tmp_path / "44" / "environ").write_bytes(f"JPY_SESSION_NAME={home}/TP/a.ipynb\0".encode())
    assert notebook_of(44, str(tmp_path), uid=os.getuid()) == "TP/a.ipynb"
    assert notebook_of(42, str(tmp_path)) == "" and notebook_of(43, str(tmp_path)) == ""
