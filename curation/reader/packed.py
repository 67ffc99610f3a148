"""Packed token sequences in published order, dealt to ranks by index.

One global token stream: the documents in published order, each followed by the
tokenizer's end-of-document (EOT) token, cut into ``seq_len`` sequences. With a global batch
of ``B = world_size * batch_size`` sequences, step s gives rank r the sequences
``[s*B + r*b, s*B + (r+1)*b)``. Every rank sees the same stream, so every rank runs the same
number of steps (packing each rank's own documents would not: a DDP deadlock).

Tokenization runs in DataLoader workers (:meth:`PackedDataset.loader`): worker w tokenizes
blocks ``k % W == w`` (a parquet row group, or a range of a token export), the DataLoader's
in-order round robin hands them back in order, and the main process cuts sequences. Workers
send token arrays, never Python strings. On a token export (``curation.reader.export.tokens``) no
tokenization happens at all and ``len()`` is known up front.
"""

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from curation.reader.blocks import TextBlocks, token_blocks
from curation.reader.export import tokens as token_export
from curation.reader.rows import checked_columns, job_rank, open_job_version
from curation.tokens.tokenizer import Tokenizer, load_tokenizer

_EXPORT_BLOCK_TOKENS = 1 << 20  # tokens per block read from a token export


class ExportBlocks:
    """Blocks of a token export: token ranges read straight from its shards."""

    def __init__(self, store: "token_export.TokenStore"):
        self.store = store
        self.total_tokens = store.num_tokens

    def plan(self, row: int, skip: int) -> np.ndarray:
        start = int(self.store.doc_offsets[row]) + skip
        lo = np.arange(start, self.total_tokens, _EXPORT_BLOCK_TOKENS, dtype=np.int64)
        hi = np.minimum(lo + _EXPORT_BLOCK_TOKENS, self.total_tokens)
        return np.stack([lo, hi, np.zeros_like(lo)], axis=1)

    def read(self, lo: int, hi: int, skip: int) -> tuple[np.ndarray, np.ndarray]:
        return self.store.read(lo, hi), self.store.ends_within(lo, hi)


class PackedDataset(IterableDataset):
    """Fixed-length token sequences of a published version (or of its token export).

    ``uri``: a published dataset (``<root>/<dataset>``, or a version directory) or a token
    export directory. ``tokenizer``: a spec for :func:`curation.tokens.tokenizer.load_tokenizer`
    (default ``"bytes"``; an export uses its own, and refuses a different one).
    ``tail="drop"`` drops the last partial global batch; ``"pad"`` keeps it, padded with
    EOT, and every batch carries ``loss_mask`` (True real, False padding).
    ``positions=True`` adds ``position_ids`` that restart at 0 after every EOT and at every
    sequence start. Items: dicts of int64 tensors ``[batch_size, seq_len]``.
    """

    def __init__(
        self,
        uri: str,
        version: str = "latest",
        *,
        seq_len: int,
        tokenizer: "str | Tokenizer | None" = None,
        rank: int | None = None,
        world_size: int | None = None,
        batch_size: int = 1,
        tail: str = "drop",
        positions: bool = False,
        column: str = "text",
    ):
        rank, world_size = job_rank(rank, world_size)
        if seq_len < 1 or batch_size < 1:
            raise ValueError(f"seq_len and batch_size must be >= 1, got {seq_len}, {batch_size}")
        if tail not in ("drop", "pad"):
            raise ValueError(f"tail must be 'drop' or 'pad', got {tail!r}")
        self.seq_len, self.rank, self.world_size = seq_len, rank, world_size
        self.batch_size, self.tail, self.positions = batch_size, tail, positions
        if token_export.is_export(uri):
            store = token_export.TokenStore(uri)
            self._check_tokenizer(store, tokenizer)
            self.tokenizer = load_tokenizer(store.tokenizer_spec)
            self.dataset, self.version = store.source["dataset"], store.source["version"]
            self.source = ExportBlocks(store)
        else:
            pv = open_job_version(uri, version, world_size)
            checked_columns(pv.manifest, [column])
            self.tokenizer = load_tokenizer(tokenizer or "bytes")
            self.dataset, self.version = pv.dataset, pv.version
            self.source = TextBlocks(pv.uri, pv.manifest, column, self.tokenizer)
        self.epoch, self._sequences, self._anchor = 0, 0, (0, 0)

    @staticmethod
    def _check_tokenizer(store, tokenizer) -> None:
        if tokenizer is not None and load_tokenizer(tokenizer).fingerprint != store.fingerprint:
            raise ValueError(
                f"{store.uri} was tokenized with {store.tokenizer['spec']!r}, not {tokenizer!r}"
            )

    # -------------------------------------------------------------- plan

    @property
    def global_batch_size(self) -> int:
        return self.world_size * self.batch_size

    def num_steps(self) -> int:
        """Steps left from the resume point (equal on every rank); needs a token export, since
        the stream's length is unknown before the text is tokenized."""
        total = self.source.total_tokens
        if total is None:
            raise TypeError(
                "the number of steps needs a token export (curation.reader.export.tokens)"
            )
        left, per = total - self._sequences * self.seq_len, self.global_batch_size * self.seq_len
        return left // per if self.tail == "drop" else -(-left // per)

    def __len__(self) -> int:
        return self.num_steps()

    # -------------------------------------------------------------- iteration

    def __iter__(self) -> Iterator[dict]:
        if get_worker_info() is not None:
            raise RuntimeError(
                "PackedDataset cuts one global stream in the main process: use "
                "ds.loader(num_workers=W) instead of DataLoader(ds, num_workers=W)"
            )
        return self._iterate(0, {})

    def loader(self, num_workers: int = 0, **kwargs) -> "PackedLoader":
        """Tokenize in ``num_workers`` DataLoader workers, pack in this process, count steps."""
        return PackedLoader(self, num_workers, kwargs)

    def _iterate(self, num_workers: int, kwargs: dict) -> Iterator[dict]:
        """Blocks in, steps out: each block's full steps are cut, dealt and counted in one
        vectorised pass (the per-step work is a view and a dict), the rest carried over."""
        need = self.global_batch_size * self.seq_len
        buf, eots = np.empty(0, np.int64), np.empty(0, np.int64)  # tokens; EOT positions
        plan = self.source.plan(*self._anchor)
        for tokens, block_ends in token_blocks(self.source, plan, num_workers, kwargs):
            eots = np.concatenate([eots, block_ends + len(buf)])
            buf = np.concatenate([buf, tokens])  # widened to int64 here, in one pass
            full = len(buf) // need * need
            if full:
                cut = int(np.searchsorted(eots, full))
                yield from self._steps_of(buf[:full], eots[:cut], full)
                buf, eots = buf[full:], eots[cut:] - full
        rest = len(buf)
        if self.tail == "pad" and rest:
            pad = np.full(need, self.tokenizer.eot_id, dtype=np.int64)
            pad[:rest] = buf
            yield from self._steps_of(pad, eots, rest)
        self.end_epoch()  # reached only when the pass ran to its end

    def _steps_of(self, chunk: np.ndarray, eots: np.ndarray, real: int) -> Iterator[dict]:
        """This rank's batches of the global steps in ``chunk`` (a whole number of steps, of
        which the first ``real`` tokens are data and the rest padding), with the resume
        anchor after each step computed for all of them at once."""
        b, seq, need = self.batch_size, self.seq_len, self.global_batch_size * self.seq_len
        steps = len(chunk) // need
        lo, hi = self.rank * b * seq, (self.rank + 1) * b * seq

        def mine(values: np.ndarray) -> torch.Tensor:  # [steps, b, seq] views of our part
            return torch.from_numpy(values.reshape(steps, need)[:, lo:hi].reshape(steps, b, seq))

        columns = {"input_ids": mine(chunk)}
        if self.tail == "pad":
            real_mask = np.ones(len(chunk), dtype=bool)
            real_mask[real:] = False
            columns["loss_mask"] = mine(real_mask)
        if self.positions:
            ends = np.zeros(len(chunk), dtype=bool)
            ends[eots] = True
            columns["position_ids"] = mine(_positions(ends, seq))
        anchors, sequences = self._anchors(eots, steps, real)
        names, per_step = list(columns), zip(*(t.unbind(0) for t in columns.values()), strict=True)
        for tensors, anchor, consumed in zip(per_step, anchors, sequences, strict=True):
            self._anchor, self._sequences = anchor, consumed
            yield dict(zip(names, tensors, strict=True))

    def _anchors(self, eots: np.ndarray, steps: int, real: int) -> tuple[list, list[int]]:
        """Resume anchor (document, tokens into it) and sequences consumed after each step."""
        row, skip = self._anchor
        need = self.global_batch_size * self.seq_len
        ends = np.minimum(np.arange(1, steps + 1, dtype=np.int64) * need, real)
        done = np.searchsorted(eots, ends)  # EOTs before each step's end
        last = eots[np.maximum(done - 1, 0)] if len(eots) else np.zeros(steps, np.int64)
        skips = np.where(done > 0, ends - last - 1, skip + ends)
        counts = -(-np.diff(ends, prepend=0) // self.seq_len)
        sequences = (self._sequences + np.cumsum(counts)).tolist()
        return list(zip((row + done).tolist(), skips.tolist(), strict=True)), sequences

    def end_epoch(self) -> None:
        """The stream is used up: the next pass starts at its first token."""
        self.epoch, self._sequences, self._anchor = self.epoch + 1, 0, (0, 0)

    # -------------------------------------------------------------- resume

    def state_dict(self) -> dict:
        """Epoch, global sequences consumed, and the document/token where they end (so a
        resume needs no re-tokenizing); independent of ranks, workers and batch size."""
        return {
            "dataset": self.dataset,
            "version": self.version,
            "tokenizer": self.tokenizer.fingerprint,
            "seq_len": self.seq_len,
            "epoch": self.epoch,
            "sequences_consumed": self._sequences,
            "document": self._anchor[0],
            "document_tokens": self._anchor[1],
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume exactly after ``sequences_consumed`` sequences of ``epoch``."""
        for key in ("version", "tokenizer", "seq_len"):
            if state.get(key) != self.state_dict()[key]:
                raise ValueError(
                    f"state has {key}={state.get(key)!r}, this reader {self.state_dict()[key]!r}"
                )
        sequences = int(state["sequences_consumed"])
        if isinstance(self.source, ExportBlocks):
            anchor = self.source.store.anchor(sequences * self.seq_len)
        else:
            anchor = (int(state["document"]), int(state["document_tokens"]))
        self.epoch, self._sequences, self._anchor = int(state["epoch"]), sequences, anchor


def _positions(ends: np.ndarray, seq_len: int) -> np.ndarray:
    """Position of each token in its document, restarting after an EOT and per sequence."""
    idx = np.arange(len(ends), dtype=np.int64)
    reset = idx % seq_len == 0
    reset[1:] |= ends[:-1]
    return idx - np.maximum.accumulate(np.where(reset, idx, 0))


class PackedLoader:
    """Iterates a PackedDataset with tokenization in DataLoader workers; keeps its state."""

    def __init__(self, dataset: PackedDataset, num_workers: int, kwargs: dict):
        self.dataset, self.num_workers, self.kwargs = dataset, num_workers, kwargs

    def __iter__(self) -> Iterator[dict]:
        return self.dataset._iterate(self.num_workers, dict(self.kwargs))

    def __len__(self) -> int:
        return len(self.dataset)

    def state_dict(self) -> dict:
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.dataset.load_state_dict(state)
