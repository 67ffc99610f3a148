import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.corpus.read import CorpusError
from curation.scores.base import SCORERS, Scorer, get_scorer, register_scorer, score_corpus
from curation.scores.builtin import CompressionScorer, NgramScorer

EASY = "The cat sat on the mat. The dog ran to the park. We had fun in the sun."
HARD = (
    "Thermodynamic irreversibility notwithstanding, quasi-equilibrium approximations "
    "substantially underestimate heterogeneous nucleation probabilities."
)
NEWS = (
    "Hundreds of people have been forced to vacate their homes in the Southern Highlands of "
    "New South Wales as strong winds today pushed a huge bushfire towards the town of Hill "
    "Top. A new blaze near Goulburn, south-west of Sydney, has forced the closure of the "
    "Hume Highway. An estimated 500 residents have left their homes for nearby Mittagong."
)
TEXTS = [EASY, HARD, NEWS, "", "é" * 3]


def test_registry_has_the_builtins_and_they_satisfy_the_protocol():
    assert {"length", "compression", "readability", "rarity", "ngram"} <= set(SCORERS)
    for name in SCORERS:
        assert isinstance(get_scorer(name), Scorer)
    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        get_scorer("nope")


@pytest.mark.parametrize("name", ["length", "compression", "readability", "rarity", "ngram"])
def test_scorers_return_one_finite_float_per_text(name):
    scorer = get_scorer(name)
    scorer.fit(TEXTS * 5)
    out = scorer.score(TEXTS)
    assert out.dtype == np.float64 and out.shape == (len(TEXTS),) and np.isfinite(out).all()
    assert np.array_equal(out, scorer.score(pa.array(TEXTS)))  # list and Arrow agree


def test_length_is_utf8_bytes():
    assert get_scorer("length").score(TEXTS).tolist() == [len(t.encode()) for t in TEXTS]


@pytest.mark.parametrize("name", ["readability", "rarity"])
def test_hard_text_scores_higher_than_easy_text(name):
    easy, hard = get_scorer(name).score([EASY, HARD])
    assert hard > easy


def test_compression_ratio_orders_redundancy_and_reference_helps_short_docs():
    scorer = CompressionScorer()
    repetitive, varied = scorer.score(["abc " * 200, NEWS])
    assert repetitive < 0.2 < varied
    plain = CompressionScorer(use_reference=False).score([EASY])[0]
    assert scorer.score([EASY])[0] < plain


def test_ngram_prefers_text_like_its_reference():
    scorer = NgramScorer(order=3)
    scorer.fit([NEWS * 3])
    in_domain, out_domain = scorer.score([NEWS[:200], "zxqv wvvk jjqp xzzy " * 5])
    assert in_domain < out_domain
    with pytest.raises(ValueError, match="before fit"):
        NgramScorer().score([EASY])


def test_ngram_does_not_count_across_documents():
    scorer = NgramScorer(order=3)
    scorer.fit(["ab", "cd"])  # no document is long enough for a trigram
    assert scorer._ngrams.sum() == 0
    scorer.fit(["abcd"])
    assert scorer._ngrams.sum() == 2


def test_score_corpus_aligns_with_corpus_ids(tmp_path):
    texts = [EASY, HARD, NEWS] * 10
    ids = [f"d{i:02d}" for i in range(30)]
    pq.write_table(pa.table({"id": ids, "text": texts}), tmp_path / "c.parquet")
    table = score_corpus(
        str(tmp_path / "c.parquet"), ["length", "ngram"], batch_size=7, progress=False
    )
    assert table.column_names == ["id", "length", "ngram"]
    assert table.column("id").to_pylist() == ids
    assert table.column("length").to_pylist() == [float(len(t.encode())) for t in texts]


def test_custom_scorer_registers_and_runs(tmp_path):
    @register_scorer
    class Exclamations:
        name = "exclamations"

        def fit(self, texts) -> None:
            pass

        def score(self, texts) -> np.ndarray:
            import pyarrow.compute as pc

            return pc.count_substring(pa.array(texts), "!").to_numpy().astype(float)

    try:
        pq.write_table(pa.table({"id": ["a", "b"], "text": ["hi!", "no"]}), tmp_path / "c.parquet")
        table = score_corpus(str(tmp_path / "c.parquet"), ["exclamations"], progress=False)
        assert table.column("exclamations").to_pylist() == [1.0, 0.0]
    finally:
        SCORERS.pop("exclamations")


def test_score_corpus_reports_missing_text_column(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "c.parquet")
    with pytest.raises(CorpusError, match=r"c\.parquet.*'text'"):
        score_corpus(str(tmp_path / "c.parquet"), ["length"], progress=False)
