"""Shared fixtures. Under CI=true a skipped test is a failure: CI must run everything."""
import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandbox import Sandbox, namespaces_available  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"
#: A copy of shared/rosters, kept with the tests so that a bare checkout runs them.
ROSTERS = Path(__file__).resolve().parent / "data" / "rosters"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


@pytest.fixture
def rosters():
    return ROSTERS


@pytest.fixture
def sandbox():
    """A private /etc, /home and /srv for real shadow tools, PAM and JupyterHub."""
    if not namespaces_available():
        pytest.skip("needs root and unshare --mount to isolate local accounts from the host")
    box = Sandbox(tempfile.mkdtemp(prefix="jhub-sandbox-"))
    try:
        yield box
    finally:
        box.cleanup()
