"""Held-out documents that no recipe trains on, chosen by a hash of their id.

The split is a predicate, not a list: a document is held out when its id hash falls
under a cut (``heldout_random``), or under a cut among the lowest / highest 10% of
scores (``heldout_low`` / ``heldout_high``). The cuts are fixed once from the corpus;
after that any record batch of any recipe's shards is tested in numpy, so the same
documents are excluded from every ordering without a set of ids in memory.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SETS = ("heldout_random", "heldout_low", "heldout_high")
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_PRIME = np.uint64(0x100000001B3)
_SALT = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads every input bit over the output (wraps mod 2^64)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
    return x


#: ids hashed per chunk, bounding the temporaries (~8 x their bytes) at any corpus size
CHUNK = 1 << 18


def id_hash(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A uint64 hash per id (int64 or string ids), vectorised: a polynomial hash over each
    string's UTF-8 bytes via ``np.add.reduceat``, then splitmix64; chunked for memory."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if len(ids) > CHUNK:
        return np.concatenate([id_hash(ids.slice(i, CHUNK)) for i in range(0, len(ids), CHUNK)])
    if pa.types.is_integer(ids.type):
        return _splitmix(ids.to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64))
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise TypeError(f"ids must be integer or string, got {ids.type}")
    ids = ids.cast(pa.large_string())
    lengths = pc.binary_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
    data = _utf8(ids)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(data.size, dtype=np.int64) - np.repeat(starts, lengths)
    longest = max(int(lengths.max(initial=0)), 1)
    powers = np.ones(longest, dtype=np.uint64)
    powers[1:] = np.cumprod(np.full(longest - 1, _PRIME, dtype=np.uint64))  # wraps mod 2^64
    with np.errstate(over="ignore"):
        terms = (data.astype(np.uint64) + np.uint64(1)) * powers[pos]
    out = np.zeros(lengths.size, dtype=np.uint64)
    nonempty = lengths > 0
    if data.size:
        sums = np.add.reduceat(terms, starts[nonempty])
        out[nonempty] = sums
    return _splitmix(out ^ lengths.astype(np.uint64) ^ _SALT)


def _utf8(ids: pa.Array) -> np.ndarray:
    """The concatenated UTF-8 bytes of a large_string array (offsets respected)."""
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    raw = ids.buffers()[2]
    data = np.frombuffer(raw, dtype=np.uint8) if raw is not None else np.empty(0, np.uint8)
    return data[offsets[0] : offsets[-1]]


@dataclass(frozen=True)
class HeldOut:
    """The held-out predicate: score thresholds of the low/high pools and hash cuts."""

    low_score: float
    high_score: float
    random_cut: int
    low_cut: int
    high_cut: int

    @classmethod
    def from_corpus(
        cls, ids: pa.Array, scores: np.ndarray, fraction: float, extreme: float, min_docs: int = 2
    ) -> "HeldOut":
        """Cuts so that ``fraction`` of the corpus is random held-out and ``extreme`` of it
        comes from each of the lowest and highest score deciles (at least ``min_docs``)."""
        scores = np.asarray(scores, dtype=np.float64)
        if len(ids) != scores.size:
            raise ValueError(f"{len(ids)} ids but {scores.size} scores")
        if scores.size < 3 * min_docs:
            raise ValueError(f"corpus of {scores.size} documents is too small to hold out")
        h = id_hash(ids)
        lo, hi = np.quantile(scores, [0.1, 0.9])
        n = scores.size

        def cut(pool: np.ndarray, k: int) -> int:
            k = min(max(min_docs, k), pool.size)
            return int(np.partition(pool, k - 1)[k - 1])

        return cls(
            low_score=float(lo),
            high_score=float(hi),
            random_cut=cut(h, round(fraction * n)),
            low_cut=cut(h[scores <= lo], round(extreme * n)),
            high_cut=cut(h[scores >= hi], round(extreme * n)),
        )

    def sets(self, ids: pa.Array, scores: np.ndarray) -> dict[str, np.ndarray]:
        """Boolean masks of each held-out set over these documents."""
        h = id_hash(ids)
        s = np.asarray(scores, dtype=np.float64)
        return {
            "heldout_random": h <= np.uint64(self.random_cut),
            "heldout_low": (s <= self.low_score) & (h <= np.uint64(self.low_cut)),
            "heldout_high": (s >= self.high_score) & (h <= np.uint64(self.high_cut)),
        }

    def mask(self, ids: pa.Array, scores: np.ndarray) -> np.ndarray:
        """True where a document belongs to any held-out set (excluded from training)."""
        sets = self.sets(ids, scores)
        return sets["heldout_random"] | sets["heldout_low"] | sets["heldout_high"]

    def to_dict(self) -> dict:
        return dict(self.__dict__)
