"""A quiet console: no Beta/Preview notices from our own definitions, every command in
``--help``."""

import warnings

import pyarrow.parquet as pq
import pytest
from dagster import BetaWarning, PreviewWarning

from assets.location import build_definitions
from curation.cli.main import main
from tests.factories import make_corpus, make_project, write_scores


def test_our_definitions_raise_no_beta_or_preview_notices(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=20)
    ids = pq.read_table(corpus, columns=["id"]).column("id").to_pylist()
    scores = write_scores(tmp_path / "scores.parquet", ids, [float(i) for i in range(20)])
    project = make_project(tmp_path / "root", corpus, scores)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        defs = build_definitions(project)
        defs.get_repository_def()
    noisy = [w for w in caught if issubclass(w.category, (BetaWarning, PreviewWarning))]
    assert noisy == [], [str(w.message)[:80] for w in noisy]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "order", "score", "datasets", "work"):
        assert f"    {command} " in out, out
