"""Readability as difficulty: negated Flesch reading ease (higher = harder to read).

The default engine computes Flesch's formula with vectorised pyarrow regex counts
(syllables = vowel groups minus a silent final e, at least one per word). textstat's own
``flesch_reading_ease`` (engine="textstat", one call per document) needs NLTK's cmudict,
which it tries to download on first use -- impossible on machines without internet.
"""

import numpy as np
import pyarrow.compute as pc

from curation.scores.text import TextBatch, as_text_array

WORD = r"[a-z]+(?:'[a-z]+)?"
SENTENCE_END = r"[.!?]+(?:\s|$)"
VOWEL_GROUP = r"[aeiouy]+"
SILENT_E = r"[aeiouy][b-df-hj-km-np-tv-xz]e\b"


def _count(texts, pattern: str) -> np.ndarray:
    return (
        pc.count_substring_regex(texts, pattern).to_numpy(zero_copy_only=False).astype(np.float64)
    )


def flesch_reading_ease(texts: TextBatch) -> np.ndarray:
    """206.835 - 1.015 words/sentence - 84.6 syllables/word, for each document."""
    lower = pc.utf8_lower(as_text_array(texts))
    words = _count(lower, WORD)
    sentences = np.maximum(_count(lower, SENTENCE_END), 1.0)
    syllables = np.maximum(_count(lower, VOWEL_GROUP) - _count(lower, SILENT_E), words)
    words = np.maximum(words, 1.0)
    return 206.835 - 1.015 * (words / sentences) - 84.6 * (syllables / words)


class ReadabilityScorer:
    name = "readability"

    def __init__(self, engine: str = "pyarrow"):
        if engine not in ("pyarrow", "textstat"):
            raise ValueError(f"engine must be 'pyarrow' or 'textstat', got {engine!r}")
        self.engine = engine

    def fit(self, texts: TextBatch) -> None:
        """Nothing to learn."""

    def score(self, texts: TextBatch) -> np.ndarray:
        if self.engine == "textstat":
            import textstat

            docs = as_text_array(texts).to_pylist()
            return -np.array([textstat.flesch_reading_ease(d) for d in docs], np.float64)
        return -flesch_reading_ease(texts)
