"""Fixtures of the sidecar tests.  The real-Docker fixture builds the
sidecar image and runs a throw-away deployment under a unique compose
project name; everything is removed afterwards."""
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import jhub_admin_service  # noqa: F401
except ImportError:  # a bare checkout without pip install -e
    sys.path.insert(0, str(HERE.parents[1]))

from dockerenv import POPULATE, SidecarEnv, docker_available  # noqa: E402


@pytest.fixture(scope="session")
def docker_env():
    if not docker_available():
        pytest.skip("Docker is not available (no engine answers on the socket)")
    env = SidecarEnv()
    try:
        env.build()
        env.setup(POPULATE)
        yield env
    finally:
        errors = env.cleanup()
        if errors:
            print("cleanup errors: %s" % errors)
