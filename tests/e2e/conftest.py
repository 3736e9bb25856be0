"""Fixtures of the end-to-end tests: the real images, a real compose project.

The images are built once per session with docker/build.sh, unless
JHUB_E2E_SKIP_BUILD=1 and they already exist (.ci/run builds them first).
"""
import os
import secrets
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_stack import (HUB_IMAGE, SIDECAR_IMAGE, Stack, build_images, compose_command,  # noqa: E402
                       docker_available, image_exists)

pytestmark = pytest.mark.docker


def pytest_collection_modifyitems(items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def e2e_images():
    # Only a machine without Docker skips (under CI=true the top-level
    # conftest turns this skip into a failure).
    if not docker_available():
        pytest.skip("no Docker engine answers (docker info failed)")
    if compose_command() is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    if os.environ.get("JHUB_E2E_SKIP_BUILD") == "1" and image_exists(HUB_IMAGE) and image_exists(SIDECAR_IMAGE):
        return {"build_seconds": None}
    seconds = build_images()
    print(f"\n[e2e] docker/build.sh took {seconds:.0f} s", file=sys.stderr)
    return {"build_seconds": seconds}


@pytest.fixture(scope="module")
def stack(request, e2e_images):
    """One running deployment for a test module; removed with its volumes afterwards.

    A module sets STACK_ENV (the environment of compose), COMPOSE ("v1" or "v2") and
    COMPOSE_OVERRIDES (compose files of docker/ added to compose.yaml)."""
    env = getattr(request.module, "STACK_ENV", {})
    compose = getattr(request.module, "COMPOSE", None)
    if compose_command(compose) is None:
        pytest.skip(f"Compose {compose} is not installed")
    s = Stack(env=env, compose=compose, overrides=getattr(request.module, "COMPOSE_OVERRIDES", ()))
    failed_before = request.session.testsfailed
    try:
        start = time.monotonic()
        s.up()
        s.wait_for_hub()
        print(f"\n[e2e] {s.project} up in {time.monotonic() - start:.0f} s on {s.url}", file=sys.stderr)
        yield s
    finally:
        if request.session.testsfailed != failed_before:
            print(f"\n[e2e] logs of {s.project}:\n{s.logs(tail=150)}", file=sys.stderr)
        s.destroy()


@pytest.fixture
def random_password():
    return lambda: "E2e-" + secrets.token_urlsafe(9)
