"""Byte-level character n-gram language model: perplexity per byte (higher = more surprising).

Counts live in two hashed tables (n-grams and their (n-1)-byte contexts); probabilities use
add-k smoothing over the 256 byte values. Training and scoring run on the concatenated UTF-8
bytes of a whole batch with numpy: n-gram codes are built by shifting the byte array, and
n-grams that would straddle two documents are masked out. Fit it on a reference split of the
corpus (score_corpus does), and keep in mind that documents in that split score a little lower.
"""

import numpy as np

from curation.scores.text import TextBatch, utf8_buffers

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
OTHER = np.uint64(0xC2B2AE3D27D4EB4F)
CHUNK_BYTES = 4 << 20


class NgramScorer:
    name = "ngram"
    needs_fit = True

    def __init__(self, order: int = 4, k: float = 0.1, bits: int = 22):
        if not 2 <= order <= 8:
            raise ValueError(f"order must be between 2 and 8, got {order}")
        self.order, self.k, self.bits = order, float(k), bits
        self._ngrams = np.zeros(1 << bits, np.int64)
        self._contexts = np.zeros(1 << bits, np.int64)
        self._log_ngram: np.ndarray | None = None
        self._log_context: np.ndarray | None = None

    def _hash(self, codes: np.ndarray, salt: np.uint64) -> np.ndarray:
        return ((codes * salt) >> np.uint64(64 - self.bits)).astype(np.int64)

    def _codes(self, offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n-gram codes, document index of each) for n-grams inside one document."""
        n, count = self.order, data.size - self.order + 1
        if count <= 0:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        codes = np.zeros(count, np.uint64)
        for j in range(n):  # n shifts of the whole buffer, not a loop over documents
            codes = (codes << np.uint64(8)) | data[j : j + count].astype(np.uint64)
        doc = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        inside = doc[:count] == doc[n - 1 :]
        return codes[inside], doc[:count][inside]

    def _chunks(self, texts: TextBatch):
        """Split a batch into runs of documents of about CHUNK_BYTES to bound memory."""
        offsets, data = utf8_buffers(texts)
        cuts = np.searchsorted(offsets, np.arange(0, offsets[-1], CHUNK_BYTES), side="right")
        bounds = np.unique(np.concatenate([[0], np.clip(cuts - 1, 0, None), [offsets.size - 1]]))
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            yield a, offsets[a : b + 1] - offsets[a], data[offsets[a] : offsets[b]]

    def fit(self, texts: TextBatch) -> None:
        """Add the reference texts' n-gram and context counts to the tables."""
        size = 1 << self.bits
        for _, offsets, data in self._chunks(texts):
            codes, _ = self._codes(offsets, data)
            self._ngrams += np.bincount(self._hash(codes, GOLDEN), minlength=size)
            self._contexts += np.bincount(self._hash(codes >> np.uint64(8), OTHER), minlength=size)
        self._log_ngram = np.log(self._ngrams + self.k)
        self._log_context = np.log(self._contexts + self.k * 256)

    def score(self, texts: TextBatch) -> np.ndarray:
        if self._log_ngram is None:
            raise ValueError("NgramScorer.score called before fit(reference_texts)")
        parts = []
        for _, offsets, data in self._chunks(texts):
            ndocs = offsets.size - 1
            codes, doc = self._codes(offsets, data)
            logp = (
                self._log_ngram[self._hash(codes, GOLDEN)]
                - self._log_context[self._hash(codes >> np.uint64(8), OTHER)]
            )
            total = np.bincount(doc, weights=-logp, minlength=ndocs)
            count = np.bincount(doc, minlength=ndocs)
            mean = np.divide(total, count, out=np.full(ndocs, np.log(256.0)), where=count > 0)
            parts.append(np.exp(mean))
        return np.concatenate(parts) if parts else np.zeros(0)
