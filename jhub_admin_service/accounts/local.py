"""Local accounts through the shadow tools, in batches.

One ``newusers`` call creates every missing account, one ``chpasswd -e`` sets every hash,
one ``gpasswd -M`` per group sets its members. Only accounts the registry names are ever
passed to these tools; the caller (accounts.py) guarantees it.

``newusers`` on Debian is built with PAM and asks PAM to set each password. The image ships
``/etc/pam.d/newusers`` with ``pam_permit`` for passwords (see docker/pam.d/newusers), because the
hashes come afterwards from ``chpasswd -e``: no password is hashed twice. Without that file,
newusers complains per account and still creates it locked; we check the result, not its noise.
"""
import grp
import logging
import os
import pwd
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

log = logging.getLogger(__name__)

SHELL = "/bin/bash"


class ShadowToolError(RuntimeError):
    """A shadow tool failed."""


@dataclass
class LocalState:
    users: dict = field(default_factory=dict)  # login -> pwd.struct_passwd
    shadow: dict = field(default_factory=dict)  # login -> hash
    groups: dict = field(default_factory=dict)  # name -> (gid, set of members)

    @property
    def used_ids(self) -> set:
        return {u.pw_uid for u in self.users.values()} | {g for g, _ in self.groups.values()}


def processes_of(uid: int) -> list:
    """The pids of every live process whose real uid is uid (read from /proc: no procps needed).
    A zombie (killed, not yet reaped by its parent) is gone already: it is not counted."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] not in ("Z", "X"):
                pids.append(int(entry))
        except (OSError, ValueError, KeyError, IndexError):
            continue
    return pids


def conflicts(accounts: list, users: dict, groups: dict) -> dict:
    """{login: reason} for the new accounts whose name or ids the machine gives to someone else.
    users: {name: uid}; groups: {name: gid}."""
    uid_owner = {uid: name for name, uid in users.items()}
    gid_owner = {gid: name for name, gid in groups.items()}
    out = {}
    for a in accounts:
        if a.login in users:
            out[a.login] = f"a local account {a.login} exists already"
        elif a.login in groups and groups[a.login] != a.gid:
            out[a.login] = f"a group named {a.login} exists on this machine"
        elif uid_owner.get(a.uid, a.login) != a.login:
            out[a.login] = f"its uid {a.uid} belongs to {uid_owner[a.uid]} on this machine"
        elif gid_owner.get(a.gid, a.login) != a.login:
            out[a.login] = f"its group id {a.gid} belongs to the group {gid_owner[a.gid]} on this machine"
    return out


def run(argv: list, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run a shadow tool; stdin may carry hashes, never clear passwords."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ShadowToolError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
    return proc


def stop_processes(uid: int, rounds: int = 20) -> int:
    """SIGKILL every process of uid, those it detached too (nohup, setsid), until none is left
    (a fork loop spawns while it is being killed). Returns how many were killed."""
    killed = 0
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    raise ShadowToolError(f"processes of uid {uid} keep appearing; the account is left as it is")


class LocalAccounts:
    def __init__(self, home_root: str = "/home", etc_dir: str = "/etc"):
        self.home_root = home_root
        self.etc_dir = etc_dir  # read only: the tools always write the real /etc

    def home_of(self, login: str) -> str:
        return os.path.join(self.home_root, login)

    def _homes(self):
        """(folder name, stat) of each entry of the homes' root, links not followed."""
        try:
            entries = os.scandir(self.home_root)
        except OSError:
            return
        with entries:
            for entry in entries:
                try:
                    yield entry.name, entry.stat(follow_symlinks=False)
                except OSError:
                    continue

    def ids_in_use(self, state: LocalState, but_home: str = "") -> set:
        """Ids a new account never gets: the machine's users and groups, and the owners of the
        folders in the homes' root (a home whose account is gone is never given to a stranger),
        but_home's aside (the home of the account being restored). One stat per home: asked only
        when ids are handed out, not by every snapshot."""
        return state.used_ids | {i for name, info in self._homes() if name != but_home
                                 for i in (info.st_uid, info.st_gid)}

    def homes_without_account(self, uids: dict, id_range: range) -> list:
        """[(folder, owner uid)] of the homes' root whose owner is in the product's id range but
        is not the account of that name ({login: uid} of the registry): homes whose account is
        gone. They are kept, and their ids are never given again (ids_in_use)."""
        return sorted((name, info.st_uid) for name, info in self._homes()
                      if info.st_uid in id_range and uids.get(name) != info.st_uid)

    def snapshot(self) -> LocalState:
        state = LocalState()
        state.users = {u.pw_name: u for u in pwd.getpwall()}
        with open(os.path.join(self.etc_dir, "shadow"), encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) > 1:
                    state.shadow[parts[0]] = parts[1]
        with open(os.path.join(self.etc_dir, "group"), encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 4:
                    members = {m for m in parts[3].split(",") if m}
                    state.groups[parts[0]] = (int(parts[2]), members)
        return state

    def shadow_logins(self) -> list:
        """The accounts that have a line in /etc/shadow."""
        with open(os.path.join(self.etc_dir, "shadow"), encoding="utf-8", errors="replace") as f:
            return [line.split(":", 1)[0] for line in f if ":" in line]

    def create(self, accounts: list) -> dict:
        """Create missing accounts in one newusers batch; homes are 0700 and owned by the user.

        An account whose name or ids someone else holds on this machine (a group named like it
        since the preview, its uid or its private group's gid taken) is not given to newusers:
        newusers would refuse the whole batch, or make the user with a primary gid that no group
        has yet, which the next group made would then get. If newusers still refuses the batch,
        the accounts it did not make are tried one by one, so that one bad account never fails
        the others. Returns {login: reason} for the accounts that could not be made."""
        if not accounts:
            return {}
        failed = conflicts(accounts, {u.pw_name: u.pw_uid for u in pwd.getpwall()},
                           {g.gr_name: g.gr_gid for g in grp.getgrall()})
        clean = [a for a in accounts if a.login not in failed]
        if clean:
            self._newusers(clean)
            errors = {a.login: self._newusers([a]) for a in self._not_made(clean)}
            failed.update({a.login: errors.get(a.login) or "newusers did not make it as the registry says"
                           for a in self._not_made(clean)})
        for a in accounts:
            if a.login in failed:
                continue
            home = self.home_of(a.login)
            os.makedirs(home, exist_ok=True)
            st = os.stat(home)
            if (st.st_uid, st.st_gid) != (a.uid, a.gid):
                os.chown(home, a.uid, a.gid)
            os.chmod(home, 0o700)
        return failed

    def _newusers(self, accounts: list) -> str:
        """One newusers batch; returns its error output ("" when it succeeded)."""
        lines = "".join(f"{a.login}::{a.uid}:{a.gid}::{self.home_of(a.login)}:{SHELL}\n" for a in accounts)
        proc = subprocess.run(["newusers"], input=lines, capture_output=True, text=True)
        return proc.stderr.strip()[:500] if proc.returncode else ""

    @staticmethod
    def _not_made(accounts: list) -> list:
        """Accounts that are not there as the registry says: the user with its uid and gid, and its
        private group (named like it) with that gid."""
        users = {u.pw_name: (u.pw_uid, u.pw_gid) for u in pwd.getpwall()}
        groups = {g.gr_name: g.gr_gid for g in grp.getgrall()}
        return [a for a in accounts if users.get(a.login) != (a.uid, a.gid) or groups.get(a.login) != a.gid]

    def set_hashes(self, hashes: dict) -> None:
        """{login: crypt hash} in one chpasswd -e batch. An account without a line in /etc/shadow
        (newusers killed between its writes of /etc/passwd and /etc/shadow) is given one first
        (pwconv): chpasswd would write its hash into /etc/passwd, which everyone reads."""
        if not hashes:
            return
        if not set(hashes) <= set(self.shadow_logins()):
            run(["pwconv"])
        run(["chpasswd", "-e"], stdin="".join(f"{login}:{h}\n" for login, h in hashes.items()))

    def set_group_members(self, wanted: dict, state: LocalState) -> None:
        """{group: set(logins)}: a missing group is created with its members (one groupadd),
        an existing one gets its changed member list (one gpasswd)."""
        for name, members in sorted(wanted.items()):
            listed = ",".join(sorted(members))
            if name not in state.groups:
                run(["groupadd", *(["--users", listed] if listed else []), name])
            elif set(members) != state.groups[name][1]:
                run(["gpasswd", "-M", listed, name])

    def make_private_groups(self, accounts: list) -> None:
        """The private group (named like the account, its gid) of accounts whose group is missing."""
        for a in accounts:
            run(["groupadd", "--gid", str(a.gid), a.login])

    def delete_groups(self, names: list) -> None:
        for name in names:
            run(["groupdel", name])

    def delete(self, login: str) -> None:
        """Remove the account entry; the caller archived the home first."""
        run(["userdel", login])

    def archive_home(self, login: str, archive_dir: str) -> str:
        """tar.gz the home (owners and modes kept) into archive_dir; returns the archive path.

        GNU tar, not Python's tarfile: it stores sparse files as their holes (a 15 TB
        `truncate` costs nothing) and walks a tree of any depth (tarfile recurses)."""
        home = self.home_of(login)
        os.makedirs(archive_dir, mode=0o700, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        final = os.path.join(archive_dir, f"{login}-{stamp}.tar.gz")
        partial = final + ".partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        try:
            if not os.path.isdir(home):
                with tarfile.open(partial, "w:gz"):
                    pass
            else:
                # gzip -1: several times faster than its default, for archives a few % larger
                # (a year's close archives hundreds of homes in a row).
                run(["tar", "--create", "--use-compress-program=gzip -1", "--sparse", "--numeric-owner",
                     f"--file={partial}",
                     f"--directory={self.home_root}", "--", login])
            os.rename(partial, final)
        except BaseException:
            os.unlink(partial)  # a failed archive leaves nothing behind (it may be gigabytes)
            raise
        return final

    def extract_home(self, login: str, archive: str) -> None:
        """The home of an archive_home() archive back in place, owners and modes kept: extracted
        into a new hidden folder of the homes' root, then moved in by one rename (a kill leaves
        either nothing or the whole home)."""
        work = tempfile.mkdtemp(prefix=".restore-", dir=self.home_root)
        try:
            run(["tar", "--extract", "--gzip", "--numeric-owner", "--same-permissions", "--same-owner",
                 f"--file={archive}", f"--directory={work}", "--", login])
            os.rename(os.path.join(work, login), self.home_of(login))
        finally:
            run(["rm", "-rf", "--one-file-system", "--", work])

    @staticmethod
    def change_owner(home: str, old: tuple, new: tuple) -> None:
        """What old (uid, gid) owns in home, given to new: the user and the group apart (a file
        may be the user's with another group); no link followed."""
        run(["chown", "-R", "-h", f"--from={old[0]}", str(new[0]), "--", home])
        run(["chown", "-R", "-h", f"--from=:{old[1]}", f":{new[1]}", "--", home])

    def stop_processes(self, uid: int, rounds: int = 20) -> int:
        return stop_processes(uid, rounds)

    def remove_home(self, login: str) -> None:
        # rm, not shutil.rmtree: Python's recursion stops at a student's 1,100 nested folders.
        run(["rm", "-rf", "--one-file-system", "--", self.home_of(login)])

