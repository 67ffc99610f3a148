import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.scores import ScoreError, combine_scores, score_version
from curation.scores.combine import rank_normalize

TABLE = pa.table(
    {"id": ["c", "a", "b", "d"], "q": [3.0, 1.0, 2.0, 2.0], "r": [10.0, 40.0, 30.0, 20.0]}
)


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(4)))
def test_version_ignores_row_and_column_order(perm):
    shuffled = TABLE.take(list(perm)).select(["r", "id", "q"])
    assert score_version(shuffled) == score_version(TABLE)


def test_version_changes_with_any_value_or_name():
    base = score_version(TABLE)
    assert len(base) == 16
    changed = TABLE.set_column(1, "q", pa.array([3.0, 1.0, 2.0, 2.5]))
    renamed = TABLE.rename_columns(["id", "q2", "r"])
    other_id = TABLE.set_column(0, "id", pa.array(["c", "a", "b", "e"]))
    assert len({base, score_version(changed), score_version(renamed), score_version(other_id)}) == 4


def test_rank_normalize_averages_ties():
    assert rank_normalize(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [1.0, 0.0, 0.5, 0.5]


def test_combine_with_directions_and_weights():
    combined, recipe = combine_scores(
        TABLE, ["q", "r"], weights=[2.0, 1.0], directions=[1, -1], normalize="rank"
    )
    expected = 2 * rank_normalize(TABLE["q"].to_numpy()) - rank_normalize(TABLE["r"].to_numpy())
    assert np.allclose(combined, expected)
    assert recipe["weights"] == [2.0, 1.0] and recipe["directions"] == [1, -1]


def test_combine_zscore_and_none():
    z, _ = combine_scores(TABLE, ["r"], normalize="zscore")
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    raw, recipe = combine_scores(TABLE, ["q"], normalize="none")
    assert raw.tolist() == [3.0, 1.0, 2.0, 2.0] and recipe["normalize"] == "none"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"columns": ["q"], "weights": [1.0, 2.0]}, "as many weights"),
        ({"columns": ["q"], "directions": [2]}, "directions must be 1 or -1"),
        ({"columns": ["q"], "normalize": "minmax"}, "normalize must be"),
        ({"columns": ["q"], "weights": [0.0]}, "not all zero"),
        ({"columns": ["zz"]}, r"missing_column \[column 'zz'\]"),
    ],
)
def test_combine_rejects_bad_recipes(kwargs, message):
    with pytest.raises(ScoreError, match=message):
        combine_scores(TABLE, **kwargs)


def test_combine_rejects_non_finite_with_ids():
    table = TABLE.set_column(1, "q", pa.array([1.0, np.nan, 2.0, np.inf]))
    with pytest.raises(ScoreError, match=r"non_finite \[column 'q'\]") as info:
        combine_scores(table, ["q"])
    assert info.value.ids == ["a", "d"]
