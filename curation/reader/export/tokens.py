"""Pre-tokenized export: the published order as one token stream, written once.

Layout (``out`` is a local path or ``s3://``; ``tokens.json`` is written last, so a
directory without it is not an export)::

    tokens-00000.bin ...   tokens in published order, EOT after every document, little
                           endian uint16 (vocabularies up to 65,536) or uint32
    doc_offsets.npy        int64 [num_docs + 1]: document d is tokens [o[d], o[d+1])
    tokens.json            source dataset/version, tokenizer spec + fingerprint, dtype,
                           token and document counts, shards with their sha256

The same files serve the Megatron export (:mod:`curation.reader.export.megatron`).
"""

import hashlib
import io
import json

import numpy as np

from curation import storage
from curation.tokens.tokenizer import Tokenizer, load_tokenizer

INDEX = "tokens.json"
FORMAT = "curation-tokens/1"
_SHARD_TOKENS = 1 << 28  # 512 MiB of uint16 per shard


class TokenExportError(ValueError):
    """A directory that is not a complete, consistent token export."""


def is_export(uri: str) -> bool:
    return storage.exists(storage.resolve(uri).join(INDEX))


class _ShardWriter:
    """Appends tokens to numbered shard files, hashing as it goes."""

    def __init__(self, out: storage.Location, dtype: np.dtype, shard_tokens: int):
        self.out, self.dtype, self.shard_tokens = out, dtype, shard_tokens
        self.shards: list[dict] = []
        self._stream, self._hash, self._count = None, None, 0

    def write(self, tokens: np.ndarray) -> None:
        at = 0
        while at < len(tokens):
            if self._stream is None:
                name = f"tokens-{len(self.shards):05d}.bin"
                loc = self.out.join(name)
                self._stream = loc.fs.open_output_stream(loc.path)
                self._hash, self._count = hashlib.sha256(), 0
                self.shards.append({"name": name})
            piece = tokens[at : at + self.shard_tokens - self._count].astype(
                "<" + self.dtype.str[1:]
            )
            data = piece.tobytes()
            self._stream.write(data)
            self._hash.update(data)
            self._count += len(piece)
            at += len(piece)
            if self._count == self.shard_tokens:
                self._close()

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self.shards[-1].update(tokens=self._count, sha256=self._hash.hexdigest())
            self._stream = None

    def finish(self) -> list[dict]:
        self._close()
        return self.shards


def export_tokens(
    uri: str,
    out: str,
    tokenizer: "str | Tokenizer" = "bytes",
    *,
    version: str = "latest",
    column: str = "text",
    num_workers: int = 0,
    shard_tokens: int = _SHARD_TOKENS,
) -> dict:
    """Tokenize a published version once, in order, into ``out``; returns the index.

    Tokenizes in ``num_workers`` DataLoader workers (one row group per block). An existing
    complete export of the same version and tokenizer is returned as is.
    """
    from curation.reader.blocks import TextBlocks, token_blocks
    from curation.reader.rows import open_job_version

    tok = load_tokenizer(tokenizer)
    pv = open_job_version(uri, version, 1)
    dest = storage.resolve(out)
    if is_export(out):
        index = TokenStore(out).index
        if index["source"]["version"] == pv.version and index["tokenizer"] == tok.describe():
            return index
        raise TokenExportError(f"{out} already holds another export: {index['source']}")
    source = TextBlocks(pv.uri, pv.manifest, column, tok)
    if not dest.is_s3:
        dest.fs.create_dir(dest.path, recursive=True)
    writer = _ShardWriter(dest, tok.dtype, shard_tokens)
    doc_ends, total = [], 0
    for tokens, ends in token_blocks(source, source.plan(0, 0), num_workers):
        writer.write(tokens)
        doc_ends.append(ends + 1 + total)
        total += len(tokens)
    offsets = np.concatenate([[0], *doc_ends]).astype(np.int64)
    buf = io.BytesIO()
    np.save(buf, offsets)
    storage.atomic_write(dest.join("doc_offsets.npy"), buf.getvalue())
    index = {
        "format": FORMAT,
        "source": {"dataset": pv.dataset, "version": pv.version, "uri": pv.uri},
        "tokenizer": tok.describe(),
        "dtype": tok.dtype.name,
        "num_docs": len(offsets) - 1,
        "num_tokens": total,
        "doc_offsets_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
        "shards": writer.finish(),
    }
    storage.atomic_write(dest.join(INDEX), json.dumps(index, indent=1).encode())
    return index


class TokenStore:
    """Random access to an export's token stream (any token range, across shards)."""

    def __init__(self, uri: str):
        self.uri, self._dir = uri, storage.resolve(uri)
        try:
            self.index = json.loads(storage.read_bytes(self._dir.join(INDEX)))
        except FileNotFoundError as exc:
            raise TokenExportError(f"{uri}: no {INDEX}, not a (complete) token export") from exc
        if self.index.get("format") != FORMAT:
            raise TokenExportError(f"{uri}: format {self.index.get('format')!r}, want {FORMAT}")
        self.dtype = np.dtype(self.index["dtype"]).newbyteorder("<")
        self.num_tokens = int(self.index["num_tokens"])
        sizes = [s["tokens"] for s in self.index["shards"]]
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        raw = storage.read_bytes(self._dir.join("doc_offsets.npy"))
        self.doc_offsets = np.load(io.BytesIO(raw))
        if self.doc_offsets[-1] != self.num_tokens or self._starts[-1] != self.num_tokens:
            raise TokenExportError(f"{uri}: shard sizes or document offsets disagree with index")
        self._files: dict[int, object] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_files": {}}

    @property
    def source(self) -> dict:
        return self.index["source"]

    @property
    def tokenizer(self) -> dict:
        return self.index["tokenizer"]

    @property
    def tokenizer_spec(self) -> str:
        return self.index["tokenizer"]["spec"]

    @property
    def fingerprint(self) -> str:
        return self.index["tokenizer"]["fingerprint"]

    def _file(self, i: int):
        if i not in self._files:
            loc = self._dir.join(self.index["shards"][i]["name"])
            self._files[i] = loc.fs.open_input_file(loc.path)
        return self._files[i]

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Tokens [lo, hi) of the stream, as a new array."""
        out = np.empty(hi - lo, dtype=self.dtype)
        first = int(np.searchsorted(self._starts, lo, side="right")) - 1
        at, i = lo, first
        while at < hi:
            a, b = at - self._starts[i], min(hi, self._starts[i + 1]) - self._starts[i]
            data = self._file(i).read_at(
                int(b - a) * self.dtype.itemsize, int(a) * self.dtype.itemsize
            )
            out[at - lo : at - lo + b - a] = np.frombuffer(data, dtype=self.dtype)
            at, i = at + b - a, i + 1
        return out

    def ends_within(self, lo: int, hi: int) -> np.ndarray:
        """Positions (relative to ``lo``) of the EOT tokens that end documents in [lo, hi)."""
        o = self.doc_offsets
        return (
            o[np.searchsorted(o, lo, side="right") : np.searchsorted(o, hi, side="right")] - 1 - lo
        )

    def anchor(self, token: int) -> tuple[int, int]:
        """(document, tokens of it before ``token``) for a stream position."""
        doc = int(np.searchsorted(self.doc_offsets, token, side="right")) - 1
        return doc, token - int(self.doc_offsets[doc])

    def verify(self) -> list[str]:
        """Shards whose bytes differ from the sha256 the index recorded (empty: all good)."""
        bad = []
        for shard in self.index["shards"]:
            loc = self._dir.join(shard["name"])
            digest = (
                hashlib.sha256(storage.read_bytes(loc)).hexdigest() if storage.exists(loc) else ""
            )
            if digest != shard["sha256"]:
                bad.append(loc.uri)
        return bad
