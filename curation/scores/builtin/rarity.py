"""Word rarity: mean over a document's words of (8 - Zipf frequency) from wordfreq.

Tokenising, lower-casing and the vocabulary lookup are vectorised with pyarrow (split,
flatten, ``index_in`` against wordfreq's English table); words wordfreq does not know get
Zipf 0, the rarest. A document without words scores 0.
"""

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.scores.text import TextBatch, as_text_array

MAX_ZIPF = 8.0
SEPARATORS = r"[^\p{L}\p{M}']+"


@lru_cache(maxsize=4)
def zipf_table(lang: str) -> tuple[pa.Array, np.ndarray]:
    """wordfreq's vocabulary and Zipf values (one extra last slot, 0, for unknown words)."""
    from wordfreq import get_frequency_dict

    freqs = get_frequency_dict(lang, wordlist="best")
    vocab = pa.array(list(freqs.keys()), pa.large_string())
    values = np.fromiter(freqs.values(), np.float64, count=len(freqs))
    return vocab, np.append(np.log10(values * 1e9), 0.0)


class RarityScorer:
    name = "rarity"

    def __init__(self, lang: str = "en"):
        self.lang = lang
        self._vocab: pa.Array | None = None
        self._zipf: np.ndarray | None = None

    def _load(self) -> None:
        self._vocab, self._zipf = zipf_table(self.lang)

    def fit(self, texts: TextBatch) -> None:
        """Frequencies come from wordfreq, not from the corpus."""

    def score(self, texts: TextBatch) -> np.ndarray:
        if self._vocab is None:
            self._load()
        array = as_text_array(texts)
        lists = pc.split_pattern_regex(pc.utf8_lower(array), SEPARATORS)
        words = pc.utf8_trim(pc.list_flatten(lists), "'")
        parents = pc.list_parent_indices(lists).to_numpy()
        keep = pc.greater(pc.binary_length(words), 0)
        words, parents = words.filter(keep), parents[keep.to_numpy(zero_copy_only=False)]
        index = pc.index_in(words, value_set=self._vocab).fill_null(len(self._zipf) - 1)
        rarity = MAX_ZIPF - self._zipf[index.to_numpy()]
        total = np.bincount(parents, weights=rarity, minlength=len(array))
        count = np.bincount(parents, minlength=len(array))
        return np.divide(total, count, out=np.zeros(len(array)), where=count > 0)
