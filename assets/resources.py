"""Resources: where data lives and what the pipeline reads, switched per environment by config.

Local runs keep everything under ``root`` on disk; setting ``CURATION_ROOT=s3://bucket/prefix``
moves data (through ``curation.storage``) and Dagster's own IO (``S3PickleIOManager`` from
dagster-aws) to S3 with no code change. Credentials come only from the environment.
"""

import os

from dagster import ConfigurableResource, FilesystemIOManager
from dagster_aws.s3 import S3PickleIOManager, S3Resource

DEFAULT_ROOT = "var/storage"
DEFAULT_CORPUS = "var/demo/demo_corpus.parquet"


class CurationSettings(ConfigurableResource):
    """What to order and where to put it. Every field can be set in the launchpad."""

    root: str = DEFAULT_ROOT
    corpus_uri: str = DEFAULT_CORPUS
    id_column: str = "id"
    text_column: str = "text"
    scores_uri: str | None = None
    score_id_column: str = "id"
    score_columns: list[str] = []
    scorers: list[str] = ["compression"]
    normalize: str = "rank"
    weights: list[float] | None = None
    directions: list[int] | None = None
    dataset: str = "demo"
    rows_per_shard: int = 1000
    memory_limit_mb: int = 512

    def path(self, *parts: str) -> str:
        """A location under the storage root (local path or s3 URI)."""
        return "/".join([self.root.rstrip("/"), *parts])

    @property
    def score_source(self) -> str:
        """What the refresh sensor watches: the score table, or the corpus for built-in scores."""
        return self.scores_uri or self.corpus_uri


def settings_from_env() -> CurationSettings:
    """Defaults embedded for the demo, overridable by environment variables."""
    env = os.environ
    kwargs: dict = {
        "root": env.get("CURATION_ROOT", DEFAULT_ROOT),
        "corpus_uri": env.get("CURATION_CORPUS", DEFAULT_CORPUS),
        "dataset": env.get("CURATION_DATASET", "demo"),
    }
    if env.get("CURATION_SCORES"):
        kwargs["scores_uri"] = env["CURATION_SCORES"]
        columns = env.get("CURATION_SCORE_COLUMNS", "")
        kwargs["score_columns"] = [c for c in columns.split(",") if c]
    for name, field in (
        ("CURATION_ROWS_PER_SHARD", "rows_per_shard"),
        ("CURATION_MEMORY_LIMIT_MB", "memory_limit_mb"),
    ):
        if env.get(name):
            kwargs[field] = int(env[name])
    if env.get("CURATION_SCORERS"):
        kwargs["scorers"] = env["CURATION_SCORERS"].split(",")
    return CurationSettings(**kwargs)


def io_manager_for(root: str):
    """Dagster's own small outputs (paths, versions) live beside the data."""
    if root.startswith("s3://"):
        bucket, _, prefix = root[len("s3://") :].partition("/")
        s3 = S3Resource(
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
        )
        return S3PickleIOManager(
            s3_resource=s3,
            s3_bucket=bucket,
            s3_prefix="/".join(p for p in (prefix, "dagster") if p),
        )
    return FilesystemIOManager(base_dir=os.path.join(root, "dagster"))


def build_resources(settings: CurationSettings | None = None) -> dict:
    settings = settings or settings_from_env()
    return {"settings": settings, "io_manager": io_manager_for(settings.root)}
