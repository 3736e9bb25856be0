"""What a user's server process is given, as root, before it becomes the user.

Its cgroups, its limits (RLIMIT_DATA, RLIMIT_NPROC), its priority (nice, oom_score_adj), then the
switch to the user. One plain description, decided in the hub and applied in the new process,
whether that process was forked by Popen (as its preexec_fn) or by the preloaded servers'
process (classroom/preload.py, which receives it as JSON).
"""
import dataclasses
import os
import resource
from typing import Callable, Tuple

from . import cgroups


@dataclasses.dataclass(frozen=True)
class ProcessSetup:
    login: str
    cgroup_procs: Tuple[str, ...]  # the user's cgroup.procs files ((): no cgroups lent)
    oom_score_adj: int
    nice: int
    data_limit: int
    process_limit: int

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ProcessSetup":
        return cls(**{**data, "cgroup_procs": tuple(data["cgroup_procs"])})

    def apply(self, switch_user: Callable[[], None], cgroups_required: bool = False) -> None:
        """In the new process, as root: everything above, then switch_user() (JupyterHub's
        set_user_setuid: groups, uid, home folder). A server that cannot join its cgroups still
        starts (the rlimits and the guard apply); a kernel forked by the kernel template must
        (cgroups_required: else its server execs it, in the server's own cgroups)."""
        try:
            cgroups.join(list(self.cgroup_procs))
        except OSError:
            if cgroups_required:
                raise
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(self.oom_score_adj))
        os.nice(self.nice)
        resource.setrlimit(resource.RLIMIT_DATA, (self.data_limit, self.data_limit))
        resource.setrlimit(resource.RLIMIT_NPROC, (self.process_limit, self.process_limit))
        switch_user()
