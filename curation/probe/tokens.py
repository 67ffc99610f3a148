"""The probe's view of a tokenizer (``curation.tokens.tokenizer``): one Arrow string array in, one
flat token array out with the end-of-document token after every document, plus the number
of tokens each document took, so the caller places documents without per-document objects.

``"bytes"`` (the CPU presets) keeps any text trainable and no vocabulary can favour one
recipe; the gpu preset names a local BPE file.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curation.tokens.tokenizer import Tokenizer, load_tokenizer


@dataclass(frozen=True)
class DocTokens:
    """Encoder of whole documents, each followed by the tokenizer's end-of-document id."""

    tokenizer: Tokenizer

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.vocab_size)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.tokenizer.dtype)

    def encode(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Flat tokens (EOT after each document) and per-document token counts: the
        tokenizer's own packed-stream encoding, counted per document."""
        tokens, offsets = self.tokenizer.encode_documents(text)
        return tokens.astype(self.dtype, copy=False), np.diff(offsets).astype(np.int64)


def load(spec: str) -> DocTokens:
    """The probe encoder for a tokenizer spec (``"bytes"``, ``"hf:..."``, ``"tiktoken:..."``)."""
    return DocTokens(load_tokenizer(spec))
