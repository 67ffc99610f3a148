"""Storage that fails mid-publish: the S3 server goes away while shards are uploaded.

This module runs its own moto server (not the shared session one) because it stops it.
Moto keeps objects in process memory, so a server restarted on the same port serves the
same bucket: exactly an outage followed by recovery.
"""

import threading
import time
from collections.abc import Iterator

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import publish
from curation.publish import PublishStorageError
from tests.factories import LINEAGE
from tests.reliability.helpers import visible_state_problems
from tests.s3fixture import FAKE_ENV


class Outage:
    """A moto server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._cls = ThreadedMotoServer
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.host, self.port = self.server.get_host_and_port()
        self.endpoint = f"http://{self.host}:{self.port}"
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.server.stop()
            self.running = False

    def start(self) -> None:
        if not self.running:
            self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
            self.server.start()
            self.running = True


@pytest.fixture
def outage(monkeypatch) -> Iterator[Outage]:
    server = Outage()
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    try:
        yield server
    finally:
        server.stop()


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def local_shards(directory, n_shards: int = 12, rows: int = 1500) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    uris = []
    for i in range(n_shards):
        pos = np.arange(i * rows, (i + 1) * rows)
        table = pa.table(
            {
                "id": [f"d{p}" for p in pos.tolist()],
                "text": ["words " * 30] * rows,
                "_curation_position": pos,
            }
        )
        pq.write_table(table, directory / f"in-{i:03d}.parquet")
        uris.append(str(directory / f"in-{i:03d}.parquet"))
    return uris


def stop_after_first_part(outage: Outage, bucket: str) -> threading.Thread:
    """Stop the server as soon as the first shard of a version has landed."""
    client = s3_client(outage.endpoint)

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
            if any("/part-" in o["Key"] for o in listed):
                break
            time.sleep(0.005)
        outage.stop()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_s3_outage_mid_publish_fails_clearly_then_retry_succeeds(outage, tmp_path):
    bucket = "reliability-outage"
    s3_client(outage.endpoint).create_bucket(Bucket=bucket)
    root = f"s3://{bucket}/published"
    shards = local_shards(tmp_path / "in")
    watcher = stop_after_first_part(outage, bucket)
    with pytest.raises(PublishStorageError) as err:
        publish.publish_version(root, "ds", shards, LINEAGE)
    watcher.join()
    message = str(err.value)
    assert "storage error while staging shards for ds/" in message
    assert "nothing was committed" in message and "rerun" in message
    assert isinstance(err.value, OSError)

    outage.start()
    keys = [
        o["Key"]
        for o in s3_client(outage.endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    ]
    assert any("/part-" in k for k in keys), "the outage should have hit mid-publish"
    assert not any(k.endswith("manifest.json") for k in keys)
    assert publish.list_versions(root, "ds") == []

    published = publish.publish_version(root, "ds", shards, LINEAGE)
    assert publish.resolve_version(root, "ds") == published.version
    assert publish.verify_version(root, "ds") == []


def test_s3_unreachable_from_the_start_fails_with_a_clear_error(outage, tmp_path):
    outage.stop()
    shards = local_shards(tmp_path / "in", n_shards=2, rows=10)
    with pytest.raises(PublishStorageError, match="storage error while staging shards"):
        publish.publish_version("s3://reliability-down/published", "ds", shards, LINEAGE)


def test_two_publishers_race_on_s3_one_version_identical_manifest(s3_bucket, tmp_path):
    """S3 has no create-if-absent through pyarrow, so both racers may write the manifest:
    harmless only because manifests hold no clock or paths and so are byte-identical."""
    shards = local_shards(tmp_path / "in", n_shards=4, rows=200)
    root = f"{s3_bucket}/published"
    barrier, results, errors = threading.Barrier(2), [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(publish.publish_version(root, "ds", shards, LINEAGE))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results[0].version == results[1].version
    assert results[0].manifest == results[1].manifest
    assert [v.version for v in publish.list_versions(root, "ds")] == [results[0].version]
    assert publish.verify_version(root, "ds") == []


def test_local_storage_problems_are_clear(tmp_path):
    """A root that is a file, not a directory: a clear storage error, nothing half-made."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    shards = local_shards(tmp_path / "in", n_shards=2, rows=10)
    with pytest.raises(PublishStorageError, match="storage error while staging shards"):
        publish.publish_version(str(blocker / "published"), "ds", shards, LINEAGE)
    root = str(tmp_path / "ok")
    publish.publish_version(root, "ds", shards, LINEAGE)
    assert visible_state_problems(root) == []
