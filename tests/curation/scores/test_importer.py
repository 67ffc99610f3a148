import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.scores import ScoreError, import_scores


def test_parquet_numbers_become_float64(tmp_path):
    pq.write_table(
        pa.table({"doc": ["a", "b"], "q": pa.array([1, 2], pa.int32()), "r": [0.5, 1.5]}),
        tmp_path / "s.parquet",
    )
    table = import_scores(str(tmp_path / "s.parquet"), id_column="doc")
    assert table.column_names == ["id", "q", "r"]
    assert table.schema.field("q").type == pa.float64()
    assert table.column("q").to_pylist() == [1.0, 2.0]


def test_string_numbers_are_parsed(tmp_path):
    (tmp_path / "s.jsonl.gz").write_bytes(
        gzip.compress(b'{"id": 1, "q": " 1.5"}\n{"id": 2, "q": "-2e3"}\n{"id": 3, "q": "nan"}\n')
    )
    table = import_scores(str(tmp_path / "s.jsonl.gz"))
    assert table.column("id").to_pylist() == [1, 2, 3]
    values = table.column("q").to_pylist()
    assert values[:2] == [1.5, -2000.0] and values[2] != values[2]


def test_csv_with_selected_columns(tmp_path):
    (tmp_path / "s.csv").write_text("id,a,b\nx,1,2\ny,3,4\n")
    table = import_scores(str(tmp_path / "s.csv"), score_columns=["b"])
    assert table.column_names == ["id", "b"] and table.column("b").to_pylist() == [2.0, 4.0]


def test_unparsable_strings_name_column_and_ids(tmp_path):
    ids = [f"d{i}" for i in range(30)]
    values = ["1.0"] * 30
    for i in range(5, 25):
        values[i] = "n/a" if i % 2 else "high"
    pq.write_table(pa.table({"id": ids, "q": values}), tmp_path / "s.parquet")
    with pytest.raises(ScoreError, match=r"unparsable \[column 'q'\].*20 value") as info:
        import_scores(str(tmp_path / "s.parquet"))
    assert info.value.column == "q"
    assert info.value.ids == [f"d{i}" for i in range(5, 15)]


def test_missing_id_column(tmp_path):
    pq.write_table(pa.table({"doc": ["a"], "q": [1.0]}), tmp_path / "s.parquet")
    with pytest.raises(ScoreError, match=r"missing_id_column \[column 'id'\].*'doc', 'q'"):
        import_scores(str(tmp_path / "s.parquet"))


def test_missing_score_column(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "q": [1.0]}), tmp_path / "s.parquet")
    with pytest.raises(ScoreError, match=r"missing_column \[column 'z'\]"):
        import_scores(str(tmp_path / "s.parquet"), score_columns=["z"])


def test_wrong_score_type(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "q": [True]}), tmp_path / "s.parquet")
    with pytest.raises(ScoreError, match=r"wrong_type \[column 'q'\].*bool"):
        import_scores(str(tmp_path / "s.parquet"))


def test_wrong_id_type(tmp_path):
    pq.write_table(pa.table({"id": [1.5], "q": [1.0]}), tmp_path / "s.parquet")
    with pytest.raises(ScoreError, match=r"wrong_type \[column 'id'\].*double"):
        import_scores(str(tmp_path / "s.parquet"))


def test_null_ids_are_reported(tmp_path):
    pq.write_table(pa.table({"id": ["a", None], "q": [1.0, 2.0]}), tmp_path / "s.parquet")
    with pytest.raises(ScoreError, match=r"null_ids.*rows \[1\]"):
        import_scores(str(tmp_path / "s.parquet"))


def test_corrupt_parquet_names_file(tmp_path):
    (tmp_path / "s.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ScoreError, match=r"unreadable.*s\.parquet"):
        import_scores(str(tmp_path / "s.parquet"))
