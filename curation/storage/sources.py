"""Content fingerprints of a source (a file or directory, local or S3), cheap to repeat.

A refresh is keyed by what the sources hold, not by when they changed; a cache of
(size, mtime) per file lets an unchanged file skip re-hashing.
"""

import hashlib

from curation.storage import list_files, resolve
from curation.storage.hashing import sha256_of


def file_sha256(loc) -> str:
    """The file's bytes as stored (a ``.gz`` / ``.zst`` corpus file is not decompressed)."""
    return sha256_of(loc)[0]


def source_fingerprint(
    uri: str, cache: dict | None = None, files: list | None = None
) -> tuple[str, dict]:
    """A short hash over the source's files (``files`` when the caller listed them, e.g. a
    corpus glob), and the refreshed per-file cache."""
    cache = cache or {}
    digest = hashlib.sha256()
    fresh: dict = {}
    for loc in files if files is not None else list_files(resolve(uri)):
        info = loc.fs.get_file_info(loc.path)
        stamp = [info.size, info.mtime_ns]
        cached = cache.get(loc.uri)
        file_digest = cached["sha256"] if cached and cached["stamp"] == stamp else file_sha256(loc)
        fresh[loc.uri] = {"stamp": stamp, "sha256": file_digest}
        digest.update(f"{loc.uri}:{file_digest}\n".encode())
    return digest.hexdigest()[:16], fresh
