"""The staged copy's address: a sha256 over the conversion's rules and every source file's
relative name, size and sha256 (streamed through :mod:`curation.storage.hashing`).

Hashing a large corpus on every run would cost a full read, so a small per-corpus cache
keeps each file's sha256 beside the size and modification time it had when hashed: a file
whose size and mtime are unchanged keeps its recorded hash (a cache of the hash, never a
substitute for it: the key is always made of sha256s, and a file that changed is hashed).
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from curation.corpus.jsonl import CHUNK_BYTES
from curation.corpus.listing import CorpusSources
from curation.storage import Location, exists
from curation.storage.hashing import sha256_of, text_digest
from curation.storage.workdir import read_marker

#: Bump when the staged bytes of the same input change (parsing rules, writer options).
CONVERSION = 2


def _hash_cache(root: Location, uri: str) -> Location:
    return root.join("_hashes", f"{text_digest(uri)}.json")


def source_hashes(
    sources: CorpusSources, root: Location, workers: int
) -> list[tuple[str, int, str]]:
    """``(relative name, size, sha256)`` of every source file, in order. A file whose size
    and modification time equal the cached ones keeps its cached sha256; the others are
    hashed (side by side) and the cache is rewritten."""
    cache_loc = _hash_cache(root, sources.uri)
    cached = {}
    if exists(cache_loc):
        found = read_marker(cache_loc)
        cached = found if isinstance(found, dict) else {}
    infos = sources.files[0].fs.get_file_info([f.path for f in sources.files])
    names = sources.names()
    stamps = [(info.size, info.mtime_ns or 0) for info in infos]

    def one(i: int) -> tuple[str, int, str]:
        hit = cached.get(names[i])
        if isinstance(hit, list) and len(hit) == 3 and tuple(hit[:2]) == stamps[i]:
            return names[i], stamps[i][0], hit[2]
        digest, size = sha256_of(sources.files[i])
        return names[i], size, digest

    with ThreadPoolExecutor(max(1, workers)) as pool:  # hashlib releases the GIL
        hashes = list(pool.map(one, range(len(names))))
    fresh = {n: [s[0], s[1], h[2]] for n, s, h in zip(names, stamps, hashes, strict=True)}
    if fresh != cached:
        from curation.storage import write_json_atomic

        write_json_atomic(cache_loc, fresh)
    return hashes


def content_key(fmt: str, hashes: list[tuple[str, int, str]], make_ids: str | None = None) -> str:
    """The staged copy's address: conversion rules and pyarrow's version, then every file."""
    text = json.dumps([CONVERSION, pa.__version__, CHUNK_BYTES, fmt, make_ids, hashes])
    return text_digest(text, 32)
