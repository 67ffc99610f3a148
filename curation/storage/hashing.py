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
    With the batch's bytes at global offsets ``j``, ``P**j`` and its running sum are data-free
    tables (kept between batches, grown as needed); one running sum of ``byte * P**j`` then
    gives every row's sum times ``P**start``, and ``P`` is odd, so the kept table of
    ``P**-j`` (mod 2**64) takes that factor out. All arithmetic wraps mod 2**64, as the
    definition does. The work arrays are reused because a fresh 64 MB array per batch
    costs more in page faults than the arithmetic on it.
    """

    def __init__(self) -> None:
        empty = np.zeros(0, dtype=np.uint64)
        self._powers, self._power_sums, self._inverse, self._work = empty, empty, empty, empty

    #: rows hashed at a time: the tables hold 32 bytes per byte of a chunk, so hashing a
    #: whole shard's ids at once held ~470 MB per 10^6 ids; a chunk keeps them to a few MB
    CHUNK_ROWS = 1 << 15

    def __call__(self, ids: pa.Array, texts: pa.Array) -> np.ndarray:
        """One fingerprint per row (identical however the rows are chunked)."""
        if len(ids) <= self.CHUNK_ROWS:
            return self._hash(ids, texts)
        out = np.empty(len(ids), dtype=np.uint64)
        for start in range(0, len(ids), self.CHUNK_ROWS):
            stop = min(start + self.CHUNK_ROWS, len(ids))
            out[start:stop] = self._hash(
                ids.slice(start, stop - start), texts.slice(start, stop - start)
            )
        return out

    def _hash(self, ids: pa.Array, texts: pa.Array) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.uint64)
        for salt, column in enumerate((ids, texts), start=1):
            offsets, raw = _utf8_buffers(column)
            lengths = np.diff(offsets).astype(np.uint64)
            sums = self._row_sums(raw, offsets, salt)
            with np.errstate(over="ignore"):
                out = _mix(out * _PRIME + sums + lengths * np.uint64(salt))
        return out

    def _grow(self, size: int) -> None:
        if size <= self._powers.size:
            return
        size = max(size, 2 * self._powers.size)
        with np.errstate(over="ignore"):
            self._powers = _running_product(_PRIME, size)  # P**j
            self._power_sums = np.cumsum(self._powers)  # sum of P**k, k <= j
            self._inverse = _running_product(_PRIME_INVERSE, size)  # P**-j
        self._work = np.empty(size, dtype=np.uint64)

    def _row_sums(self, raw: np.ndarray, offsets: np.ndarray, salt: int) -> np.ndarray:
        """``sum((raw[j] + salt) * P**(j - start))`` over each row's bytes, mod 2**64."""
        n = raw.size
        if n == 0:
            return np.zeros(len(offsets) - 1, dtype=np.uint64)
        self._grow(n + 1)  # an empty last row starts at n
        work = self._work[:n]
        with np.errstate(over="ignore"):
            np.multiply(self._powers[:n], raw, out=work)
            np.cumsum(work, out=work)  # running sum of byte * P**j through byte j
            data = _span_sums(work, offsets)
            weights = _span_sums(self._power_sums[:n], offsets)
            return (data + np.uint64(salt) * weights) * self._inverse[offsets[:-1]]


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
