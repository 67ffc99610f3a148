"""Streaming sha256: the one way the library hashes files (bounded memory, any size)."""

import hashlib
import posixpath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.storage import Location

CHUNK = 8 << 20


def sha256_of(loc: Location) -> tuple[str, int]:
    """(hex digest, size in bytes) of a file's bytes as stored, streamed in chunks (pyarrow
    would decompress ``.gz``/``.zst`` files by their suffix unless told not to)."""
    with loc.fs.open_input_stream(loc.path, compression=None) as f:
        return sha256_stream(f)


def sha256_stream(stream) -> tuple[str, int]:
    """(hex digest, bytes read) of an open binary stream, read to its end."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def copy_hashing(src: Location, dst: Location) -> tuple[str, int]:
    """Stream-copy src to dst; (digest, size) of what was copied, so a caller can tell
    whether the source changed since it was first hashed."""
    digest = hashlib.sha256()
    size = 0
    if not dst.is_s3:
        dst.fs.create_dir(posixpath.dirname(dst.path), recursive=True)
    with (
        src.fs.open_input_stream(src.path, compression=None) as fin,
        dst.fs.open_output_stream(dst.path, compression=None) as fout,
    ):
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def text_digest(text: str, length: int = 16) -> str:
    """Short sha256 of a string (content addresses built from canonical JSON)."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


_PRIME = np.uint64(0x100000001B3)
_PRIME_INVERSE = np.uint64(pow(0x100000001B3, -1, 1 << 64))


def row_digests(ids: pa.Array, texts: pa.Array, hasher: "RowHasher | None" = None) -> np.ndarray:
    """One uint64 per row over the UTF-8 bytes of ``id`` and ``text`` (a content fingerprint
    to compare rows that should be the same document; not cryptographic). Pass one
    ``RowHasher`` for many batches: it keeps its work arrays."""
    return (hasher or RowHasher())(ids, texts)


class RowHasher:
    """Row fingerprints, vectorised, with no per-row loop and no per-byte ``power``.

    Per column, a row's sum is ``sum((byte + salt) * P**k)`` over its bytes ``k = 0..len-1``.
    The bytes are taken a window of :attr:`WINDOW` bytes at a time. Within a window at
    local offsets ``j``, ``P**j`` and its running sum are data-free tables (kept between
    calls); one running sum of ``byte * P**j`` gives every piece's sum times ``P**start``,
    and ``P`` is odd, so the kept table of ``P**-j`` (mod 2**64) takes that factor out. A
    row cut by a window edge is the sum of its pieces, each times ``P`` to the piece's
    offset in the row. All arithmetic wraps mod 2**64, as the definition does.

    The tables hold 32 bytes per byte of a window, so the window bounds them (8 MiB at the
    default) whatever the batch, the row count or the longest document; sized to a batch,
    they held ~470 MB per 10^6 ids and 32x any document's length.
    """

    #: bytes hashed per step; the work tables are 32x this
    WINDOW = 1 << 18

    def __init__(self) -> None:
        with np.errstate(over="ignore"):
            self._powers = _running_product(_PRIME, self.WINDOW + 1)  # P**j
            self._power_sums = np.cumsum(self._powers)  # sum of P**k, k <= j
            self._inverse = _running_product(_PRIME_INVERSE, self.WINDOW + 1)  # P**-j
        self._work = np.empty(self.WINDOW, dtype=np.uint64)

    def __call__(self, ids: pa.Array, texts: pa.Array) -> np.ndarray:
        """One fingerprint per row (identical however the rows are batched)."""
        out = np.zeros(len(ids), dtype=np.uint64)
        for salt, column in enumerate((ids, texts), start=1):
            offsets, raw = _utf8_buffers(column)
            lengths = np.diff(offsets).astype(np.uint64)
            sums = self._row_sums(raw, offsets, salt)
            with np.errstate(over="ignore"):
                out = _mix(out * _PRIME + sums + lengths * np.uint64(salt))
        return out

    def column(self, values: pa.Array) -> np.ndarray:
        """One 64-bit key per row of a single string column (ids), by the same rule."""
        offsets, raw = _utf8_buffers(values)
        lengths = np.diff(offsets).astype(np.uint64)
        with np.errstate(over="ignore"):
            return _mix(self._row_sums(raw, offsets, 1) + lengths)

    def _row_sums(self, raw: np.ndarray, offsets: np.ndarray, salt: int) -> np.ndarray:
        """``sum((raw[j] + salt) * P**(j - start))`` over each row's bytes, mod 2**64."""
        rows = len(offsets) - 1
        out = np.zeros(rows, dtype=np.uint64)
        if raw.size == 0:
            return out
        # pieces: the rows' bytes cut at every window edge (empty rows hold none)
        edges = np.arange(0, raw.size, self.WINDOW, dtype=np.int64)
        cuts = np.union1d(offsets, edges)
        starts, ends = cuts[:-1], cuts[1:]
        sums = np.empty(starts.size, dtype=np.uint64)
        for first in range(0, raw.size, self.WINDOW):
            lo, hi = np.searchsorted(starts, [first, first + self.WINDOW])
            local = np.append(starts[lo:hi], ends[hi - 1]) - first if hi > lo else None
            if local is not None:
                sums[lo:hi] = self._window_sums(raw[first : first + self.WINDOW], local, salt)
        owner = np.searchsorted(offsets, starts, side="right") - 1  # the row a piece is in
        inside = starts - offsets[owner]  # the piece's offset in its row
        cut = np.flatnonzero(inside)
        with np.errstate(over="ignore"):
            sums[cut] *= _powers_of(_PRIME, inside[cut])
        firsts = np.flatnonzero(np.diff(owner, prepend=-1))
        out[owner[firsts]] = np.add.reduceat(sums, firsts)
        return out

    def _window_sums(self, raw: np.ndarray, local: np.ndarray, salt: int) -> np.ndarray:
        """Each piece's sum within one window (``local``: piece edges from the window's start)."""
        n = raw.size
        work = self._work[:n]
        with np.errstate(over="ignore"):
            np.multiply(self._powers[:n], raw, out=work)
            np.cumsum(work, out=work)  # running sum of byte * P**j through byte j
            data = _span_sums(work, local)
            weights = _span_sums(self._power_sums[:n], local)
            return (data + np.uint64(salt) * weights) * self._inverse[local[:-1]]


def _powers_of(base: np.uint64, exponents: np.ndarray) -> np.ndarray:
    """``base ** e`` mod 2**64 for each e (square and multiply, 64 steps at most)."""
    result = np.ones(exponents.size, dtype=np.uint64)
    e = exponents.astype(np.uint64)
    b = np.uint64(base)
    with np.errstate(over="ignore"):
        while e.any():
            odd = (e & np.uint64(1)).astype(bool)
            result[odd] *= b
            b = b * b
            e >>= np.uint64(1)
    return result


def _running_product(base: np.uint64, size: int) -> np.ndarray:
    """``base ** j`` for j < size, mod 2**64."""
    values = np.full(size, base, dtype=np.uint64)
    values[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(values, out=values)


def _span_sums(running: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum over each row's span ``[offsets[i], offsets[i+1])`` from a running sum."""
    ends, starts = offsets[1:] - 1, offsets[:-1] - 1  # last byte of a row, of the row before
    with np.errstate(over="ignore"):
        before = np.where(starts >= 0, running[np.maximum(starts, 0)], np.uint64(0))
        return np.where(ends > starts, running[np.maximum(ends, 0)] - before, np.uint64(0))


def _utf8_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row offsets from 0, bytes) of a string column as large_string (null -> a marker)."""
    strings = pc.cast(column, pa.large_string()).fill_null("\x00null")
    offsets = np.frombuffer(strings.buffers()[1], np.int64)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    data = strings.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets - offsets[0], raw[offsets[0] : offsets[-1]]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
