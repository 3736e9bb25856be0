"""The shared secret: O_EXCL creation, mode 0600, constant-time check."""
import os
import stat
import subprocess
import sys

import pytest

from jhub_admin_service.sidecar.secret import (
    SecretError,
    check_bearer,
    ensure_secret,
    read_secret,
)


def test_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "secrets" / "sidecar.secret"
    first = ensure_secret(str(path))
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_secret(str(path)) == first  # never overwritten
    assert read_secret(str(path)) == first


def test_module_entry_point(tmp_path):
    path = tmp_path / "s"
    res = subprocess.run([sys.executable, "-m", "jhub_admin_service.sidecar.secret", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""  # never printed
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    value = path.read_text().strip()
    res = subprocess.run([sys.executable, "-m", "jhub_admin_service.sidecar.secret", str(path)])
    assert res.returncode == 0 and path.read_text().strip() == value


def test_short_secret_refused(tmp_path):
    path = tmp_path / "s"
    path.write_text("short\n")
    with pytest.raises(SecretError):
        read_secret(str(path))


def test_check_bearer():
    s = "x" * 40
    assert check_bearer("Bearer " + s, s)
    assert check_bearer("bearer " + s, s)
    for bad in (None, "", s, "Bearer", "Bearer " + s[:-1], "Bearer " + s + "y",
                "Basic " + s, "Bearer é"):
        assert not check_bearer(bad, s)
    assert not check_bearer("Bearer ", "")
