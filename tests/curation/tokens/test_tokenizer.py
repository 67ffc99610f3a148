"""Offline tokenizers: one interface, flat ids + offsets equal to the libraries' own output."""

import base64
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.tokens.tokenizer import TokenizerError, load_tokenizer, with_eot

# GPT-2's split pattern as tiktoken_ext.openai_public defines it (r50k_base)
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
TEXTS = ["the cat sat on the mat", "", "naïve café — ünïcode ✓", "the the the", "x" * 50]


def train_hf_tokenizer(path: str, texts: list[str], vocab: int = 300) -> str:
    """A real byte-level BPE trained here (no download), saved as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts * 20, trainer)
    out = os.path.join(path, "tokenizer.json")
    tok.save(out)
    return out


def write_ranks(path: str) -> str:
    """A tiny tiktoken ranks file: all 256 bytes plus merges 'th' and 'the'."""
    tokens = [bytes([i]) for i in range(256)] + [b"th", b"the", b" the"]
    lines = [f"{base64.b64encode(t).decode()} {r}" for r, t in enumerate(tokens)]
    out = os.path.join(path, "tiny.tiktoken")
    open(out, "w").write("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> dict[str, str]:
    tmp = str(tmp_path_factory.mktemp("tok"))
    return {
        "bytes": "bytes",
        "hf": "hf:" + train_hf_tokenizer(tmp, TEXTS),
        "tiktoken": "tiktoken:" + write_ranks(tmp),
    }


def reference_ids(kind: str, spec: str, texts: list[str]) -> list[list[int]]:
    if kind == "bytes":
        return [list(t.encode()) for t in texts]
    if kind == "hf":
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(spec[3:])
        return [tok.encode(t, add_special_tokens=False).ids for t in texts]
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(spec.split(":", 1)[1])
    enc = tiktoken.Encoding("t", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    return [enc.encode_ordinary(t) for t in texts]


@pytest.mark.parametrize("kind", ["bytes", "hf", "tiktoken"])
def test_encode_batch_equals_library(specs, kind):
    tok = load_tokenizer(specs[kind])
    expected = reference_ids(kind, specs[kind], TEXTS)
    for texts in (TEXTS, pa.array(TEXTS), pa.chunked_array([TEXTS[:2], TEXTS[2:]])):
        tokens, offsets = tok.encode_batch(texts)
        assert tokens.dtype == np.uint16 and offsets.dtype == np.int64
        got = [tokens[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
        assert got == expected
    assert 0 <= tok.eot_id < tok.vocab_size
    assert all(t != tok.eot_id for doc in expected for t in doc)


def test_eot_ids_and_sizes(specs):
    assert (load_tokenizer("bytes").eot_id, load_tokenizer("bytes").vocab_size) == (256, 257)
    tik = load_tokenizer(specs["tiktoken"])
    assert (tik.eot_id, tik.vocab_size) == (259, 260)
    hf = load_tokenizer(specs["hf"])
    assert hf.eot_id == 0 and 257 < hf.vocab_size <= 300  # special token first, then merges


@pytest.mark.parametrize("kind", ["bytes", "hf", "tiktoken"])
def test_pickles_as_spec(specs, kind):
    tok = load_tokenizer(specs[kind])
    again = pickle.loads(pickle.dumps(tok))
    assert again.spec == tok.spec and again.describe() == tok.describe()
    assert again.encode_batch(TEXTS)[0].tolist() == tok.encode_batch(TEXTS)[0].tolist()


def test_sliced_arrow_array_and_large_strings():
    arr = pa.array(["aa", "bcd", "ef", "g"], type=pa.large_string()).slice(1, 2)
    tokens, offsets = load_tokenizer("bytes").encode_batch(arr)
    assert tokens.tolist() == list(b"bcdef") and offsets.tolist() == [0, 3, 5]


def test_bad_specs_are_named(tmp_path):
    with pytest.raises(TokenizerError, match="unknown tokenizer"):
        load_tokenizer("sentencepiece:/x.model")
    with pytest.raises(TokenizerError, match="no such file"):
        load_tokenizer(f"hf:{tmp_path}/tokenizer.json")
    with pytest.raises(TokenizerError, match="split pattern"):
        load_tokenizer(f"tiktoken:llama:{tmp_path}/x")
    with pytest.raises(ValueError, match="null"):
        load_tokenizer("bytes").encode_batch(pa.array(["a", None]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 255), max_size=8), max_size=6))
def test_with_eot_appends_after_every_document(docs):
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.array([t for d in docs for t in d], dtype=np.uint16)
    tokens, new = with_eot(flat, offsets, 999)
    assert tokens.tolist() == [t for d in docs for t in d + [999]]
    assert new.tolist() == np.concatenate([[0], np.cumsum(lengths + 1)]).tolist()


@pytest.mark.slow
def test_gpt2_ranks_from_whisper_sdist(tmp_path):
    """The documented offline route to GPT-2's BPE: the ranks file inside openai-whisper."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    subprocess.run(cmd + ["-d", str(tmp_path), "openai-whisper==20250625"], check=True)
    (sdist,) = [p for p in os.listdir(tmp_path) if p.endswith(".tar.gz")]
    with tarfile.open(tmp_path / sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("assets/gpt2.tiktoken"))
        open(tmp_path / "gpt2.tiktoken", "wb").write(tar.extractfile(member).read())
    tok = load_tokenizer(f"tiktoken:{tmp_path}/gpt2.tiktoken")
    assert (tok.eot_id, tok.vocab_size) == (50256, 50257)
    tokens, offsets = tok.encode_batch(["Hello world", " the"])
    assert tokens.tolist() == [15496, 995, 262] and offsets.tolist() == [0, 2, 3]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8), st.integers(0, 3))
def test_bytes_encode_documents_equals_eot_after_every_document(texts, cut):
    """The bytes tokenizer's Arrow shortcut equals the general rule (newlines in the text,
    empty documents and sliced arrays included)."""
    tok = load_tokenizer("bytes")
    arr = pa.array(["x"] * cut + texts, type=pa.string()).slice(cut)
    tokens, offsets = tok.encode_documents(arr)
    expected, expected_offsets = with_eot(*tok.encode_batch(arr), tok.eot_id)
    assert tokens.dtype == expected.dtype and tokens.tolist() == expected.tolist()
    assert offsets.tolist() == expected_offsets.tolist()
