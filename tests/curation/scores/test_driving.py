"""The driving score column: one score used as is, several combined, a reserved name."""

import pyarrow as pa
import pytest

from curation.project import parse_project
from curation.stages.scores import SCORE, with_driving_score


def project(**scores):
    return parse_project({"scores": scores, "recipes": [{"name": "r", "method": "sorted"}]})


def test_a_column_named_score_is_kept_and_drives_ordering():
    table = pa.table({"id": ["a", "b"], "score": [0.5, 0.1]})
    out, recipe = with_driving_score(table, project())
    assert out.column_names == ["id", "score", SCORE]
    assert out.column(SCORE).to_pylist() == [0.5, 0.1]
    assert recipe["columns"] == ["score"]


def test_several_columns_are_combined_by_rank():
    table = pa.table({"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "y": [30.0, 20.0, 10.0]})
    out, recipe = with_driving_score(table, project(directions=[1, -1]))
    values = out.column(SCORE).to_pylist()
    assert values == sorted(values) and recipe["normalize"] == "rank"


def test_the_reserved_name_is_refused():
    with pytest.raises(ValueError, match="reserved"):
        with_driving_score(pa.table({"id": ["a"], SCORE: [1.0]}), project())
