"""Streaming sha256: the one way the library hashes files (bounded memory, any size)."""

import hashlib
import posixpath

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
