"""Exports keep the published order, read back with each consumer library's own reader."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from curation.reader.export.hf import export_hf
from curation.reader.export.mds import export_mds
from curation.reader.export.megatron import export_megatron, keep_order
from curation.reader.export.tokens import export_tokens
from tests.curation.reader.test_packed import EOT, publish_docs, stream


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("exports")
    out = str(tmp / "tokens")
    export_tokens(publish_docs(tmp), out, "bytes", shard_tokens=400)
    return out


def sequences(seq_len: int, pad: bool = False) -> list[list[int]]:
    s = stream()
    n = -(-len(s) // seq_len) if pad else len(s) // seq_len
    s = s + [EOT] * (n * seq_len - len(s))
    return [s[i * seq_len : (i + 1) * seq_len] for i in range(n)]


def megatron():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Transformer Engine and Apex are not installed"
        from megatron.core.datasets import gpt_dataset, indexed_dataset

        return gpt_dataset, indexed_dataset


def test_megatron_indexed_dataset_round_trip(tokens, tmp_path):
    pytest.importorskip("megatron.core")
    _, indexed = megatron()
    prefix = str(tmp_path / "web")
    export_megatron(tokens, prefix)
    ds = indexed.IndexedDataset(prefix)
    docs = [ds[i].tolist() for i in range(len(ds))]
    assert [t for d in docs for t in d] == stream()
    assert all(d[-1] == EOT for d in docs) and ds.index.dtype == np.uint16
    assert ds.document_indices.tolist() == list(range(len(ds) + 1))


class _Tokenizer:
    """What GPTDataset reads from a tokenizer: the EOD id and the vocabulary size."""

    eod, vocab_size, pad = EOT, EOT + 1, -1
    unique_identifiers = {"class": "bytes"}


def gpt_samples(prefix: str, seq_len: int, cache: str) -> list[list[int]]:
    gpt, _ = megatron()
    from megatron.core.datasets.blended_megatron_dataset_builder import (
        BlendedMegatronDatasetBuilder,
    )

    config = gpt.GPTDatasetConfig(
        random_seed=1234,
        sequence_length=seq_len,
        blend=([prefix], None),
        split="1,0,0",
        tokenizer=_Tokenizer(),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        path_to_cache=cache,
    )
    n = (len(stream()) - 1) // seq_len
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        builder = BlendedMegatronDatasetBuilder(
            gpt.GPTDataset, [n, None, None], lambda: True, config
        )
        train = builder.build()[0]
    return [train[i]["tokens"].tolist() for i in range(len(train))]


def test_megatron_gpt_dataset_shuffles_unless_patched(tokens, tmp_path):
    """GPTDataset (its own packing) follows the stream only under keep_order()."""
    pytest.importorskip("megatron.core")
    prefix = str(tmp_path / "web")
    export_megatron(tokens, prefix)
    with keep_order():
        ordered = gpt_samples(prefix, 16, str(tmp_path / "c1"))
    assert ordered == sequences(16)[: len(ordered)] and len(ordered) >= len(sequences(16)) - 1
    shuffled = gpt_samples(prefix, 16, str(tmp_path / "c2"))
    assert sorted(shuffled) != shuffled or shuffled != ordered  # Megatron's default shuffles
    assert shuffled != ordered


@pytest.mark.parametrize("tail", ["drop", "pad"])
def test_hugging_face_on_disk_round_trip(tokens, tmp_path, tail):
    datasets = pytest.importorskip("datasets")
    out = export_hf(tokens, str(tmp_path / "hf"), 16, tail=tail)
    ds = datasets.load_from_disk(out)
    assert ds["input_ids"] == sequences(16, pad=tail == "pad")
    info = json.loads(ds.info.description)
    assert info["tokenizer"]["spec"] == "bytes" and info["seq_len"] == 16
    if tail == "pad":
        mask = np.array(ds["loss_mask"]).ravel()
        assert mask.sum() == len(stream()) and mask[: len(stream())].all()


def test_mds_layout_is_what_mdswriter_writes(tokens, tmp_path):
    """Offsets, config and index fields as streaming's MDSWriter lays them out."""
    out = export_mds(tokens, str(tmp_path / "mds"), 16)
    index = json.load(open(os.path.join(out, "index.json")))
    (shard,) = index["shards"]
    assert index["version"] == 2 and shard["column_encodings"] == ["ndarray:uint16:16"]
    data = open(os.path.join(out, shard["raw_data"]["basename"]), "rb").read()
    n = int(np.frombuffer(data[:4], np.uint32)[0])
    offsets = np.frombuffer(data[4 : 4 + 4 * (n + 1)], np.uint32)
    samples = [
        np.frombuffer(data[a:b], np.uint16).tolist()
        for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    assert n == shard["samples"] and samples == sequences(16) and offsets[-1] == len(data)


MDS_VENV_PACKAGES = ["numpy<2.2", "torch==2.13.0", "xxhash<4", "zstd", "brotli", "python-snappy"]
MDS_VENV_PACKAGES += ["tqdm", "catalogue", "matplotlib", "transformers<5"]


@pytest.fixture(scope="session")
def mds_python(tmp_path_factory) -> str:
    """A separate venv with mosaicml-streaming (it needs numpy<2.2); torch pinned to the CPU
    build so pip never pulls a CUDA one."""
    venv = tmp_path_factory.mktemp("mds-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    constraints = venv / "constraints.txt"
    constraints.write_text("torch==2.13.0\nnumpy<2.2\n")
    pip = [python, "-m", "pip", "install", "-q", "-c", str(constraints)]
    subprocess.run(pip + MDS_VENV_PACKAGES, check=True)
    subprocess.run(pip + ["--no-deps", "mosaicml-streaming==0.13.0"], check=True)
    return python


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_mds(python: str, out: str, world: int, batch: int, nodes: int) -> list[list]:
    """Every simulated rank's batches, the ranks running at once (as under torchrun)."""
    script = os.path.join(os.path.dirname(__file__), "mds_read.py")
    port, procs = free_port(), []
    for rank in range(world):
        args = [python, script, out, str(rank), str(world), str(batch), str(nodes), str(port)]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    return [json.loads(o.strip().splitlines()[-1]) for o in outputs]


def step_order(per_rank: list[list]) -> list:
    """Streaming's layout of a global batch: sample k of rank r at step s is global sample
    ``s*B + k*W + r`` (strided within the step; the set of a step's samples is what counts)."""
    world = len(per_rank)
    return [
        per_rank[r][s][k]
        for s in range(len(per_rank[0]))
        for k in range(len(per_rank[0][s]))
        for r in range(world)
    ]


@pytest.mark.slow  # builds a venv with mosaicml-streaming (~2-4 min)
def test_mds_global_order_under_two_ranks(tokens, tmp_path, mds_python):
    out = export_mds(tokens, str(tmp_path / "mds"), 8)
    ref = sequences(8)
    per_rank = read_mds(mds_python, out, world=2, batch=3, nodes=1)
    assert len({len(r) for r in per_rank}) == 1  # equal steps on both ranks
    got = step_order(per_rank)
    assert got[: len(ref)] == ref  # with num_canonical_nodes=1 and shuffle=False
    assert all(seq in ref for seq in got[len(ref) :]) and len(got) - len(ref) < 6  # padding
    mixed = step_order(read_mds(mds_python, out, world=2, batch=3, nodes=2))
    assert mixed[: len(ref)] != ref  # two canonical nodes interleave two halves of the data
