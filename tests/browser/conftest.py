import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browsertools import chromium  # noqa: E402
from servicetools import start_hub  # noqa: E402


@pytest.fixture(scope="module")
def running():
    box, hub = start_hub(prefix="jhub-browser-")
    yield box, hub
    hub.stop()
    box.cleanup()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser
