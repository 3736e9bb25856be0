"""The export pipeline, run inside an export helper container (the sidecar's own image).

    tar --create | COMPRESSOR | this process (sha256 while writing) -> $JHUB_OUT

Why not a shell pipeline: shell pipes hold 64 KiB and tar writes 10 KiB records, so moving
1 GB of small notebooks from tar to the compressor cost more system time than the compression
itself (0.9 s of system CPU for 940 MB, measured on 2 cores). Here tar writes 1 MiB records
into 1 MiB pipes, and the archive is read and hashed once, in one pass, with OpenSSL's sha256.
The archives stay ordinary tar streams; the restore script reads the last record's zero
padding to its end (see RESTORE_SCRIPT).

Parameters come from the environment, set by ``template.export_body`` after validation:
JHUB_TARGETS (volume folders under /src), JHUB_OUT (a new file, created exclusively, 0600),
JHUB_COMPRESSOR, JHUB_LEVEL, JHUB_THREADS. On stdout, for the sidecar: the statuses of tar,
the compressor and the writer (``JHUB-STATUS a b c``), then ``SHA256  -``.
"""
import fcntl
import hashlib
import os
import subprocess
import sys

SOURCE_ROOT = "/src"
RECORD_BLOCKS = 2048  # 512-byte blocks per tar record: 1 MiB
PIPE_BYTES = 1 << 20  # the default /proc/sys/fs/pipe-max-size, allowed without privileges
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, absent before Python 3.10

#: Exit statuses the sidecar reports.
TAR_FAILED, PIPE_FAILED = 92, 93


def compressor_argv(name, level, threads):
    level, threads = int(level), int(threads)
    return {"zstd": ["zstd", "-q", "-c", f"-T{threads}", f"-{level}"],
            "pigz": ["pigz", "-c", f"-{level}"],
            "gzip": ["gzip", "-c", f"-{level}"]}[name]


def tar_argv(targets):
    # --sparse: a student's `truncate -s 15T ~/a` is stored as its holes (found with SEEK_HOLE),
    # not read as terabytes of zeros that would hold every export and restore past its deadline.
    return ["tar", "--create", "--file=-", "--numeric-owner", "--sparse", f"--blocking-factor={RECORD_BLOCKS}",
            "--exclude=*/.jhub-restore-*", "--", *targets]


def big_pipe():
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:  # a lower pipe-max-size: the default size still works, only slower
        pass
    return read_fd, write_fd


def write_hashed(read_fd, path):
    """Copy read_fd to a new file at path; returns the sha256 of what was written."""
    digest = hashlib.sha256()
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        buf = bytearray(PIPE_BYTES)
        view = memoryview(buf)
        while True:
            n = os.readv(read_fd, [buf])
            if not n:
                return digest.hexdigest()
            chunk = view[:n]
            digest.update(chunk)
            while chunk:
                chunk = chunk[os.write(out, chunk):]
    finally:
        os.close(out)


def shell_status(code):
    """A Popen return code as a shell shows it: 128+N for a process killed by signal N."""
    return 128 - code if code < 0 else code


def run(targets, out_path, compressor):
    """Returns (tar status, compressor status, writer status, sha256 or None)."""
    tar_out, tar_in = big_pipe()
    tar = subprocess.Popen(tar_argv(targets), stdout=tar_in, cwd=SOURCE_ROOT)
    os.close(tar_in)
    archive_out, archive_in = big_pipe()
    comp = subprocess.Popen(compressor, stdin=tar_out, stdout=archive_in)
    os.close(tar_out)
    os.close(archive_in)
    sha, writer_status = None, 0
    try:
        sha = write_hashed(archive_out, out_path)
    except OSError as exc:  # a full disk, typically: stop the others, report it
        print(f"archive not written: {exc}", file=sys.stderr)
        writer_status = 1
        tar.kill()
        comp.kill()
    finally:
        os.close(archive_out)
    return shell_status(tar.wait()), shell_status(comp.wait()), writer_status, sha


def main():
    env = os.environ
    tar_status, comp_status, writer_status, sha = run(
        env["JHUB_TARGETS"].split(), env["JHUB_OUT"],
        compressor_argv(env["JHUB_COMPRESSOR"], env["JHUB_LEVEL"], env.get("JHUB_THREADS", "0")))
    print(f"JHUB-STATUS {tar_status} {comp_status} {writer_status}")
    if sha:
        print(f"{sha}  -")
    if writer_status:  # tar and the compressor were killed because of it
        return PIPE_FAILED
    # tar exits 1 when a file changed while it was read: a warning, not a failure.
    if tar_status not in (0, 1):
        return TAR_FAILED
    if comp_status:
        return PIPE_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
