"""Staging a corpus on Ray (``run.engine: ray``): the map stage, one task per source file.

Each task runs the same per-file conversion as the local threads
(:func:`curation.corpus.staging._convert_file`), so the staged bytes and the content key do
not depend on the engine. Tasks write their parts straight into the staging work directory:
on a cluster of several machines the storage root must be shared (``s3://``); a local Ray
shares this machine's disk. Ray is started only when there is something to convert (a
reused copy starts nothing).
"""

from collections.abc import Callable, Iterator

from curation.engines.ray_cluster import import_ray, ray_session


def map_on_ray(project) -> Callable[[Callable, list[tuple]], Iterator]:
    """A ``map_files`` for :func:`curation.corpus.staging.stage_corpus`: each call one Ray
    task (one CPU each, about a chunk's worth of memory), results in file order; a task's
    error is raised as itself (the file and line it names), once the other tasks ended."""

    def run(fn: Callable, calls: list[tuple]) -> Iterator:
        with ray_session(project):
            import_ray()
            import ray

            task = ray.remote(num_cpus=1, max_retries=0)(fn)
            refs = [task.remote(*call) for call in calls]
            try:
                for ref in refs:
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        raise exc.cause from None
            finally:
                # let the others end rather than cancel them: Ray 2.60 aborts the driver
                # (task_manager "Check failed: it != submissible_tasks_.end()") when a
                # cancel meets a task completing, which a loaded machine made likely
                ray.wait(refs, num_returns=len(refs))

    return run
