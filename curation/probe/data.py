"""Turn an ordering's parquet shards into training batches, strictly in order.

The shards are read one after another, record batch by record batch, so memory stays
bounded by one record batch plus one training batch. Documents become one byte stream
(``text`` encoded as UTF-8, each followed by a separator byte). Training batch ``s`` is
the ``batch_size * context + 1`` consecutive bytes starting at ``starts[s]``: row ``r``
holds bytes ``[r*T, r*T + T + 1)`` of that block, so neighbouring rows share one byte
and every next-byte transition inside the block is trained on exactly once.

When the token budget is smaller than the stream, the block starts are spread evenly
over the *whole* stream instead of taking its head: a budget cut would otherwise show
a sorted ordering only its low-score beginning, and the comparison would be dishonest.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation import storage

SEPARATOR = 0x00
READ_ROWS = 1024


class ProbeDataError(ValueError):
    """Shards or evaluation sets that cannot feed a probe."""


def _open(uri: str) -> pq.ParquetFile:
    loc = storage.resolve(uri)
    return pq.ParquetFile(loc.fs.open_input_file(loc.path))


def check_shards(shards: list[str], need_score: bool = False) -> bool:
    """Fail fast, naming up to 10 bad files; return whether every shard has ``score``."""
    if not shards:
        raise ProbeDataError("no shards given")
    missing, unreadable, has_score = [], [], True
    for uri in shards:
        try:
            names = _open(uri).schema_arrow.names
        except (OSError, pa.ArrowInvalid) as exc:
            unreadable.append(f"{uri} ({exc.__class__.__name__}: {exc})")
            continue
        if "text" not in names:
            missing.append(uri)
        has_score = has_score and "score" in names
    if unreadable:
        raise ProbeDataError(f"{len(unreadable)} unreadable shard(s): {unreadable[:10]}")
    if missing:
        raise ProbeDataError(f"{len(missing)} shard(s) without a 'text' column: {missing[:10]}")
    if need_score and not has_score:
        raise ProbeDataError("a 'score' column is required but some shard lacks it")
    return has_score


def iter_record_batches(shards: list[str], columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Record batches of every shard, in the given shard order, then in row order."""
    for uri in shards:
        pf = _open(uri)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        yield from pf.iter_batches(batch_size=READ_ROWS, columns=cols)


def _text_column(batch: pa.RecordBatch) -> pa.Array:
    text = batch.column("text")
    if text.null_count:
        rows = np.flatnonzero(text.is_null().to_numpy(zero_copy_only=False))[:10]
        ids = (
            batch.column("id").take(pa.array(rows)).to_pylist()
            if "id" in batch.schema.names
            else rows.tolist()
        )
        raise ProbeDataError(f"{text.null_count} null text value(s), ids/rows: {ids}")
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
        raise ProbeDataError(f"'text' must be a string column, got {text.type}")
    return text


def batch_bytes(batch: pa.RecordBatch, separator: int = SEPARATOR) -> np.ndarray:
    """The UTF-8 bytes of a record batch's documents, each followed by ``separator``."""
    text = _text_column(batch).cast(pa.large_string())
    if len(text) == 0:
        return np.empty(0, dtype=np.uint8)
    sep = bytes([separator]).decode("latin-1") if separator < 0x80 else None
    if sep is None:
        raise ProbeDataError(f"separator byte must be ASCII (< 0x80), got {separator:#x}")
    one = pa.LargeListArray.from_arrays(pa.array([0, len(text)], pa.int64()), text)
    joined = pc.binary_join(one, pa.scalar(sep, pa.large_string()))[0].as_buffer()
    out = np.empty(joined.size + 1, dtype=np.uint8)
    out[:-1] = np.frombuffer(joined, dtype=np.uint8)
    out[-1] = separator
    return out


def doc_lengths(batch: pa.RecordBatch) -> np.ndarray:
    """Bytes each document occupies in the stream (its text plus the separator)."""
    return pc.binary_length(_text_column(batch)).to_numpy().astype(np.int64) + 1


def stream_size(shards: list[str]) -> int:
    """Total bytes of the document stream, read from the text column only."""
    total = 0
    for batch in iter_record_batches(shards, ["id", "text"]):  # ids name null texts
        total += int(doc_lengths(batch).sum())
    return total


@dataclass(frozen=True)
class BatchPlan:
    """Where each training step reads: ``starts[s]`` is the stream offset of step ``s``."""

    batch_size: int
    context: int
    stream_bytes: int
    starts: np.ndarray

    @property
    def block(self) -> int:
        return self.batch_size * self.context + 1

    @property
    def steps(self) -> int:
        return int(self.starts.size)

    @property
    def tokens(self) -> int:
        return self.steps * self.batch_size * self.context

    def step_of_offset(self, offsets: np.ndarray) -> np.ndarray:
        """The step whose block holds (or, between blocks, next follows) each stream offset."""
        idx = np.searchsorted(self.starts, np.asarray(offsets, dtype=np.int64), side="right") - 1
        return np.clip(idx, 0, max(self.steps - 1, 0))


def plan_batches(
    stream_bytes: int, batch_size: int, context: int, token_budget: int | None = None
) -> BatchPlan:
    """Consecutive blocks when the budget covers the stream, evenly spread ones otherwise."""
    per_step = batch_size * context
    full = (stream_bytes - 1) // per_step if stream_bytes > 0 else 0
    if full < 1:
        raise ProbeDataError(
            f"stream of {stream_bytes} bytes is shorter than one batch ({per_step + 1} bytes)"
        )
    steps = full if token_budget is None else min(full, max(1, int(token_budget) // per_step))
    if steps == full:
        starts = np.arange(steps, dtype=np.int64) * per_step
    else:
        last = stream_bytes - (per_step + 1)
        starts = np.floor(np.linspace(0, last, steps)).astype(np.int64)
    return BatchPlan(batch_size, context, stream_bytes, starts)


class ByteStream:
    """Forward-only reader of the document stream with a bounded buffer."""

    def __init__(self, shards: list[str], separator: int = SEPARATOR) -> None:
        self._batches = iter_record_batches(shards, ["text"])
        self._sep = separator
        self._buf = np.empty(0, dtype=np.uint8)
        self._buf_start = 0

    def read(self, start: int, n: int) -> np.ndarray:
        """Bytes ``[start, start + n)``; ``start`` must never go backwards."""
        if start < self._buf_start:
            raise ProbeDataError(f"ByteStream is forward-only: {start} < {self._buf_start}")
        drop = min(start - self._buf_start, self._buf.size)
        self._buf, self._buf_start = self._buf[drop:], self._buf_start + drop
        chunks = [self._buf]
        have = self._buf.size
        while self._buf_start + have < start + n:
            nxt = next(self._batches, None)
            if nxt is None:
                raise ProbeDataError(f"stream ended before byte {start + n}")
            piece = batch_bytes(nxt, self._sep)
            if have == 0 and self._buf_start + piece.size <= start:
                self._buf_start += piece.size  # wholly inside a gap: never buffered
                continue
            chunks.append(piece)
            have += piece.size
        if len(chunks) > 1:
            self._buf = np.concatenate(chunks)
        skip = start - self._buf_start
        if skip > 0:  # the gap between spread-out blocks
            self._buf, self._buf_start = self._buf[skip:], start
        return self._buf[:n]


def iter_blocks(
    shards: list[str], plan: BatchPlan, separator: int = SEPARATOR
) -> Iterator[np.ndarray]:
    """One uint8 block of ``plan.block`` bytes per training step, in step order."""
    stream = ByteStream(shards, separator)
    for start in plan.starts.tolist():
        yield stream.read(start, plan.block)


def block_to_xy(block: np.ndarray, batch_size: int, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-byte targets (both ``(batch_size, context)``) from one block."""
    n = batch_size * context
    return block[:n].reshape(batch_size, context), block[1 : n + 1].reshape(batch_size, context)


def step_scores(shards: list[str], plan: BatchPlan) -> np.ndarray | None:
    """Byte-weighted mean ``score`` of the text each step trains on (None without scores).

    Uses the running integral of score over stream bytes, so it is exact and vectorised.
    """
    if not check_shards(shards):
        return None
    lengths, scores = [], []
    for batch in iter_record_batches(shards, ["text", "score"]):
        lengths.append(doc_lengths(batch))
        scores.append(batch.column("score").to_numpy(zero_copy_only=False).astype(np.float64))
    ln, sc = np.concatenate(lengths), np.concatenate(scores)
    if not np.isfinite(sc).all():
        bad = np.flatnonzero(~np.isfinite(sc))[:10].tolist()
        raise ProbeDataError(f"non-finite score at stream rows {bad}")
    edges = np.concatenate([[0], np.cumsum(ln)]).astype(np.float64)
    integral = np.concatenate([[0.0], np.cumsum(ln * sc)])
    lo = plan.starts.astype(np.float64)
    hi = lo + plan.batch_size * plan.context
    return (np.interp(hi, edges, integral) - np.interp(lo, edges, integral)) / (hi - lo)


def read_eval_bytes(uris: list[str], max_bytes: int, separator: int = SEPARATOR) -> np.ndarray:
    """The head (at most ``max_bytes``) of an evaluation set's byte stream."""
    check_shards(uris)
    parts, have = [], 0
    for batch in iter_record_batches(uris, ["text"]):
        piece = batch_bytes(batch, separator)
        parts.append(piece[: max_bytes - have])
        have += parts[-1].size
        if have >= max_bytes:
            break
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint8)


def eval_windows(data: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping next-byte windows (stride ``context``) covering an eval stream."""
    rows = (data.size - 1) // context
    if rows < 1:
        raise ProbeDataError(f"evaluation set of {data.size} bytes is shorter than one window")
    n = rows * context
    return data[:n].reshape(rows, context), data[1 : n + 1].reshape(rows, context)
