"""Packed sequences: one global token stream in published order, dealt to ranks by index."""

import os
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from curation import publish
from curation.reader import PackedDataset
from curation.reader.export.tokens import TokenExportError, TokenStore, export_tokens
from tests.factories import LINEAGE, write_shards

N = 57
EOT = 256


def doc_text(p: int) -> str:
    return f"doc {p}: " + "ab" * (p * 7 % 23) + ("é" if p % 5 == 0 else "")


def publish_docs(tmp, n: int = N, shards: int = 3, row_group: int = 5) -> str:
    cuts = np.linspace(0, n, shards + 1).astype(int)
    paths = []
    for i in range(shards):
        pos = np.arange(cuts[i], cuts[i + 1])
        texts = [doc_text(int(p)) for p in pos]
        table = pa.table({"id": pos * 3 + 1, "text": texts, "position": pos})
        paths.append(str(tmp / f"in-{i}.parquet"))
        pq.write_table(table, paths[-1], row_group_size=row_group)
    publish.publish_version(str(tmp / "root"), "web", paths, LINEAGE)
    return str(tmp / "root" / "web")


def stream(n: int = N) -> list[int]:
    """The reference stream: every document's UTF-8 bytes, then EOT."""
    return [t for p in range(n) for t in [*doc_text(p).encode(), EOT]]


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    return publish_docs(tmp_path_factory.mktemp("packed"))


@pytest.fixture(scope="module")
def export(uri, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("export") / "tokens")
    export_tokens(uri, out, "bytes", shard_tokens=300)  # several shards
    return out


def run_ranks(uri, world_size, workers, batch_size, seq_len, state=None, **kw) -> list[list[dict]]:
    """Per rank, the batches its loader hands out (ranks run one after the other here)."""
    out = []
    for rank in range(world_size):
        ds = PackedDataset(
            uri, seq_len=seq_len, rank=rank, world_size=world_size, batch_size=batch_size, **kw
        )
        if state is not None:
            ds.load_state_dict(state)
        out.append(list(ds.loader(num_workers=workers)))
    return out


def global_tokens(per_rank: list[list[dict]], masked: bool = False) -> list[int]:
    """Concatenate what every rank got at each step, step after step."""
    assert len({len(r) for r in per_rank}) == 1, [len(r) for r in per_rank]
    out = []
    for step in zip(*per_rank, strict=True):
        for batch in step:
            ids = batch["input_ids"]
            out += ids[batch["loss_mask"]].tolist() if masked else ids.flatten().tolist()
    return out


@pytest.mark.parametrize("world_size", [1, 2, 4])
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("source", ["text", "export"])
def test_order_and_equal_steps(uri, export, world_size, workers, source):
    where = uri if source == "text" else export
    b, seq = 2, 16
    need = world_size * b * seq
    per_rank = run_ranks(where, world_size, workers, b, seq)
    ref = stream()
    assert len(per_rank[0]) == len(ref) // need > 0
    assert global_tokens(per_rank) == ref[: len(ref) // need * need]
    for batch in per_rank[-1]:
        assert batch["input_ids"].shape == (b, seq) and batch["input_ids"].dtype == torch.int64
    padded = run_ranks(where, world_size, workers, b, seq, tail="pad")
    assert len(padded[0]) == -(-len(ref) // need)
    assert global_tokens(padded, masked=True) == ref
    last = [r[-1]["input_ids"] for r in padded]
    assert all(x.shape == (b, seq) for x in last)  # never an empty batch
    assert global_tokens(padded)[len(ref) :] == [EOT] * (len(padded[0]) * need - len(ref))


def test_len_on_export_matches_steps(export):
    ds = PackedDataset(export, seq_len=10, world_size=3, rank=2, batch_size=2)
    assert len(ds) == len(list(ds)) == len(stream()) // 60
    pad = PackedDataset(export, seq_len=10, world_size=3, rank=2, batch_size=2, tail="pad")
    assert len(pad) == len(list(pad)) == -(-len(stream()) // 60)


def test_len_needs_export(uri):
    with pytest.raises(TypeError, match="token export"):
        len(PackedDataset(uri, seq_len=8))


def test_position_ids_restart_after_eot(uri):
    seq = 24
    ds = PackedDataset(uri, seq_len=seq, batch_size=3, positions=True)
    ids = torch.cat([b["input_ids"].flatten() for b in ds]).tolist()
    pos = torch.cat(
        [
            b["position_ids"].flatten()
            for b in PackedDataset(uri, seq_len=seq, batch_size=3, positions=True)
        ]
    ).tolist()
    expected, p = [], 0
    for i, t in enumerate(ids):
        p = 0 if i % seq == 0 else p + 1
        expected.append(p)
        if t == EOT:
            p = -1
    assert pos == expected


@settings(max_examples=30, deadline=None)
@given(
    world=st.sampled_from([1, 2, 4]),
    batch=st.integers(1, 3),
    seq=st.integers(3, 40),
    fraction=st.floats(0, 1),
    world_after=st.sampled_from([1, 2, 4]),
    batch_after=st.integers(1, 3),
    from_export=st.booleans(),
)
def test_resume_at_arbitrary_sequence(
    uri, export, world, batch, seq, fraction, world_after, batch_after, from_export
):
    """Stop after any step, resume with another world and batch size (and source)."""
    dss = [
        PackedDataset(uri, seq_len=seq, rank=r, world_size=world, batch_size=batch, tail="pad")
        for r in range(world)
    ]
    its = [iter(d) for d in dss]
    steps = int(fraction * (-(-len(stream()) // (world * batch * seq))))
    seen = []
    for _ in range(steps):
        for it in its:
            bt = next(it)
            seen += bt["input_ids"][bt["loss_mask"]].tolist()
    state = dss[0].state_dict()
    assert all(d.state_dict() == state for d in dss)
    assert state["sequences_consumed"] * seq >= len(seen)
    again = export if from_export else uri
    rest = global_tokens(
        run_ranks(again, world_after, 0, batch_after, seq, state, tail="pad"), True
    )
    assert seen + rest == stream()


@pytest.mark.parametrize("workers_before,workers_after", [(0, 2), (2, 0)])
def test_resume_with_other_worker_count_then_next_epoch(uri, workers_before, workers_after):
    ds = PackedDataset(uri, seq_len=8, world_size=2, rank=0, batch_size=2)
    peer = PackedDataset(uri, seq_len=8, world_size=2, rank=1, batch_size=2)
    seen = []
    for a, b in zip(ds.loader(workers_before), peer.loader(workers_before), strict=True):
        seen += a["input_ids"].flatten().tolist() + b["input_ids"].flatten().tolist()
        if len(seen) >= 5 * 32:
            break
    state = ds.state_dict()
    assert state["sequences_consumed"] == 20 and state["epoch"] == 0
    solo = PackedDataset(uri, seq_len=8, batch_size=4)
    solo.load_state_dict(state)
    loader = solo.loader(workers_after)
    rest = [t for bt in loader for t in bt["input_ids"].flatten().tolist()]
    ref = stream()
    assert seen + rest == ref[: len(seen) + len(rest)] and len(ref) - len(seen + rest) < 32
    assert loader.state_dict()["epoch"] == 1 and loader.state_dict()["sequences_consumed"] == 0
    first = next(iter(loader))["input_ids"].flatten().tolist()
    assert first == ref[:32]  # the next epoch starts at the first token, not the resume point


def test_state_is_checked(uri, export):
    ds = PackedDataset(uri, seq_len=8)
    state = ds.state_dict()
    with pytest.raises(ValueError, match="seq_len"):
        PackedDataset(uri, seq_len=9).load_state_dict(state)
    with pytest.raises(ValueError, match="version"):
        ds.load_state_dict({**state, "version": "0" * 16})


def test_plain_dataloader_with_workers_is_refused(uri):
    ds = PackedDataset(uri, seq_len=8)
    with pytest.raises(RuntimeError, match="loader"):
        list(DataLoader(ds, batch_size=None, num_workers=1))


def test_export_index_records_source_and_tokenizer(uri, export):
    store = TokenStore(export)
    idx = store.index
    assert idx["source"]["dataset"] == "web" and idx["source"][
        "version"
    ] == publish.resolve_version(os.path.dirname(uri), "web")
    assert idx["tokenizer"]["spec"] == "bytes" and idx["dtype"] == "uint16"
    assert idx["num_docs"] == N and idx["num_tokens"] == len(stream()) and len(idx["shards"]) > 2
    assert store.read(0, idx["num_tokens"]).tolist() == stream()
    assert store.verify() == []
    assert export_tokens(uri, export, "bytes") == idx  # idempotent
    with pytest.raises(TokenExportError, match="another export"):
        export_tokens(uri, export, "tiktoken:" + write_tiny_ranks(os.path.dirname(export)))
    with pytest.raises(ValueError, match="tokenized with"):
        PackedDataset(
            export, seq_len=8, tokenizer="tiktoken:" + write_tiny_ranks(os.path.dirname(export))
        )
    pickle.loads(pickle.dumps(store))


def test_export_detects_corruption_and_incomplete(uri, tmp_path):
    out = str(tmp_path / "t")
    export_tokens(uri, out, "bytes", shard_tokens=500)
    part = os.path.join(out, "tokens-00001.bin")
    data = bytearray(open(part, "rb").read())
    data[3] ^= 1
    open(part, "wb").write(bytes(data))
    assert TokenStore(out).verify() == [part]
    os.remove(os.path.join(out, "tokens.json"))
    with pytest.raises(TokenExportError, match="not a"):
        TokenStore(out)


def write_tiny_ranks(directory: str) -> str:
    from tests.curation.tokens.test_tokenizer import write_ranks

    return write_ranks(directory)


def test_bpe_tokenizers_in_workers_keep_order(uri, tmp_path):
    from tests.curation.tokens.test_tokenizer import train_hf_tokenizer

    texts = [doc_text(p) for p in range(N)]
    for spec in (
        "hf:" + train_hf_tokenizer(str(tmp_path), texts),
        "tiktoken:" + write_tiny_ranks(str(tmp_path)),
    ):
        ds = PackedDataset(uri, seq_len=12, batch_size=2, tokenizer=spec, tail="pad")
        tokens, offsets = ds.tokenizer.encode_batch(texts)
        ref = [
            t
            for d in range(N)
            for t in [*tokens[offsets[d] : offsets[d + 1]].tolist(), ds.tokenizer.eot_id]
        ]
        for workers in (0, 2):
            got = [t for b in ds.loader(workers) for t in b["input_ids"][b["loss_mask"]].tolist()]
            assert got == ref


@pytest.mark.slow  # ~50 s on 2 busy cores: torchrun start-up, gloo, two workers
@pytest.mark.parametrize("world", [2])
def test_torchrun_gloo_ranks_keep_order_and_agree(tmp_path, world):
    """Real processes under torchrun: equal step counts, global order, one version per job."""
    import json
    import subprocess
    import sys

    paths = write_shards(str(tmp_path / "other"), 20)
    other = publish.publish_version(str(tmp_path / "root"), "web", paths, LINEAGE).version
    uri = publish_docs(tmp_path)  # the newer version: `latest`
    out = tmp_path / "out.json"
    script = os.path.join(os.path.dirname(__file__), "torchrun_packed.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={world}", script, uri, other, str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, timeout=180, env=env, cwd=os.getcwd())
    result = json.loads(out.read_text())
    assert result["tokens"] == stream()
    assert len(set(result["steps"])) == 1
    assert result["version"] == publish.resolve_version(str(tmp_path / "root"), "web")
    assert all("different versions" in m for m in result["mismatch"])
