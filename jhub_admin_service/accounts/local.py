"""Local accounts through the shadow tools, in batches.

One ``newusers`` call creates every missing account, one ``chpasswd -e`` sets every hash,
one ``gpasswd -M`` per group sets its members. Only accounts the registry names are ever
passed to these tools; the caller (accounts.py) guarantees it.

``newusers`` on Debian is built with PAM and asks PAM to set each password. The image ships
``/etc/pam.d/newusers`` with ``pam_permit`` for passwords (see docker/pam.d/newusers), because the
hashes come afterwards from ``chpasswd -e``: no password is hashed twice. Without that file,
newusers complains per account and still creates it locked; we check the result, not its noise.
"""
import logging
import os
import pwd
import shutil
import subprocess
import tarfile
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


def run(argv: list, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run a shadow tool; stdin may carry hashes, never clear passwords."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ShadowToolError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
    return proc


class LocalAccounts:
    def __init__(self, home_root: str = "/home", etc_dir: str = "/etc"):
        self.home_root = home_root
        self.etc_dir = etc_dir  # read only: the tools always write the real /etc

    def home_of(self, login: str) -> str:
        return os.path.join(self.home_root, login)

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

    def create(self, accounts: list) -> None:
        """Create missing accounts in one newusers batch; homes are 0700 and owned by the user."""
        if not accounts:
            return
        lines = "".join(f"{a.login}::{a.uid}:{a.gid}::{self.home_of(a.login)}:{SHELL}\n" for a in accounts)
        proc = subprocess.run(["newusers"], input=lines, capture_output=True, text=True)
        present = {u.pw_name: u for u in pwd.getpwall()}
        missing = [a.login for a in accounts if a.login not in present or present[a.login].pw_uid != a.uid]
        if missing:
            raise ShadowToolError(f"newusers did not create {', '.join(missing[:10])}: {proc.stderr.strip()[:2000]}")
        for a in accounts:
            home = self.home_of(a.login)
            os.makedirs(home, exist_ok=True)
            st = os.stat(home)
            if (st.st_uid, st.st_gid) != (a.uid, a.gid):
                os.chown(home, a.uid, a.gid)
            os.chmod(home, 0o700)

    def set_hashes(self, hashes: dict) -> None:
        """{login: crypt hash} in one chpasswd -e batch."""
        if hashes:
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

    def delete(self, login: str) -> None:
        """Remove the account entry; the caller archived the home first."""
        run(["userdel", login])

    def archive_home(self, login: str, archive_dir: str) -> str:
        """tar.gz the home (owners and modes kept) into archive_dir; returns the archive path."""
        home = self.home_of(login)
        os.makedirs(archive_dir, mode=0o700, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        final = os.path.join(archive_dir, f"{login}-{stamp}.tar.gz")
        partial = final + ".partial"
        if os.path.isdir(home):
            with tarfile.open(partial, "w:gz") as tar:
                tar.add(home, arcname=login)
        else:
            tarfile.open(partial, "w:gz").close()
        os.chmod(partial, 0o600)
        os.rename(partial, final)
        return final

    def remove_home(self, login: str) -> None:
        shutil.rmtree(self.home_of(login), ignore_errors=True)

