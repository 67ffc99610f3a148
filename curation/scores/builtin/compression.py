"""zlib compression ratio (compressed / raw bytes): higher = less redundant text.

Plain zlib punishes short documents (no history to match against), which makes the ratio
mostly a length proxy. Compressing each document after a fixed reference text (a zlib preset
dictionary) gives every document the same history and cuts that confounding; bench/scores.py
measures the correlation with length both ways.
"""

import zlib
from functools import lru_cache

import numpy as np

from curation.scores.text import TextBatch, utf8_buffers

MAX_DICTIONARY = 32 * 1024  # zlib's window: a longer preset dictionary is ignored
RAW_DEFLATE = -15  # no zlib header/checksum: their fixed 6-10 bytes would inflate short docs


@lru_cache(maxsize=1)
def default_reference() -> bytes:
    """The most frequent English words (wordfreq), a corpus-independent, fixed reference."""
    from wordfreq import top_n_list

    return " ".join(top_n_list("en", 6000)).encode()[:MAX_DICTIONARY]


class CompressionScorer:
    name = "compression"

    def __init__(
        self, level: int = 6, reference: bytes | str | None = None, use_reference: bool = True
    ):
        self.level = level
        if isinstance(reference, str):
            reference = reference.encode()
        self.reference = (
            (reference or default_reference())[-MAX_DICTIONARY:] if use_reference else b""
        )

    def fit(self, texts: TextBatch) -> None:
        """The reference is fixed on purpose: scores must not depend on the corpus sample."""

    def _template(self):
        if self.reference:
            return zlib.compressobj(
                self.level, zlib.DEFLATED, RAW_DEFLATE, 9, zlib.Z_DEFAULT_STRATEGY, self.reference
            )
        return zlib.compressobj(self.level, zlib.DEFLATED, RAW_DEFLATE)

    def score(self, texts: TextBatch) -> np.ndarray:
        offsets, data = utf8_buffers(texts)
        view = memoryview(data)
        template = self._template()
        sizes = np.empty(offsets.size - 1, np.float64)
        bounds = zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        for i, (start, end) in enumerate(bounds):  # one zlib call per document, by nature
            compressor = template.copy()
            sizes[i] = len(compressor.compress(view[start:end])) + len(compressor.flush())
        lengths = np.diff(offsets).astype(np.float64)
        return np.divide(sizes, lengths, out=np.ones_like(sizes), where=lengths > 0)
