"""The export pipeline that runs inside the helper container, run here on a temporary tree with
the machine's own tar and compressors (the real-Docker tests run it in the image)."""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from jhub_admin_service.sidecar import export_pipe


@pytest.fixture
def src(tmp_path, monkeypatch):
    root = tmp_path / "src"
    (root / "exchange" / "course1" / "inbound").mkdir(parents=True)
    (root / "exchange" / "course1" / "inbound" / "alice+ps1.ipynb").write_text('{"cells": []}\n')
    os.chmod(root / "exchange", 0o1777)
    (root / "home" / "alice" / ".jhub-restore-abc").mkdir(parents=True)
    (root / "home" / "alice" / "big.bin").write_bytes(os.urandom(3 << 20))  # more than one record
    (root / "home" / "alice" / "private.txt").write_text("only alice\n")
    os.chmod(root / "home" / "alice" / "private.txt", 0o600)
    monkeypatch.setattr(export_pipe, "SOURCE_ROOT", str(root))
    return root


def decompress(path, compressor):
    data = path.read_bytes()
    if compressor == "zstd":
        return subprocess.run(["zstd", "-d", "-c"], input=data, capture_output=True, check=True).stdout
    return subprocess.run(["gzip", "-d", "-c"], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("compressor", ["zstd", "gzip"])
def test_archive_holds_the_tree_with_modes_and_its_sha256(src, tmp_path, compressor):
    if not shutil.which(compressor):
        pytest.skip(f"{compressor} is not installed on this machine")
    out = tmp_path / "archive"
    tar_status, comp_status, writer_status, sha = export_pipe.run(
        ["home", "exchange"], str(out), export_pipe.compressor_argv(compressor, 3, 0))
    assert (tar_status, comp_status, writer_status) == (0, 0, 0)
    assert sha == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.stat().st_mode & 0o777 == 0o600
    raw = decompress(out, compressor)
    assert len(raw) % (export_pipe.RECORD_BLOCKS * 512) == 0  # 1 MiB records
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["exchange"].mode == 0o1777
        assert members["home/alice/private.txt"].mode == 0o600
        assert tar.extractfile("home/alice/big.bin").read() == (src / "home/alice/big.bin").read_bytes()
    assert not any(".jhub-restore-" in name for name in members)  # a restore's leftovers


def test_an_existing_output_is_never_overwritten(src, tmp_path):
    out = tmp_path / "archive"
    out.write_text("an earlier archive")
    *_, writer_status, sha = export_pipe.run(
        ["exchange"], str(out), export_pipe.compressor_argv("gzip", 1, 0))
    assert writer_status == 1 and sha is None
    assert out.read_text() == "an earlier archive"


def run_main(src, targets, out):
    """export_pipe as the helper container runs it: a Python of its own, parameters in its environment."""
    env = dict(os.environ, JHUB_TARGETS=targets, JHUB_OUT=str(out), JHUB_COMPRESSOR="gzip", JHUB_LEVEL="1")
    code = ("import sys; from jhub_admin_service.sidecar import export_pipe as e; "
            f"e.SOURCE_ROOT = {str(src)!r}; sys.exit(e.main())")
    return subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True)


def test_main_reports_statuses_and_fails_on_a_missing_target(src, tmp_path):
    proc = run_main(src, "exchange data", tmp_path / "a")
    assert proc.returncode == export_pipe.TAR_FAILED  # "data" does not exist: tar exits 2
    assert "JHUB-STATUS 2 0 0" in proc.stdout
    assert "data" in proc.stderr


def test_a_writer_failure_is_reported_as_such_not_as_tar_s(src, tmp_path):
    out = tmp_path / "a"
    out.write_text("an earlier archive")
    proc = run_main(src, "exchange", out)
    assert proc.returncode == export_pipe.PIPE_FAILED, proc
    assert proc.stdout.startswith("JHUB-STATUS") and proc.stdout.split()[3] == "1"
    assert "File exists" in proc.stderr and out.read_text() == "an earlier archive"


def test_a_sparse_file_is_archived_as_its_holes(src, tmp_path):
    """A student's `truncate -s 15T ~/a`: stored as a sparse member, not read as zeros. (Here 64 GiB:
    read as zeros it would be 64 GiB for gzip; as holes, the archive stays a few kilobytes.)"""
    with open(src / "home" / "alice" / "a", "wb") as f:
        f.truncate(64 << 30)
    out = tmp_path / "archive"
    statuses = export_pipe.run(["home"], str(out), export_pipe.compressor_argv("gzip", 1, 0))[:3]
    assert statuses == (0, 0, 0)
    assert out.stat().st_size < (8 << 20)  # the 3 MiB of random bytes, and the holes as a map
    with tarfile.open(fileobj=io.BytesIO(decompress(out, "gzip"))) as tar:
        member = tar.getmember("home/alice/a")
        assert member.issparse() and member.size == 64 << 30
