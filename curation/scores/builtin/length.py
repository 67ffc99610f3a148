"""Document length in UTF-8 bytes: the simplest difficulty proxy and the confounder to check."""

import numpy as np

from curation.scores.text import TextBatch, utf8_buffers


class LengthScorer:
    name = "length"

    def fit(self, texts: TextBatch) -> None:
        """Nothing to learn."""

    def score(self, texts: TextBatch) -> np.ndarray:
        offsets, _ = utf8_buffers(texts)
        return np.diff(offsets).astype(np.float64)
