"""Resources: the project file (recipes, corpus, scores, storage) and the IO manager.

Local runs keep everything under the project's storage root on disk; a root of
``s3://bucket/prefix`` moves data (through ``curation.storage``) and the refs Dagster
stores to S3 with no code change. S3 endpoint and credentials come from the standard AWS
environment variables only (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), read by the
AWS clients themselves.
"""

from functools import cached_property

from dagster import ConfigurableResource

from assets.io import RefIOManager
from curation.project import Project, load_project, parse_project


class ProjectResource(ConfigurableResource):
    """The validated project file. ``config_path`` empty: ``$CURATION_CONFIG`` or
    ``curation.yaml``; ``project_json``: a project given inline (tests, embedding)."""

    config_path: str = ""
    project_json: str = ""

    @cached_property
    def project(self) -> Project:
        if self.project_json:
            return parse_project(Project.model_validate_json(self.project_json).model_dump())
        return load_project(self.config_path or None)

    @classmethod
    def inline(cls, project: Project) -> "ProjectResource":
        return cls(project_json=project.model_dump_json())


def build_resources(project: Project, resource: ProjectResource | None = None) -> dict:
    """The resources every stage needs, for one project."""
    return {
        "project": resource or ProjectResource.inline(project),
        "io_manager": RefIOManager(root=project.storage.root),
    }
