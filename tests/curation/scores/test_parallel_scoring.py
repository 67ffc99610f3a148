"""Scoring on several processes: the same scores, in corpus order, as one process."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.scores.base import SCORERS, score_corpus
from curation.scores.parallel import MIN_PARALLEL_BYTES, WORKER_BYTES, choose_workers, pack, unpack
from tests.curation.scores.test_scorers import TEXTS


def corpus(tmp_path, n_files=3, per_file=70):
    """Several files of varied text (empty, non-ASCII, long) with string ids."""
    rng = np.random.default_rng(0)
    for f in range(n_files):
        texts = [TEXTS[i % len(TEXTS)] * int(rng.integers(1, 4)) for i in range(per_file)]
        ids = [f"doc-{f}-{i}" for i in range(per_file)]
        pq.write_table(pa.table({"id": ids, "text": texts}), tmp_path / f"c{f}.parquet")
    return str(tmp_path)


def test_processes_give_the_same_scores_in_order(tmp_path):
    uri = corpus(tmp_path)
    names = sorted(SCORERS)  # every built-in, ngram fitted in the parent
    one = score_corpus(uri, names, batch_size=16, progress=False, workers=1)
    two = score_corpus(uri, names, batch_size=16, progress=False, workers=2)
    assert one.num_rows == 210 and one.column("id")[0].as_py() == "doc-0-0"
    assert two.equals(one)


def test_progress_bar_counts_every_document(tmp_path, capsys):
    uri = corpus(tmp_path, n_files=1, per_file=40)
    score_corpus(uri, ["length"], batch_size=7, progress=True, workers=2)
    err = capsys.readouterr().err
    assert "scoring (2 processes)" in err and "40/40" in err


@pytest.mark.parametrize("texts", [[], [""], ["a", None, "ü" * 5]])
def test_pack_round_trips_slices_and_nulls(texts):
    array = pa.array(["skip"] + texts, pa.string()).slice(1)
    assert unpack(pack(array)).to_pylist() == [t or "" for t in texts]


def test_worker_count_follows_size_cores_and_memory(monkeypatch):
    monkeypatch.setattr("curation.scores.parallel.available_cores", lambda: 4)
    big = MIN_PARALLEL_BYTES
    assert choose_workers(3, 0, None, 0) == 3  # explicit wins
    assert choose_workers(None, big - 1, None, 0) == 1  # small corpus: one process
    assert choose_workers(None, big, None, 0) == 4
    assert choose_workers(None, big, 2 * WORKER_BYTES + 100, 100) == 2
    assert choose_workers(None, big, 50, 100) == 1  # the limit is exhausted: never zero


def test_workers_read_their_own_row_groups_in_order(tmp_path):
    """Row groups of several files go to the workers; scores come back in corpus order."""
    rng = np.random.default_rng(1)
    for f in range(2):
        texts = [TEXTS[i % len(TEXTS)] * int(rng.integers(1, 5)) for i in range(50)]
        table = pa.table({"text": texts, "id": [f"d{f}-{i}" for i in range(50)]})  # text first
        pq.write_table(table, tmp_path / f"c{f}.parquet", row_group_size=9)
    one = score_corpus(str(tmp_path), ["length", "compression"], progress=False, workers=1)
    two = score_corpus(str(tmp_path), ["length", "compression"], progress=False, workers=2)
    assert two.equals(one) and one.num_rows == 100


def test_a_null_text_read_by_a_worker_is_named(tmp_path):
    texts = ["fine text"] * 30 + [None] + ["more"] * 9
    ids = [f"d{i}" for i in range(40)]
    pq.write_table(pa.table({"id": ids, "text": texts}), tmp_path / "c.parquet", row_group_size=8)
    with pytest.raises(ValueError, match=r"null 'text' \(ids \['d30'\]\)"):
        score_corpus(str(tmp_path), ["length"], progress=False, workers=2)
