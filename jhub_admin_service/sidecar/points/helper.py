"""What a restore-point helper container runs (the sidecar's own image):
``python3 -I -m jhub_admin_service.sidecar.points.helper``.

``JHUB_POINT_MODE=backup``: the SQLite databases of the data volume are copied with SQLite's
online backup into /snap (a tmpfs), consistent while the hub writes them; then restic backs up
the volumes (read-only under /src) and the copies, without the live database files. On stdout:
``JHUB-POINT {summary}``.

``JHUB_POINT_MODE=extract``: the extract step of a journalled restore of whole volumes (or one
home) from a point (see ``extract``).

``JHUB_POINT_MODE=restore-file``: one file or folder of a home (read-write under /dst/home) is
restored from a point into a staging folder at the volume's root, where no user can reach it,
given to the home's owner, then moved beside the current one under a new name
(``devoir (restauré 2026-12-05).ipynb``): never over an existing file, never through a link
that the user planted. On stdout: ``JHUB-PLACED relative/path``.

Parameters come from the environment, set by ``template`` after validation.
"""
import ctypes
import datetime as dt
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys

from .policy import escape_pattern, restored_name
from .restic import HOST, ResticError, backup_summary, classify, read_place, repository

SOURCE, SNAP, DEST = "/src", "/snap", "/dst"
SQLITE_MAGIC = b"SQLite format 3\x00"
DB_SIDE_FILES = ("-wal", "-shm", "-journal")
#: restic backup exits 3 when some files could not be read (one removed while it ran): the
#: snapshot is made all the same.
RESTIC_INCOMPLETE = 3
RENAME_NOREPLACE = 1


def sqlite_files(root: str, max_depth: int = 3) -> list:
    """Relative paths of the SQLite databases under ``root`` (by their header)."""
    found = []
    for folder, dirs, files in os.walk(root):
        depth = folder[len(root):].count("/")
        if depth >= max_depth:
            dirs[:] = []
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as f:
                    if f.read(16) == SQLITE_MAGIC:
                        found.append(os.path.relpath(path, root))
            except OSError:
                continue
    return sorted(found)


def copy_database(source: str, target: str) -> None:
    """SQLite's online backup: a consistent copy while the hub writes. A database in WAL mode
    that nobody has open has no -shm file and cannot be opened read-only: it is then closed and
    complete on disk, and read as immutable, as long as it stays unchanged during the copy."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    for attempt in range(5):
        before = os.stat(source)
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
            src.execute("select count(*) from sqlite_master").fetchone()
            immutable = False
        except sqlite3.OperationalError:
            src = sqlite3.connect(f"file:{source}?immutable=1", uri=True)
            immutable = True
        try:
            dst = sqlite3.connect(target)
            with dst:
                src.backup(dst)
            dst.close()
        finally:
            src.close()
        after = os.stat(source)
        if not immutable or (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
            return
        os.unlink(target)  # written meanwhile: copied again, now that someone has it open
    raise RuntimeError(f"the database {source} kept changing during its copy")


def backup(env: dict) -> int:
    targets = env["JHUB_TARGETS"].split()
    paths = [f"{SOURCE}/{t}" for t in targets]
    excludes = [f"{SOURCE}/{t}/.jhub-restore-*" for t in targets]
    databases = []
    if "data" in targets:
        databases = sqlite_files(f"{SOURCE}/data")
        for rel in databases:
            copy_database(f"{SOURCE}/data/{rel}", f"{SNAP}/data/{rel}")
            excludes += [escape_pattern(f"{SOURCE}/data/{rel}") + side for side in ("",) + DB_SIDE_FILES]
        if databases:
            paths.append(f"{SNAP}/data")
    repo = open_repository()
    argv = repo.argv("backup", "--json", "--host", HOST, "--tag", env["JHUB_TAG"])
    for pattern in excludes:
        argv += ["--exclude", pattern]
    done = subprocess.run(argv + paths, env=repo.env, capture_output=True, text=True)
    if done.returncode not in (0, RESTIC_INCOMPLETE):
        print(str(classify(done.stderr, done.returncode)), file=sys.stderr)
        return 1
    try:
        summary = backup_summary(done.stdout)
    except ResticError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    summary.update(databases=databases, incomplete=done.returncode == RESTIC_INCOMPLETE,
                   warnings=done.stderr.strip()[-2000:] if done.returncode else "")
    print("JHUB-POINT " + json.dumps(summary))
    return 0


def open_repository():
    """The repository where the keys' volume (read-only here) says it is: through the sidecar's
    tunnel when it is not on the archives volume (this container has no network)."""
    keys = "/run/jhub-keys"
    return repository("/backups", keys, read_place(keys) or {"kind": "archives"}, tunnel=True)


# restoring one file -------------------------------------------------------------------------
def open_dir(name: str, parent_fd: int) -> int:
    """A folder inside ``parent_fd``, never through a symbolic link."""
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)


def destination_folder(home_fd: int, parts: list, uid: int, gid: int) -> tuple:
    """(fd, relative path) of the folder that receives the file: its folder in the home, made
    again as the user's if it was deleted; the home itself if a part is no longer a folder."""
    fd = os.dup(home_fd)
    made = []
    for part in parts:
        try:
            try:
                child = open_dir(part, fd)
            except FileNotFoundError:
                os.mkdir(part, 0o755, dir_fd=fd)
                os.chown(part, uid, gid, dir_fd=fd, follow_symlinks=False)
                child = open_dir(part, fd)
        except OSError:  # a file or a link now stands there: the home's root instead
            os.close(fd)
            return os.dup(home_fd), ""
        os.close(fd)
        fd = child
        made.append(part)
    return fd, "/".join(made)


def rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(src_fd, src.encode(), dst_fd, dst.encode(), RENAME_NOREPLACE) == 0:
        return
    err = ctypes.get_errno()
    if err not in (errno.ENOSYS, errno.EINVAL):
        raise OSError(err, os.strerror(err), dst)
    if os.path.lexists(f"/proc/self/fd/{dst_fd}/{dst}"):  # a file system without the flag
        raise FileExistsError(errno.EEXIST, "exists", dst)
    os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)


def give_to(path: str, uid: int, gid: int) -> None:
    """The restored entry and, for a folder, everything in it, to the home's owner; never
    through a link (a restored link, even one that points from the staging folder at another
    user's home, is given away itself, its target untouched)."""
    os.chown(path, uid, gid, follow_symlinks=False)
    if os.path.islink(path) or not os.path.isdir(path):
        return
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def restore_file(env: dict) -> int:
    user, rel = env["JHUB_USER"], env["JHUB_PATH"]
    home_root = f"{DEST}/home"
    root_fd = os.open(home_root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        home_fd = open_dir(user, root_fd)
    except OSError:
        print(f"the home of {user} does not exist (or is not a folder)", file=sys.stderr)
        return 2
    st = os.fstat(home_fd)
    # Staging folders of killed restores: the sidecar runs one job at a time, so they are stale.
    for entry in os.listdir(home_root):
        if entry.startswith(".jhub-restore-"):
            shutil.rmtree(f"{home_root}/{entry}", ignore_errors=True)
    stage = f"{home_root}/{env['JHUB_STAGE']}"
    os.mkdir(stage, 0o700)
    try:
        source = f"{SOURCE}/home/{user}/{rel}"
        repo = open_repository()
        done = subprocess.run(
            repo.argv("restore", env["JHUB_SNAPSHOT"], "--target", stage, "--include", escape_pattern(source)),
            env=repo.env, capture_output=True, text=True)
        if done.returncode != 0:
            print(str(classify(done.stderr, done.returncode)), file=sys.stderr)
            return 1
        restored = stage + source
        if not os.path.lexists(restored):
            print(f"{rel} is not in this restore point", file=sys.stderr)
            return 3
        give_to(restored, st.st_uid, st.st_gid)
        parts = rel.split("/")
        folder_fd, folder = destination_folder(home_fd, parts[:-1], st.st_uid, st.st_gid)
        src_fd = os.open(os.path.dirname(restored), os.O_RDONLY | os.O_DIRECTORY)
        day = dt.date.fromisoformat(env["JHUB_POINT_DATE"])
        try:
            for attempt in range(1, 100):
                name = restored_name(parts[-1], day, env.get("JHUB_LANG", "fr"), attempt)
                try:
                    rename_noreplace(src_fd, parts[-1], folder_fd, name)
                    break
                except FileExistsError:
                    continue
            else:
                print("too many restored copies of this file today", file=sys.stderr)
                return 4
        finally:
            os.close(src_fd)
            os.close(folder_fd)
        print("JHUB-PLACED " + (f"{folder}/{name}" if folder else name))
        return 0
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        os.close(home_fd)
        os.close(root_fd)


# a whole volume (or one home) from a point: the extract step of a journalled restore ------------
def extract(env: dict) -> int:
    """The point's content into ``STAGE/new`` of each target volume, as the archive restore's
    extract step leaves it (scripts.py: the swap and the discard follow); the databases' copies
    take the place of the live files that the backup left out."""
    user = env.get("JHUB_USER") or None
    for target in env["JHUB_TARGETS"].split():
        dst = f"{DEST}/{target}"
        for entry in os.listdir(dst):  # staging folders of older restores: closed jobs
            if entry.startswith(".jhub-restore-"):
                shutil.rmtree(f"{dst}/{entry}")
        stage = f"{dst}/{env['JHUB_STAGE']}"
        os.makedirs(f"{stage}/new", mode=0o700)
        member = f"home/{user}" if user else target
        raw = f"{stage}/raw"
        repo = open_repository()
        argv = repo.argv("restore", env["JHUB_SNAPSHOT"], "--target", raw,
                         "--include", escape_pattern(f"{SOURCE}/{member}"))
        if target == "data":
            argv += ["--include", f"{SNAP}/data"]
        done = subprocess.run(argv, env=repo.env, capture_output=True, text=True)
        if done.returncode != 0:
            print(str(classify(done.stderr, done.returncode)), file=sys.stderr)
            return 1
        if not os.path.isdir(f"{raw}{SOURCE}/{member}"):
            print(f"{member} is not in this restore point", file=sys.stderr)
            return 3
        os.makedirs(os.path.dirname(f"{stage}/new/{member}"), exist_ok=True)
        os.rename(f"{raw}{SOURCE}/{member}", f"{stage}/new/{member}")
        copies = f"{raw}{SNAP}/data"
        for folder, _, names in os.walk(copies):
            for name in names:
                rel = os.path.relpath(os.path.join(folder, name), copies)
                os.replace(os.path.join(folder, name), f"{stage}/new/data/{rel}")
        shutil.rmtree(raw)
        os.sync()  # durable before the journal says "swap": the swap then only renames
    print("JHUB-EXTRACTED")
    return 0


def main() -> int:
    mode = os.environ.get("JHUB_POINT_MODE")
    if mode == "backup":
        return backup(os.environ)
    if mode == "restore-file":
        return restore_file(os.environ)
    if mode == "extract":
        return extract(os.environ)
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 90


if __name__ == "__main__":
    sys.exit(main())
