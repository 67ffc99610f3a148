"""The pipeline half of the test factories: the real Dagster definitions run in-process.
(Library tests use :mod:`tests.factories`, which never imports Dagster.)"""

from dagster import (
    AssetSelection,
    DagsterInstance,
    Definitions,
    define_asset_job,
    in_process_executor,
)

from assets.automation import range_tags
from assets.location import build_definitions
from assets.resources import ProjectResource
from curation.project import Project


def run_graph(
    instance: DagsterInstance,
    project: Project,
    recipes: list[str] | None = None,
    selection: list[str] | None = None,
    run_config: dict | None = None,
    resource: ProjectResource | None = None,
):
    """Materialize the real definitions in-process for ``recipes`` (default: all of them,
    one range), optionally only the ``selection`` of assets (with their checks)."""
    defs = build_definitions(project, resource=resource, executor=in_process_executor)
    if selection is None:
        job = defs.resolve_job_def("refresh")
    else:
        subset = define_asset_job("subset", selection=AssetSelection.assets(*selection))
        job = Definitions.merge(defs, Definitions(jobs=[subset])).resolve_job_def("subset")
    names = recipes or project.recipe_names
    (tags,) = range_tags(names, project.recipe_names)
    return job.execute_in_process(
        instance=instance, tags=tags, run_config=run_config or {}, raise_on_error=False
    )
