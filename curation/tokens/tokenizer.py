"""Tokenizers that work offline, behind one small interface for packing and exports.

A spec string names the tokenizer, so that it can be recorded in an export's index and
re-created in another process (DataLoader workers, another rank, a later job):

* ``"bytes"``: UTF-8 bytes as tokens 0..255, end-of-document 256 (vocabulary 257). Built in,
  and zero-copy from Arrow string buffers.
* ``"hf:/path/tokenizer.json"`` (or any path ending in ``tokenizer.json``): a Hugging Face
  ``tokenizers`` tokenizer from a local file.
* ``"tiktoken:/path/ranks.tiktoken"``: a tiktoken BPE from a local ranks file, split with the
  GPT-2 pattern (``"tiktoken:cl100k:/path"`` for the cl100k pattern). The end-of-document
  token is the first id after the ranks (50256 for GPT-2's file).

``encode_batch`` returns flat token ids plus document offsets, never Python lists per
document, so callers stay vectorised and cheap to hand between processes.
"""

import hashlib
import itertools
import os
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BYTES = "bytes"
_GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)
_PATTERNS = {"gpt2": _GPT2_PATTERN, "cl100k": _CL100K_PATTERN}
_EMPTY, _PLACEHOLDER = pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string())
_EOT_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "[SEP]")


class TokenizerError(ValueError):
    """A tokenizer spec that cannot be loaded (unknown kind, missing file, no EOT token)."""


class Tokenizer:
    """Common interface: ``encode_batch``, ``eot_id``, ``vocab_size``, ``dtype``, ``spec``.

    Pickles as its spec (the tokenizer is rebuilt from the local file in the receiving
    process), so datasets holding one can go to DataLoader workers under any start method.
    """

    spec: str
    eot_id: int
    vocab_size: int

    def encode_batch(self, texts: pa.Array | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of all ``texts`` concatenated (no EOT added) and int64 offsets (n + 1)."""
        raise NotImplementedError

    def encode_documents(self, texts: pa.Array | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`encode_batch` with the EOT token after every document (the packed stream)."""
        return with_eot(*self.encode_batch(texts), self.eot_id)

    @property
    def dtype(self) -> np.dtype:
        """The narrowest unsigned dtype that holds every id (uint16 up to 65,536 ids)."""
        return np.dtype(np.uint16 if self.vocab_size <= 1 << 16 else np.uint32)

    @property
    def fingerprint(self) -> str:
        """sha256 prefix of the tokenizer's file (or spec): detects a changed file."""
        return _fingerprint(self.spec)

    def describe(self) -> dict:
        """What an export records about the tokenizer."""
        return {
            "spec": self.spec,
            "fingerprint": self.fingerprint,
            "eot_id": self.eot_id,
            "vocab_size": self.vocab_size,
            "dtype": self.dtype.name,
        }

    def __reduce__(self):
        return load_tokenizer, (self.spec,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, vocab_size={self.vocab_size})"


def _as_string_array(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.LargeStringArray:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, type=pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"texts must be strings, got Arrow type {texts.type}")
    if texts.null_count:
        raise ValueError(f"{texts.null_count} null text(s) cannot be tokenized")
    return texts.cast(pa.large_string())


def _to_pylist(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> list[str]:
    if isinstance(texts, pa.Array | pa.ChunkedArray):
        if texts.null_count:
            raise ValueError(f"{texts.null_count} null text(s) cannot be tokenized")
        return texts.to_pylist()
    return list(texts)


def _flatten(per_doc: list[list[int]], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The tokenizer libraries return one list per document: flatten them in C loops."""
    lengths = np.fromiter(map(len, per_doc), dtype=np.int64, count=len(per_doc))
    offsets = np.zeros(len(per_doc) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = itertools.chain.from_iterable(per_doc)
    tokens = np.fromiter(flat, dtype=dtype, count=int(offsets[-1]))
    return tokens, offsets


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes; tokens are a view of the Arrow data buffer (no per-document work)."""

    spec, eot_id, vocab_size = BYTES, 256, 257

    def encode_batch(self, texts):
        arr = _as_string_array(texts)
        offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
        offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0)
        tokens = data[offsets[0] : offsets[-1]].astype(self.dtype)
        return tokens, offsets - offsets[0]

    def encode_documents(self, texts):
        """Arrow appends a placeholder byte to every text (one C++ pass of memcpys), which
        becomes the EOT: ~3x faster than inserting EOTs into the token array by mask."""
        arr = _as_string_array(texts)
        joined = pc.binary_join_element_wise(arr, _EMPTY, _PLACEHOLDER)
        tokens, offsets = self.encode_batch(joined)
        tokens[offsets[1:] - 1] = self.eot_id
        return tokens, offsets


class HFTokenizer(Tokenizer):
    """A Hugging Face ``tokenizers`` tokenizer loaded from a local ``tokenizer.json``."""

    def __init__(self, path: str, spec: str):
        from tokenizers import Tokenizer as _HF

        self._tok = _HF.from_file(path)
        self.spec = spec
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        vocab = self._tok.get_vocab(with_added_tokens=True)
        found = [vocab[name] for name in _EOT_NAMES if name in vocab]
        if not found:
            raise TokenizerError(f"{path}: no end-of-document token (looked for {_EOT_NAMES})")
        self.eot_id = found[0]

    def encode_batch(self, texts):
        encodings = self._tok.encode_batch_fast(_to_pylist(texts), add_special_tokens=False)
        return _flatten([e.ids for e in encodings], self.dtype)


class TiktokenTokenizer(Tokenizer):
    """tiktoken BPE from a local ranks file (``base64-token rank`` per line)."""

    def __init__(self, path: str, pattern: str, spec: str):
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        ranks = load_tiktoken_bpe(path)
        self.eot_id = max(ranks.values()) + 1
        self.vocab_size = self.eot_id + 1
        self.spec = spec
        self._enc = tiktoken.Encoding(
            name=os.path.basename(path),
            pat_str=_PATTERNS[pattern],
            mergeable_ranks=ranks,
            special_tokens={"<|endoftext|>": self.eot_id},
        )

    def encode_batch(self, texts):
        per_doc = self._enc.encode_ordinary_batch(_to_pylist(texts), num_threads=1)
        return _flatten(per_doc, self.dtype)


def _spec_file(spec: str) -> str | None:
    if spec == BYTES:
        return None
    return spec.rsplit(":", 1)[-1] if ":" in spec else spec


def _fingerprint(spec: str) -> str:
    path = _spec_file(spec)
    payload = open(path, "rb").read() if path else spec.encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def load_tokenizer(spec: "str | Tokenizer") -> Tokenizer:
    """A tokenizer from its spec (see the module docstring); a Tokenizer passes through."""
    if isinstance(spec, Tokenizer):
        return spec
    if spec == BYTES:
        return ByteTokenizer()
    kind, _, rest = spec.partition(":") if ":" in spec else ("", "", spec)
    if kind == "tiktoken":
        pattern, _, path = rest.rpartition(":")
        pattern = pattern or "gpt2"
        if pattern not in _PATTERNS:
            raise TokenizerError(f"{spec}: unknown split pattern {pattern!r} ({sorted(_PATTERNS)})")
        _require_file(spec, path)
        return TiktokenTokenizer(path, pattern, spec)
    if kind == "hf" or (not kind and rest.endswith("tokenizer.json")):
        _require_file(spec, rest)
        return HFTokenizer(rest, spec)
    raise TokenizerError(
        f"unknown tokenizer {spec!r}: use 'bytes', 'hf:/path/tokenizer.json' "
        "or 'tiktoken:/path/ranks.tiktoken'"
    )


def _require_file(spec: str, path: str) -> None:
    if not os.path.isfile(path):
        raise TokenizerError(f"tokenizer {spec!r}: no such file {path!r}")


def with_eot(tokens: np.ndarray, offsets: np.ndarray, eot_id: int) -> tuple[np.ndarray, ...]:
    """Append the EOT token after every document: (tokens, new offsets), vectorised: the
    EOTs go in by index, the tokens through one mask of the positions they keep."""
    n = len(offsets) - 1
    lengths = np.diff(offsets) + 1
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    out = np.empty(int(new_offsets[-1]), dtype=tokens.dtype)
    eots = new_offsets[1:] - 1
    out[eots] = eot_id
    keep = np.ones(len(out), dtype=bool)
    keep[eots] = False
    out[keep] = tokens[offsets[0] : offsets[-1]] if len(offsets) else tokens
    return out, new_offsets
