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

from dockerenv import SidecarEnv, docker_available  # noqa: E402

POPULATE = r'''
mkdir -p /v/home/alice/course1 /v/home/bob /v/exchange/course1/inbound /v/exchange/course1/outbound /v/data
printf '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n' > /v/home/alice/course1/ps1.ipynb
printf 'only alice may read this\n' > /v/home/alice/private.txt
chown -R 1001:1001 /v/home/alice
chmod 0700 /v/home/alice
chmod 0600 /v/home/alice/private.txt
printf 'bob\n' > /v/home/bob/notes.txt
chown -R 1002:1002 /v/home/bob
chmod 1777 /v/exchange
chmod 0755 /v/exchange/course1
chown 1003:1003 /v/exchange/course1/outbound
printf 'submission\n' > /v/exchange/course1/inbound/alice+ps1+2026.txt
chown 1001:1001 /v/exchange/course1/inbound/alice+ps1+2026.txt
chmod 0733 /v/exchange/course1/inbound
printf 'db\n' > /v/data/jupyterhub.sqlite
chmod 0600 /v/data/jupyterhub.sqlite
'''


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
