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


def row_digests(ids: pa.Array, texts: pa.Array) -> np.ndarray:
    """One uint64 per row over the UTF-8 bytes of ``id`` and ``text`` (a content fingerprint
    to compare rows that should be the same document; not cryptographic). Vectorised:
    per-byte weights ``P^k`` and one ``np.add.reduceat`` per column, no per-row loop."""
    out = np.zeros(len(ids), dtype=np.uint64)
    for salt, column in enumerate((ids, texts), start=1):
        strings = pc.cast(column, pa.large_string()).fill_null("\x00null")
        offsets = np.frombuffer(strings.buffers()[1], np.int64)[
            strings.offset : strings.offset + len(strings) + 1
        ]
        data = strings.buffers()[2]
        raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        raw = raw[offsets[0] : offsets[-1]].astype(np.uint64)
        starts = offsets[:-1] - offsets[0]
        lengths = np.diff(offsets)
        within = np.arange(len(raw), dtype=np.int64) - np.repeat(starts, lengths)
        with np.errstate(over="ignore"):
            weighted = (raw + np.uint64(salt)) * np.power(_PRIME, within.astype(np.uint64))
            sums = np.zeros(len(ids), dtype=np.uint64)
            nonempty = lengths > 0
            if raw.size:
                sums[nonempty] = np.add.reduceat(weighted, starts[nonempty])
            out = _mix(out * _PRIME + sums + lengths.astype(np.uint64) * np.uint64(salt))
    return out


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
