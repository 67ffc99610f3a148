"""Where stage work runs: local processes (the default) or a Ray cluster (``run.engine``).

The stage functions (``curation/stages``) read the engine from the project; an orchestrator
step that runs several of them can hold one engine session around them all
(:func:`engine_session`), so a local Ray starts once per step, not once per recipe.
"""

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def engine_session(project) -> Iterator[None]:
    """Connected to (or running) the project's Ray for the block when ``run.engine`` is
    ``ray``; nothing to do for ``local``."""
    if project.run.engine != "ray":
        yield
        return
    from curation.engines.ray_cluster import ray_session

    with ray_session(project):
        yield
