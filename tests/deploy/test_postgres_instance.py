"""The production-like instance (deploy/dagster.postgres-local.yaml) stores runs and events in a
real PostgreSQL server. Start one with ``eval "$(scripts/start_postgres.sh)"``."""

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def _server() -> tuple[str, int] | None:
    host = os.environ.get("DAGSTER_PG_HOST")
    port = os.environ.get("DAGSTER_PG_PORT")
    if not host or not port:
        return None
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return None
    return host, int(port)


@pytest.fixture
def pg_instance(tmp_path, monkeypatch):
    if _server() is None:
        pytest.skip(
            "no PostgreSQL at $DAGSTER_PG_HOST:$DAGSTER_PG_PORT; "
            'run eval "$(scripts/start_postgres.sh)" first'
        )
    for name, default in [
        ("DAGSTER_PG_USER", "postgres"),
        ("DAGSTER_PG_PASSWORD", ""),
        ("DAGSTER_PG_DB", "dagster"),
    ]:
        monkeypatch.setenv(name, os.environ.get(name, default))
    from dagster import DagsterInstance

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.postgres-local.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


def _corpus(path: Path, n: int = 150) -> pa.Table:
    rng = np.random.default_rng(3)
    table = pa.table(
        {"id": np.arange(n), "text": ["word " * int(k) for k in rng.integers(1, 60, n)]}
    )
    pq.write_table(table, path, row_group_size=32)
    return table


def test_postgres_instance_stores_runs_and_materializations(pg_instance, tmp_path):
    from dagster import AssetKey, DagsterRunStatus, execute_job, reconstructable

    from tests.deploy.pg_pipeline import shards_job

    assert type(pg_instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(pg_instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    corpus = tmp_path / "corpus.parquet"
    table = _corpus(corpus)
    run_config = {
        "ops": {
            "ordering": {"config": {"corpus": str(corpus)}},
            "ordered_shards": {"config": {"corpus": str(corpus), "out_root": str(tmp_path / "o")}},
        }
    }
    run_ids = []
    for method in ["sorted"]:  # each run costs ~10 s of step subprocess start-up
        with execute_job(
            reconstructable(shards_job),
            instance=pg_instance,
            run_config=run_config,
            tags={"dagster/partition": method},
        ) as result:
            assert result.success
            run_ids.append(result.run_id)

    for run_id in run_ids:  # the runs are read back from Postgres
        run = pg_instance.get_run_by_id(run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
    records = pg_instance.fetch_materializations(AssetKey("ordered_shards"), limit=50).records
    by_partition = {  # the database outlives tests: look only at this test's runs
        r.partition_key: r.asset_materialization.metadata for r in records if r.run_id in run_ids
    }
    assert set(by_partition) == {"sorted"}
    assert by_partition["sorted"]["rows"].value == table.num_rows
    got = pq.read_table(tmp_path / "o" / "sorted")
    lengths = np.asarray([len(t) for t in got.column("text").to_pylist()])
    assert np.all(np.diff(lengths) >= 0), "sorted shards are not in ascending score order"

    import psycopg2

    with (
        psycopg2.connect(
            host=os.environ["DAGSTER_PG_HOST"],
            port=os.environ["DAGSTER_PG_PORT"],
            user=os.environ["DAGSTER_PG_USER"],
            dbname=os.environ["DAGSTER_PG_DB"],
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = ANY(%s) "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (run_ids,),
        )
        assert cur.fetchone()[0] == 2  # two assets, stored as rows in Postgres
