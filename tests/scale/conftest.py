"""One local Ray with 2 CPUs shared by every scale-out test (starting Ray costs seconds), stopped
after the last of them (package scope: this folder has an __init__.py for that)."""
import pytest


@pytest.fixture(scope="package")
def ray_local():
    """A local Ray instance (2 CPUs) for the tests of this folder; the code under test reuses it."""
    ray = pytest.importorskip("ray")
    from ncnnlike.scale.cluster import start_ray
    started = not ray.is_initialized()
    if started:
        start_ray(None, 2)
    yield ray
    if started:
        ray.shutdown()
