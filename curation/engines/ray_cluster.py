"""Where Ray work runs: a cluster the project names, or a local one on loopback only.

``ray.address`` in the project file (or Ray's own ``RAY_ADDRESS``, which wins, as Ray users
expect) names a running cluster (``auto``: the one this machine already runs). Without one,
a local Ray is started for the duration of the work and stopped by what started it
(``ray.shutdown()``: never ``ray stop``, which kills every Ray process on the machine).

A local Ray must listen on loopback only (its jobs API runs code for whoever reaches it).
``_node_ip_address="127.0.0.1"`` is not enough in Ray 2.60 (the GCS and raylet still listen
on every interface); ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes the node address
127.0.0.1 and keeps every listener there (multi-node is then refused, which a local Ray does
not need). Ray reads it when ``ray`` is first imported, so it is set before that import and
Ray's constant is set too if something imported Ray earlier.

A process that is already connected to a Ray (a test session, a Ray job's driver) keeps its
connection: the engine uses it and leaves it as it found it.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from curation.machine import available_cores

#: Set before every local start: loopback only, no usage reports.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
#: Ray refuses an object store below ~75 MiB.
MIN_OBJECT_STORE_MB = 80


class RayEngineError(RuntimeError):
    """Ray is not installed, the cluster cannot be reached, or it failed mid-run."""


@dataclass(frozen=True)
class RayConnection:
    """The cluster the engine uses: its GCS address, whether this process started it, and
    its CPUs (what the work fans out over)."""

    address: str
    started: bool
    cpus: int


def ray_address(configured: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """``RAY_ADDRESS`` if set (Ray's own variable), else the project's ``ray.address``;
    None means: start a local Ray."""
    env = os.environ if env is None else env
    return env.get("RAY_ADDRESS") or configured or None


def import_ray(local: bool = False):
    """The ``ray`` module (loopback-only if ``local``), or an error naming the extra."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if local:
        os.environ.update(LOCAL_ENV)
    try:
        import ray
        import ray._private.ray_constants as constants
    except ImportError:
        raise RayEngineError(
            "run.engine is 'ray' but Ray is not installed: pip install 'curation[ray]'"
        ) from None
    if local:
        constants.ENABLE_RAY_CLUSTER = False  # in case Ray was imported before the env was set
    return ray


@contextmanager
def ray_cluster(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_mb: int = 256,
) -> Iterator[RayConnection]:
    """Connect to ``address`` or start a loopback-only local Ray of ``num_cpus`` (default:
    this machine's cores) with an object store of ``object_store_mb`` (it spills to disk
    beyond); on exit disconnect from, or stop, only what this call started."""
    ray = import_ray(local=not address)
    if ray.is_initialized():
        yield _connection(ray, started=False)
        return
    try:
        if address:
            ray.init(address=address, logging_level="WARNING")
        else:
            ray.init(
                address="local",
                num_cpus=num_cpus or available_cores(),
                object_store_memory=max(object_store_mb, MIN_OBJECT_STORE_MB) << 20,
                include_dashboard=False,
                logging_level="WARNING",
            )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray"
        raise RayEngineError(f"could not start or reach {where}: {exc}") from exc
    try:
        yield _connection(ray, started=not address)
    finally:
        ray.shutdown()  # stops what ray.init started; only disconnects from a named cluster


def _connection(ray, started: bool) -> RayConnection:
    cpus = int(ray.cluster_resources().get("CPU", 0))
    return RayConnection(gcs_address(ray), started, cpus)


def gcs_address(ray) -> str:
    """The connected cluster's GCS ``host:port``; empty where the connection does not say
    (a Ray Client connection, ``ray://``)."""
    try:
        return str(ray.get_runtime_context().gcs_address or "")
    except Exception:  # Ray Client's runtime context has no GCS address
        return ""


def ray_session(project):
    """:func:`ray_cluster` as the project file sets it (``ray.*``; ``RAY_ADDRESS`` wins):
    a local Ray's object store defaults to the run's memory setting."""
    spec = project.ray
    return ray_cluster(
        ray_address(spec.address),
        num_cpus=spec.num_cpus,
        object_store_mb=spec.object_store_mb or project.run.memory_limit_mb,
    )
