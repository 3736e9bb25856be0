"""The hub container's entrypoint always starts the hub: an account that its reconcile cannot make
(here, its name taken by a group of the image since it was imported) is reported, the other
accounts are made, and the command runs. The real image, a throw-away data volume."""
import subprocess
import uuid

import pytest

from e2e_stack import DOCKER, HUB_IMAGE

ROSTER = "login;password;role\neleve.ok;Pass-eleve-ok1;student\nzz.bad;Pass-zz-bad1;student\n"


def run(volume, script, prepare=False):
    args = [DOCKER, "run", "--rm", "-i", "-v", f"{volume}:/srv/jupyterhub", "--entrypoint", "bash"]
    if prepare:
        args += ["-e", "JHUB_ADMIN_PREPARE=1", "-e", "JHUB_ADMIN_PASSWORD=Entry-Point-2026"]
    return subprocess.run([*args, HUB_IMAGE, "-c", script], capture_output=True, text=True, timeout=300)


@pytest.fixture
def volume(e2e_images):
    name = f"jhub-entrypoint-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([DOCKER, "volume", "create", name], check=True, capture_output=True)
    yield name
    subprocess.run([DOCKER, "volume", "rm", "-f", name], capture_output=True)


def test_the_hub_starts_though_one_account_cannot_be_made(volume):
    made = run(volume, f"printf '{ROSTER}' > /tmp/c.csv && jhub-admin import /tmp/c.csv --yes")
    assert made.returncode == 0, made.stderr
    # A recreated container whose image now has a group named like one account.
    started = run(volume, "groupadd zz.bad && exec /usr/local/bin/jhub-entrypoint "
                          "bash -c 'id eleve.ok && ! id zz.bad && echo HUB-STARTS'", prepare=True)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "HUB-STARTS" in started.stdout
    assert "zz.bad: not made on this machine" in started.stderr
    assert "the hub starts anyway" in started.stderr
