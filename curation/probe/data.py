"""A recipe's shards as one token stream on local disk, read strictly in order.

:func:`build_stream` reads the shards record batch by record batch, drops held-out
documents (a vectorised predicate), tokenizes the rest and appends the tokens to a flat
file, with two per-document arrays beside it: the cumulative token end of each shard
document (held-out ones take no tokens) and the running integral of score over tokens.
Memory stays at one record batch; training then reads blocks through a memory map, so a
method's whole text is never in memory and a retried run reuses the file.

Training step ``s`` reads the ``rows * context + 1`` consecutive tokens from
``starts[s]``: row ``r`` holds tokens ``[r*T, r*T + T + 1)`` of the block. When the token
budget is smaller than the stream the block starts are spread evenly over the *whole*
stream: a budget cut would otherwise show a sorted ordering only its low-score beginning.
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation import storage
from curation.probe.heldout import SETS, HeldOut
from curation.probe.tokens import DocTokens
from curation.shards.columns import SCORE

READ_ROWS = 1024
META = "stream.json"  # written last: its presence means the stream is complete


class ProbeDataError(ValueError):
    """Shards or evaluation sets that cannot feed a probe."""


def _open(uri: str) -> pq.ParquetFile:
    loc = storage.resolve(uri)
    return pq.ParquetFile(loc.fs.open_input_file(loc.path), pre_buffer=False)


def check_shards(shards: list[str], need: tuple[str, ...] = ("text",)) -> None:
    """Fail fast, naming up to 10 unreadable shards or shards lacking a needed column."""
    if not shards:
        raise ProbeDataError("no shards given")
    bad = []
    for uri in shards:
        try:
            names = _open(uri).schema_arrow.names
        except (OSError, pa.ArrowInvalid) as exc:
            bad.append(f"{uri} (unreadable: {exc.__class__.__name__}: {exc})")
            continue
        missing = [c for c in need if c not in names]
        if missing:
            bad.append(f"{uri} (lacks column(s) {missing})")
    if bad:
        raise ProbeDataError(f"{len(bad)} shard(s) cannot feed a probe: {bad[:10]}")


def iter_record_batches(uris: list[str], columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Record batches of every file, in the given file order, then in row order."""
    for uri in uris:
        pf = _open(uri)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        yield from pf.iter_batches(batch_size=READ_ROWS, columns=cols)


def text_column(batch: pa.RecordBatch) -> pa.Array:
    """The batch's text, refusing nulls (naming their ids) and non-string types."""
    text = batch.column("text")
    if text.null_count:
        rows = np.flatnonzero(text.is_null().to_numpy(zero_copy_only=False))[:10]
        names = batch.schema.names
        ids = batch.column("id").take(pa.array(rows)).to_pylist() if "id" in names else rows
        raise ProbeDataError(f"{text.null_count} null text value(s), ids/rows: {list(ids)}")
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        raise ProbeDataError(f"'text' must be a string column, got {text.type}")
    return text


@dataclass(frozen=True)
class TokenStream:
    """The files of one built stream; arrays open as read-only memory maps."""

    path: str
    tokens: int
    docs: int
    dtype: str
    has_scores: bool
    key: str

    def token_array(self) -> np.ndarray:
        return np.memmap(os.path.join(self.path, "tokens.bin"), self.dtype, "r", shape=self.tokens)

    def doc_ends(self) -> np.ndarray:
        return np.memmap(os.path.join(self.path, "ends.bin"), np.int64, "r", shape=self.docs)

    def score_integral(self) -> np.ndarray:
        return np.memmap(os.path.join(self.path, "integral.bin"), np.float64, "r", shape=self.docs)


def build_stream(
    shards: list[str], tokenizer: DocTokens, heldout: HeldOut | None, dest: str, key: str
) -> TokenStream:
    """Tokenize ``shards`` in order into ``dest`` (a local directory), minus held-out docs.

    Reused when ``dest`` already holds a complete stream built under the same ``key``.
    Files are written under a private name and renamed, the metadata last, so two runs
    building the same stream at once cannot leave a torn one.
    """
    meta_path = os.path.join(dest, META)
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta["key"] == key:
            return TokenStream(**meta)
    check_shards(shards, ("id", "text", SCORE) if heldout is not None else ("text",))
    os.makedirs(dest, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    names = ("tokens.bin", "ends.bin", "integral.bin")
    tmp = {n: os.path.join(dest, f".{n}.{tag}") for n in names}
    dtype = tokenizer.dtype
    total, docs, mass, has_scores = 0, 0, 0.0, True
    with open(tmp[names[0]], "wb") as ft, open(tmp[names[1]], "wb") as fe:
        with open(tmp[names[2]], "wb") as fi:
            for batch in iter_record_batches(shards, ["id", "text", SCORE]):
                text = text_column(batch)
                has_scores = has_scores and SCORE in batch.schema.names
                score = (
                    batch.column(SCORE).to_numpy(zero_copy_only=False).astype(np.float64)
                    if has_scores
                    else np.zeros(batch.num_rows)
                )
                if has_scores and not np.isfinite(score).all():
                    ids = batch.column("id").filter(pa.array(~np.isfinite(score)))[:10]
                    raise ProbeDataError(f"non-finite score for id(s) {ids.to_pylist()}")
                drop = (
                    heldout.mask(batch.column("id"), score)
                    if heldout is not None
                    else np.zeros(batch.num_rows, bool)
                )
                tokens, counts = tokenizer.encode(text.filter(pa.array(~drop)))
                lengths = np.zeros(batch.num_rows, np.int64)
                lengths[~drop] = counts
                tokens.astype(dtype, copy=False).tofile(ft)
                (total + np.cumsum(lengths)).tofile(fe)
                (mass + np.cumsum(lengths * score)).tofile(fi)
                total += int(lengths.sum())
                mass += float((lengths * score).sum())
                docs += batch.num_rows
    for n in names:
        os.replace(tmp[n], os.path.join(dest, n))
    stream = TokenStream(dest, total, docs, dtype.name, has_scores, key)
    with open(meta_path + f".{tag}", "w") as f:
        json.dump(asdict(stream), f)
    os.replace(meta_path + f".{tag}", meta_path)
    return stream


@dataclass(frozen=True)
class BatchPlan:
    """Where each training step reads: ``starts[s]`` is the stream offset of step ``s``."""

    rows: int
    context: int
    stream_tokens: int
    starts: np.ndarray

    @property
    def per_step(self) -> int:
        return self.rows * self.context

    @property
    def block(self) -> int:
        return self.per_step + 1

    @property
    def steps(self) -> int:
        return int(self.starts.size)

    @property
    def tokens(self) -> int:
        return self.steps * self.per_step

    def first_step_at(self, offsets: np.ndarray) -> np.ndarray:
        """The first step that trains on tokens at or after each stream offset
        (``steps`` where none does)."""
        return np.searchsorted(self.starts + self.per_step, np.asarray(offsets), side="right")


def plan_batches(
    stream_tokens: int, rows: int, context: int, token_budget: int | None = None
) -> BatchPlan:
    """Consecutive blocks when the budget covers the stream, evenly spread ones otherwise."""
    per_step = rows * context
    full = (stream_tokens - 1) // per_step if stream_tokens > 0 else 0
    if full < 1:
        raise ProbeDataError(
            f"stream of {stream_tokens} tokens is shorter than one step ({per_step + 1} tokens)"
        )
    steps = full if token_budget is None else min(full, max(1, int(token_budget) // per_step))
    if steps == full:
        starts = np.arange(steps, dtype=np.int64) * per_step
    else:
        starts = np.floor(np.linspace(0, stream_tokens - (per_step + 1), steps)).astype(np.int64)
    return BatchPlan(rows, context, stream_tokens, starts)


def block(tokens: np.ndarray, plan: BatchPlan, step: int) -> np.ndarray:
    """The int64 tokens step ``step`` trains on (a copy out of the memory map)."""
    start = int(plan.starts[step])
    return np.asarray(tokens[start : start + plan.block], dtype=np.int64)


def _integral_at(stream: TokenStream, x: np.ndarray) -> np.ndarray:
    """Integral of score over tokens ``[0, x)``, reading only the documents touched."""
    ends, integral = stream.doc_ends(), stream.score_integral()
    idx = np.minimum(np.searchsorted(ends, x, side="right"), stream.docs - 1)
    prev = idx - 1
    prev_end = np.where(prev >= 0, ends[np.maximum(prev, 0)], 0)
    prev_int = np.where(prev >= 0, integral[np.maximum(prev, 0)], 0.0)
    length = ends[idx] - prev_end
    score = np.where(length > 0, (integral[idx] - prev_int) / np.maximum(length, 1), 0.0)
    return prev_int + np.minimum(x - prev_end, length) * score


def step_scores(stream: TokenStream, plan: BatchPlan) -> np.ndarray | None:
    """Token-weighted mean score of what each step trains on (None without scores)."""
    if not stream.has_scores:
        return None
    lo = plan.starts.astype(np.int64)
    hi = lo + plan.per_step
    return (_integral_at(stream, hi) - _integral_at(stream, lo)) / plan.per_step


def steps_at_positions(stream: TokenStream, plan: BatchPlan, positions: np.ndarray) -> np.ndarray:
    """Distinct steps that first train on each given document position of the ordering
    (positions count every shard document, held-out ones included), in range only."""
    pos = np.asarray(positions, dtype=np.int64)
    if pos.size and (pos.min() < 0 or pos.max() >= stream.docs):
        bad = pos[(pos < 0) | (pos >= stream.docs)][:10].tolist()
        raise ProbeDataError(f"document positions out of range 0..{stream.docs - 1}: {bad}")
    pos = pos[pos > 0]
    offsets = np.asarray(stream.doc_ends()[pos - 1]) if pos.size else pos
    steps = np.unique(plan.first_step_at(offsets))
    return steps[steps < plan.steps]


def collect_eval_tokens(
    batches: Iterator[pa.RecordBatch], heldout: HeldOut, tokenizer: DocTokens, max_tokens: int
) -> dict[str, np.ndarray]:
    """The first ``max_tokens`` tokens of each held-out set, documents in corpus order.

    ``batches`` carry ``id``, ``text`` and ``score``; reading stops once every set is full.
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SETS}
    have = dict.fromkeys(SETS, 0)
    for batch in batches:
        score = batch.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
        masks = heldout.sets(batch.column("id"), score)
        text = text_column(batch)
        for name in SETS:
            if have[name] < max_tokens and masks[name].any():
                tokens, _ = tokenizer.encode(text.filter(pa.array(masks[name])))
                parts[name].append(tokens[: max_tokens - have[name]])
                have[name] += parts[name][-1].size
        if min(have.values()) >= max_tokens:
            break
    dtype = tokenizer.dtype
    return {
        n: np.concatenate(p).astype(dtype) if p else np.empty(0, dtype) for n, p in parts.items()
    }


def eval_windows(tokens: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping next-token windows (stride ``context``) covering an eval set."""
    rows = (tokens.size - 1) // context
    if rows < 1:
        raise ProbeDataError(f"evaluation set of {tokens.size} tokens is shorter than a window")
    n = rows * context
    return tokens[:n].reshape(rows, context), tokens[1 : n + 1].reshape(rows, context)
