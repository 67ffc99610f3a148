"""Packed sequences of a token export, in chunks: the rows the MDS and HF exports write.

Sequence i is tokens ``[i*L, (i+1)*L)`` of the stream, the same cut as
:class:`curation.reader.PackedDataset`; ``tail="pad"`` keeps a last partial sequence padded
with EOT and returns a loss mask (1 real token, 0 padding) with every chunk.
"""

from collections.abc import Iterator

import numpy as np

from curation.reader.export.tokens import TokenStore

_CHUNK_TOKENS = 1 << 24


def num_sequences(store: TokenStore, seq_len: int, tail: str) -> int:
    if tail not in ("drop", "pad"):
        raise ValueError(f"tail must be 'drop' or 'pad', got {tail!r}")
    full, rest = divmod(store.num_tokens, seq_len)
    return full + (tail == "pad" and rest > 0)


def sequence_chunks(
    store: TokenStore, seq_len: int, tail: str = "drop"
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """([k, seq_len] tokens in the export's dtype, [k, seq_len] uint8 mask or None) chunks."""
    total = num_sequences(store, seq_len, tail)
    per = max(1, _CHUNK_TOKENS // seq_len)
    eot = store.tokenizer["eot_id"]
    for first in range(0, total, per):
        last = min(first + per, total)
        lo, hi = first * seq_len, min(last * seq_len, store.num_tokens)
        tokens = np.full((last - first) * seq_len, eot, dtype=store.dtype)
        tokens[: hi - lo] = store.read(lo, hi)
        mask = None
        if tail == "pad":
            mask = (np.arange(lo, last * seq_len) < store.num_tokens).astype(np.uint8)
            mask = mask.reshape(-1, seq_len)
        yield tokens.reshape(-1, seq_len), mask
