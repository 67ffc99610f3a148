"""Streaming sha256: the one way the library hashes files (bounded memory, any size)."""

import hashlib
import posixpath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.storage import Location

CHUNK = 8 << 20


def sha256_of(loc: Location) -> tuple[str, int]:
    """(hex digest, size in bytes) of a file, streamed in chunks."""
    with loc.fs.open_input_stream(loc.path) as f:
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
    with src.fs.open_input_stream(src.path) as fin, dst.fs.open_output_stream(dst.path) as fout:
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


def row_digests(ids: pa.Array, texts: pa.Array) -> np.ndarray:
    """One uint64 per row over the UTF-8 bytes of ``id`` and ``text`` (a content fingerprint
    to compare rows that should be the same document; not cryptographic).

    Per column, a row's sum is ``sum((byte + salt) * P**k)`` over its bytes ``k = 0..len-1``.
    Vectorised without a per-row loop or a per-byte ``power``: one running product gives
    ``P**j`` for the batch's global byte offsets, one running sum of the weighted bytes
    gives every row's sum times ``P**start``, and ``P`` is odd, so ``P**-start`` (mod 2**64)
    takes that factor out. All arithmetic wraps mod 2**64, as the definition does.
    """
    out = np.zeros(len(ids), dtype=np.uint64)
    for salt, column in enumerate((ids, texts), start=1):
        offsets, raw = _utf8_buffers(column)
        lengths = np.diff(offsets).astype(np.uint64)
        out = _mix(out * _PRIME + _row_sums(raw, offsets, salt) + lengths * np.uint64(salt))
    return out


def _utf8_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row offsets from 0, bytes) of a string column as large_string (null -> a marker)."""
    strings = pc.cast(column, pa.large_string()).fill_null("\x00null")
    offsets = np.frombuffer(strings.buffers()[1], np.int64)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    data = strings.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets - offsets[0], raw[offsets[0] : offsets[-1]]


def _row_sums(raw: np.ndarray, offsets: np.ndarray, salt: int) -> np.ndarray:
    """``sum((raw[j] + salt) * P**(j - start))`` over each row's bytes, mod 2**64."""
    if raw.size == 0:
        return np.zeros(len(offsets) - 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        weights = np.full(raw.size, _PRIME, dtype=np.uint64)
        weights[0] = 1
        np.cumprod(weights, out=weights)  # P**j
        np.multiply(weights, raw + np.uint64(salt), out=weights)
        np.cumsum(weights, out=weights)  # running sum through byte j
        ends, starts = offsets[1:] - 1, offsets[:-1] - 1  # last byte of a row, of the row before
        before = np.where(starts >= 0, weights[np.maximum(starts, 0)], np.uint64(0))
        sums = np.where(ends > starts, weights[np.maximum(ends, 0)] - before, np.uint64(0))
        return sums * _power(_PRIME_INVERSE, offsets[:-1])


def _power(base: np.uint64, exponents: np.ndarray) -> np.ndarray:
    """``base ** e`` mod 2**64 for each exponent, by squaring (64 steps, vectorised)."""
    result = np.ones(len(exponents), dtype=np.uint64)
    square = np.full(len(exponents), base, dtype=np.uint64)
    e = exponents.astype(np.uint64)
    with np.errstate(over="ignore"):
        while e.any():
            odd = (e & np.uint64(1)).astype(bool)
            result[odd] *= square[odd]
            square *= square
            e >>= np.uint64(1)
    return result


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
