"""Token blocks of a published version, tokenized in DataLoader workers, in order.

Worker w of W reads and tokenizes blocks ``k % W == w`` of a plan (one parquet row group
each); the DataLoader's in-order round robin hands them back as blocks 0, 1, 2, ... Items are
token arrays plus the positions of the end-of-document tokens, never Python strings.
"""

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from curation.reader.rows import RowSource
from curation.tokens.tokenizer import Tokenizer


class TextBlocks:
    """Blocks of a published version's text column (one parquet row group each), tokenized."""

    def __init__(self, version_uri: str, manifest: dict, column: str, tokenizer: Tokenizer):
        self.version_uri, self.manifest, self.column = version_uri, manifest, column
        self.tokenizer = tokenizer
        self.total_tokens = None  # unknown until everything is tokenized
        self._rows = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_rows": None}

    def plan(self, row: int, skip: int) -> np.ndarray:
        """[lo, hi, skip] row ranges from the anchor: row groups, the first one cut at ``row``."""
        starts = RowSource(self.version_uri, self.manifest, [self.column]).group_starts
        starts = starts[np.searchsorted(starts, row, side="right") :]
        lo = np.concatenate([[row], starts[:-1]])[: len(starts)]
        plan = np.stack([lo, starts, np.zeros_like(lo)], axis=1).astype(np.int64)
        if len(plan):
            plan[0, 2] = skip
        return plan[plan[:, 1] > plan[:, 0]]

    def read(self, lo: int, hi: int, skip: int) -> tuple[np.ndarray, np.ndarray]:
        """(tokens with an EOT after every document, positions of the EOTs), minus ``skip``."""
        if self._rows is None:
            self._rows = RowSource(self.version_uri, self.manifest, [self.column])
        texts = self._rows.read(lo, hi).column(self.column)
        tokens, offsets = self.tokenizer.encode_documents(texts)
        return tokens[skip:], offsets[1:] - 1 - skip


class _Blocks(IterableDataset):
    """What DataLoader workers run: worker w reads blocks ``k % W == w`` of the plan."""

    def __init__(self, source, plan: np.ndarray):
        self.source, self.plan = source, plan

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for lo, hi, skip in self.plan[worker::workers].tolist():
            tokens, ends = self.source.read(lo, hi, skip)
            yield {"tokens": tokens, "ends": ends}


def _numpy(x) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else x


def token_blocks(
    source, plan: np.ndarray, num_workers: int = 0, kwargs: dict | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(tokens, EOT positions) of each planned block, in plan order."""
    kwargs = dict(kwargs or {})
    blocks = _Blocks(source, plan)
    if num_workers:
        kwargs.setdefault("in_order", True)
        if not kwargs["in_order"]:
            raise ValueError("in_order=False would break the published order")
        blocks = DataLoader(blocks, batch_size=None, num_workers=num_workers, **kwargs)
    for item in blocks:
        yield _numpy(item["tokens"]), _numpy(item["ends"])
