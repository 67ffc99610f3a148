"""The real pipeline in its production configuration, as far as this machine can run it.

PostgreSQL (a real server started by scripts/start_postgres.sh) holds runs and events, a real
S3-compatible server (moto, on loopback) holds the data and Dagster's IO, and the multiprocess
executor fans the steps out: `dagster asset materialize -m definitions --select '*'`, exactly
as an operator would run it, configured only through the environment.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from assets.partitions import mapping_key
from tests.deploy.test_postgres_instance import _server
from tests.factories import make_corpus, make_project, write_project_file

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def test_pipeline_on_postgres_s3_and_multiprocess(tmp_path, s3_bucket, moto_endpoint):
    if _server() is None:
        pytest.skip(
            "no PostgreSQL at $DAGSTER_PG_HOST:$DAGSTER_PG_PORT; run "
            'eval "$(scripts/start_postgres.sh)" first'
        )
    bucket = s3_bucket.removeprefix("s3://")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.postgres-local.yaml", home / "dagster.yaml")
    corpus = make_corpus(tmp_path / "corpus", n=40)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.upload_file(corpus, bucket, "raw/corpus.parquet")
    recipes = [
        {"name": "random", "method": "random", "probe": True},
        {"name": "saw", "method": "saw"},
        {"name": "str", "method": "str"},
    ]
    project = make_project(tmp_path / "unused", corpus, recipes=recipes)
    config = write_project_file(tmp_path / "curation.yaml", project)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USER": os.environ.get("DAGSTER_PG_USER", "postgres"),
        "DAGSTER_PG_PASSWORD": os.environ.get("DAGSTER_PG_PASSWORD", ""),
        "DAGSTER_PG_DB": os.environ.get("DAGSTER_PG_DB", "dagster"),
        "CURATION_ROOT": f"s3://{bucket}/curation",
        "CURATION_CORPUS": f"s3://{bucket}/raw/corpus.parquet",
        "CURATION_DATASET": "prod",
        "CURATION_EXECUTOR": "multiprocess",
        "CURATION_CONFIG": config,
        "CURATION_RECIPES": "random,saw",
        "CURATION_ROWS_PER_SHARD": "16",
        "CURATION_SHARD_STEPS": "3",
        "CURATION_MAX_PROCESSES": "2",
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    proc = subprocess.run(
        [
            dagster,
            "asset",
            "materialize",
            "-m",
            "definitions",
            "--select",
            "*",
            "--partition-range",
            "random...saw",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Launching subprocess" in proc.stderr  # the multiprocess executor
    # shard writes are independent steps (40 docs, 16 per shard, 3 steps -> 3 writes per recipe)
    for index in range(3):
        assert f"shards.shards_write[{mapping_key('saw', index)}]" in proc.stderr

    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="curation/published/").get("Contents", [])
    ]
    manifests = [k for k in keys if k.endswith("/manifest.json")]
    assert {k.split("/")[2] for k in manifests} == {"prod-random", "prod-saw"}

    from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            mats = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey("published"), asset_partitions=["saw"]),
                limit=1,
            ).records
            assert mats, "no materialization of published[saw] in PostgreSQL"
            run = instance.get_run_by_id(mats[0].run_id)
            assert run.is_success and run.tags.get("dagster/step_selection") is None
    finally:
        os.environ.pop("DAGSTER_HOME", None)
