"""The command line: order a score file, score a corpus, and one-line errors."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.cli.main import main
from curation.ordering.engine import order


def test_order_writes_position_id_table_equal_to_the_engine(tmp_path, capsys):
    scores = np.random.default_rng(3).random(500)
    ids = [f"d{i}" for i in range(500)]
    pq.write_table(pa.table({"id": ids, "q": scores}), tmp_path / "s.parquet")
    out = tmp_path / "o.parquet"
    rc = main(
        [
            "order",
            "--scores",
            str(tmp_path / "s.parquet"),
            "--score-column",
            "q",
            "--method",
            "saw",
            "--param",
            "folding_layer=3",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    table = pq.read_table(out)
    expected = order(scores, "saw", folding_layer=3)
    assert table.column("row").to_pylist() == expected.tolist()
    assert table.column("id").to_pylist() == [ids[i] for i in expected]
    assert table.column("position").to_pylist() == list(range(500))
    assert "cliffs" in capsys.readouterr().out


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    pq.write_table(pa.table({"id": ["a", "b"], "q": [1.0, float("nan")]}), tmp_path / "s.parquet")
    cases = [
        ["--scores", str(tmp_path / "missing.parquet"), "--score-column", "q"],
        ["--scores", str(tmp_path / "s.parquet"), "--score-column", "q"],
        ["--scores", str(tmp_path / "s.parquet"), "--score-column", "nope"],
    ]
    for args in cases:
        rc = main(["order", *args, "--method", "str", "--out", str(tmp_path / "o.parquet")])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    rc = main(
        [
            "order",
            "--scores",
            str(tmp_path / "s.parquet"),
            "--score-column",
            "q",
            "--method",
            "str",
            "--param",
            "folding_layer=0",
            "--out",
            str(tmp_path / "o.parquet"),
        ]
    )
    assert rc == 2 and "folding_layer must be >= 1" in capsys.readouterr().err


def test_score_command(tmp_path, capsys):
    texts = ["The cat sat on the mat. " * 5, "Quantum chromodynamics describes gluons. " * 3]
    pq.write_table(pa.table({"id": ["a", "b"], "text": texts}), tmp_path / "c.parquet")
    rc = main(
        [
            "score",
            "--corpus",
            str(tmp_path / "c.parquet"),
            "--scorers",
            "length,compression",
            "--out",
            str(tmp_path / "s.parquet"),
        ]
    )
    assert rc == 0
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.column_names == ["id", "length", "compression"]
