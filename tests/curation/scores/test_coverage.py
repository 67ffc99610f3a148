import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.scores import ScoreError, align_scores, coverage_report

CORPUS = pa.array([f"doc-{i}" for i in range(20)])


def scores(ids, values=None) -> pa.Table:
    values = np.arange(len(ids), dtype=float) if values is None else values
    return pa.table({"id": ids, "q": pa.array(values, pa.float64())})


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.randoms(use_true_random=False), st.booleans())
def test_align_is_a_join_for_any_permutation(n, rnd, int_ids):
    corpus = list(range(n)) if int_ids else [f"d{i:04d}" for i in range(n)]
    rnd.shuffle(corpus)
    values = [rnd.uniform(-1e6, 1e6) for _ in range(n)]
    by_id = dict(zip(corpus, values, strict=True))
    order = list(range(n))
    rnd.shuffle(order)
    table = scores([corpus[i] for i in order], [values[i] for i in order])
    aligned = align_scores(pa.array(corpus), table, "q")
    assert aligned.dtype == np.float64
    assert aligned.tolist() == [by_id[c] for c in corpus]


def test_unknown_ids_are_named():
    table = scores(CORPUS.to_pylist() + ["ghost-1", "ghost-2"])
    with pytest.raises(ScoreError, match=r"unknown_ids.*2 score row") as info:
        align_scores(CORPUS, table, "q")
    assert info.value.ids == ["ghost-1", "ghost-2"] and info.value.column == "id"


def test_missing_scores_are_named():
    table = scores(CORPUS.to_pylist()[5:])
    with pytest.raises(ScoreError, match=r"missing_scores \[column 'q'\].*5 corpus") as info:
        align_scores(CORPUS, table, "q")
    assert info.value.ids == [f"doc-{i}" for i in range(5)]


def test_duplicate_score_ids_are_named():
    table = scores(CORPUS.to_pylist() + ["doc-3", "doc-7"])
    with pytest.raises(ScoreError, match="duplicate_ids") as info:
        align_scores(CORPUS, table, "q")
    assert sorted(info.value.ids) == ["doc-3", "doc-7"]


def test_non_finite_scores_are_named():
    values = np.arange(20.0)
    values[[2, 9]] = [np.nan, np.inf]
    table = pa.table({"id": CORPUS, "q": pa.array(values).to_pylist()[:19] + [None]})
    with pytest.raises(ScoreError, match=r"non_finite \[column 'q'\].*3 score") as info:
        align_scores(CORPUS, table, "q")
    assert info.value.ids == ["doc-2", "doc-9", "doc-19"]


def test_empty_table():
    with pytest.raises(ScoreError, match="empty_table"):
        align_scores(
            CORPUS, scores([]).cast(pa.schema([("id", pa.string()), ("q", pa.float64())])), "q"
        )


def test_missing_id_and_score_columns():
    with pytest.raises(ScoreError, match=r"missing_id_column.*'doc'"):
        align_scores(CORPUS, pa.table({"doc": CORPUS, "q": np.zeros(20)}), "q")
    with pytest.raises(ScoreError, match=r"missing_column \[column 'z'\]"):
        align_scores(CORPUS, scores(CORPUS), "z")


def test_wrong_types():
    with pytest.raises(ScoreError, match=r"wrong_type \[column 'id'\].*int64"):
        align_scores(CORPUS, scores(list(range(20))), "q")
    table = pa.table({"id": CORPUS, "q": [str(i) for i in range(20)]})
    with pytest.raises(ScoreError, match=r"wrong_type \[column 'q'\].*import_scores"):
        align_scores(CORPUS, table, "q")


def test_error_id_lists_are_capped_at_ten():
    table = scores([f"x{i}" for i in range(50)])
    with pytest.raises(ScoreError) as info:
        align_scores(CORPUS, table, "q")
    assert len(info.value.ids) == 10


def test_coverage_report_counts_without_raising():
    table = pa.table(
        {"id": CORPUS.to_pylist()[2:] + ["ghost", "doc-5"], "q": [1.0] * 17 + [np.nan, 2.0, 3.0]}
    )
    report = coverage_report(CORPUS, table, ["q", "absent"])
    assert (report["missing"], report["unknown"], report["duplicates"]) == (2, 1, 1)
    assert report["columns"]["q"]["non_finite"] == 1
    assert report["columns"]["q"]["max"] == 3.0 and "p99" in report["columns"]["q"]
    assert "error" in report["columns"]["absent"] and report["ok"] is False


def test_coverage_report_on_a_clean_table_is_ok():
    report = coverage_report(CORPUS, scores(CORPUS), ["q"])
    assert report["ok"] and report["columns"]["q"]["p50"] == pytest.approx(9.5)


def test_coverage_report_survives_wrong_types():
    report = coverage_report(CORPUS, pa.table({"x": [1]}), ["q"])
    assert "missing_id_column" in report["error"]
