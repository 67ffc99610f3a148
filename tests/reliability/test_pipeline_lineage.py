"""Through the real Dagster graph: a corpus replaced between the ordering
step and the shard step fails the blocking shard check, naming the change; nothing of it is
published."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from tests.factories import make_corpus, make_project, published_versions, write_scores
from tests.graph import run_graph


def _messages(error) -> str:
    """The error and its causes: the check's own message is the cause of the step error."""
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return " | ".join(parts)


@pytest.mark.slow  # two Dagster runs: ~1 min on a busy 2-core machine
def test_a_corpus_replaced_after_ordering_publishes_nothing(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=40)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i % 7) for i in range(40)])
    project = make_project(tmp_path / "root", corpus, scores)
    with instance_for_test() as instance:
        first = run_graph(instance, project, selection=["raw_corpus", "sample_scores", "orderings"])
        assert first.success
        table = pq.read_table(corpus)
        texts = pa.array([f"replaced {i}" for i in range(40)])
        pq.write_table(table.set_column(1, "text", texts), corpus)  # same ids, other texts
        second = run_graph(instance, project, selection=["shards", "published"])
        assert not second.success
        failures = [_messages(e.step_failure_data.error) for e in second.get_step_failure_events()]
        assert any("changed during the run" in m for m in failures), failures
        assert all("publish" not in e.step_key for e in second.get_step_success_events())
    assert published_versions(project.storage.root) == {}
