"""One local Ray per test session: starting Ray costs 4-10 s, so every ``ray`` test shares
it. Every test that uses it lives in ``test_engine.py``, so ``--dist loadfile`` runs them on
one worker (two local clusters started by two workers at once took a worker down). The
engine finds the connection and leaves it running; the session stops it at the end
(``ray.shutdown()``: what this process started, nothing else)."""

import pytest

pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_local():
    from curation.engines.ray_cluster import ray_cluster

    with ray_cluster(None, num_cpus=2, object_store_mb=256) as connection:
        yield connection
