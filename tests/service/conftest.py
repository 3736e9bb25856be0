import pytest

from servicetools import start_hub


@pytest.fixture(scope="module")
def running():
    """One sandbox and one hub (with the service) per test module: (sandbox, hub)."""
    box, hub = start_hub()
    yield box, hub
    hub.stop()
    box.cleanup()
