"""A shard set compared with its ordering and corpus one batch at a time.

The ordering table (``id``, ``row`` per position) is read alongside the shards in position
order, so what the comparison holds is one batch of each plus two arrays over the corpus
rows: their content fingerprints (8 bytes a row, shared by every recipe) and a byte per
row marking the rows already seen. Nothing grows with the ids' length, the number of
shards or the number of recipes: the comparison of a 10^8-row set holds what a 10^5-row
one does, plus those 9 bytes a row.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.corpus.read import iter_batches
from curation.quality.outcome import MAX_OFFENDERS
from curation.refs import OrderingRef, ShardSetRef
from curation.storage import resolve
from curation.storage.hashing import RowHasher

BATCH_ROWS = 1 << 15  # ~8 MB of text per shard batch, a few MB of ordering ids and rows
SUMMARY = ("declared_rows", "actual_rows", "differing_ids", "differing_content", "repeated_ids")


class _Expected:
    """The ordering's ``(id, row)`` in position order, handed out in any slice sizes."""

    def __init__(self, ordering: OrderingRef) -> None:
        loc = resolve(ordering.uri)
        self._handle = loc.fs.open_input_file(loc.path)
        file = pq.ParquetFile(self._handle, pre_buffer=False)
        self._schema = pa.schema([file.schema_arrow.field(name) for name in ("id", "row")])
        self._batches = file.iter_batches(batch_size=BATCH_ROWS, columns=["id", "row"])
        self._pending: list[pa.RecordBatch] = []
        self._held = 0
        self.consumed = 0

    def take(self, count: int) -> pa.Table:
        """The next ``count`` positions (fewer when the ordering ends first)."""
        while self._held < count:
            batch = next(self._batches, None)
            if batch is None:
                break
            self._pending.append(batch)
            self._held += batch.num_rows
        table = pa.Table.from_batches(self._pending, schema=self._schema)
        head, rest = table.slice(0, count), table.slice(count)
        self._pending = rest.to_batches()
        self._held = rest.num_rows
        self.consumed += head.num_rows
        return head

    def remaining(self) -> int:
        """Positions the shards never reached (read to the end to count them)."""
        left = self._held
        for batch in self._batches:
            left += batch.num_rows
        self._pending, self._held = [], 0
        self._handle.close()
        return left


@dataclass
class Comparison:
    """Per shard (:data:`SUMMARY`), the rows past either end, and the first offenders."""

    summary: dict[str, np.ndarray]
    missing_rows: int = 0
    extra_rows: int = 0
    offenders: list[dict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        counts_match = np.array_equal(self.summary["actual_rows"], self.summary["declared_rows"])
        differing = any(self.summary[k].any() for k in SUMMARY[2:])
        return counts_match and not differing and not (self.missing_rows or self.extra_rows)


def _shard_batches(path: str, id_column: str, text_column: str) -> Iterator[pa.RecordBatch]:
    yield from iter_batches(path, columns=[id_column, text_column], batch_size=BATCH_ROWS)


def compare_shards(
    shards: ShardSetRef,
    ordering: OrderingRef,
    corpus_digests: np.ndarray,
    id_column: str,
    text_column: str,
) -> Comparison:
    """Each shard row against the position it sits at: its id against the ordering's id
    there, its id+text fingerprint against the corpus row the ordering reads there, and
    that corpus row against every row seen before (a repeat)."""
    k_shards = len(shards.shards)
    result = Comparison({k: np.zeros(k_shards, np.int64) for k in SUMMARY})
    result.summary["declared_rows"][:] = [s.rows for s in shards.shards]
    expected, hasher = _Expected(ordering), RowHasher()
    seen = np.zeros(corpus_digests.size, dtype=bool)
    for k, shard in enumerate(shards.shards):
        for batch in _shard_batches(shard.path, id_column, text_column):
            position = expected.consumed
            want = expected.take(batch.num_rows)
            result.summary["actual_rows"][k] += batch.num_rows
            if want.num_rows < batch.num_rows:
                result.extra_rows += batch.num_rows - want.num_rows
                batch = batch.slice(0, want.num_rows)
            if batch.num_rows:
                _compare_batch(result, k, position, batch, want, hasher, corpus_digests, seen)
    result.missing_rows = expected.remaining()
    return result


def _compare_batch(
    result: Comparison,
    shard: int,
    position: int,
    batch: pa.RecordBatch,
    want: pa.Table,
    hasher: RowHasher,
    corpus_digests: np.ndarray,
    seen: np.ndarray,
) -> None:
    """One batch of a shard against the same positions of the ordering."""
    ids, texts = batch.column(0), batch.column(1)
    want_ids = want.column("id").combine_chunks()
    rows = want.column("row").to_numpy()
    same_id = pc.fill_null(pc.equal(ids, want_ids), False).to_numpy(zero_copy_only=False)
    inside = (rows >= 0) & (rows < corpus_digests.size)
    expected_digest = np.zeros(rows.size, dtype=np.uint64)
    expected_digest[inside] = corpus_digests[rows[inside]]
    same_content = inside & (hasher(ids, texts) == expected_digest)
    repeat = np.zeros(rows.size, dtype=bool)
    repeat[inside] = seen[rows[inside]]
    _, first = np.unique(rows, return_index=True)
    within = np.ones(rows.size, dtype=bool)
    within[first] = False  # a row the ordering names twice in this very batch
    repeat |= within
    seen[rows[inside]] = True
    summary = result.summary
    summary["differing_ids"][shard] += int(np.count_nonzero(~same_id))
    summary["differing_content"][shard] += int(np.count_nonzero(~same_content))
    summary["repeated_ids"][shard] += int(np.count_nonzero(repeat))
    bad = np.flatnonzero(~same_id | ~same_content | repeat)
    room = MAX_OFFENDERS - len(result.offenders)
    for i in bad[:room].tolist():
        result.offenders.append(
            {
                "position": position + i,
                "shard": shard,
                "expected_id": want_ids[i].as_py(),
                "actual_id": ids[i].as_py(),
            }
        )
