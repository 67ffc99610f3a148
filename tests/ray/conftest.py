"""One local Ray per test session (per xdist worker): starting Ray costs 4-10 s, so every
``ray`` test shares it; the engine finds the connection and leaves it running, and the
session stops it at the end (``ray.shutdown()``: what this process started, nothing else)."""

import pytest

pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_local():
    from curation.engines.ray_cluster import ray_cluster

    with ray_cluster(None, num_cpus=2, object_store_mb=256) as connection:
        yield connection
