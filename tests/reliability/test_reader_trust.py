"""Readers raise, never hang, duplicate or silently drop: under torchrun without explicit
ranks, with ranks naming the version differently, with a missing column, a damaged shard,
or a shuffled Megatron cache."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import publish
from curation.reader import DamagedShard, OrderedDataset, PackedDataset
from tests.factories import LINEAGE, write_shards


def _publish(tmp: Path, n: int, name: str = "web") -> str:
    paths = []
    for i, (lo, hi) in enumerate([(0, n // 2), (n // 2, n)]):
        pos = np.arange(lo, hi)
        table = pa.table({"id": pos * 3 + 1, "text": [f"doc {p} " * 5 for p in pos]})
        paths.append(str(tmp / f"{name}-{i}.parquet"))
        pq.write_table(table, paths[-1], row_group_size=5)
    return publish.publish_version(str(tmp / "root"), name, paths, LINEAGE).version


@pytest.fixture
def dataset(tmp_path):
    _publish(tmp_path, 40)
    return str(tmp_path / "root" / "web")


def test_a_column_the_version_lacks_is_refused_by_name(dataset):
    for columns in (["txt"], ["id", "txt"]):
        with pytest.raises(ValueError, match=r"\['txt'\] not in web/"):
            OrderedDataset(dataset, batch_size=4, columns=columns)
    with pytest.raises(ValueError, match="not in web/"):
        PackedDataset(dataset, seq_len=16, column="txt")


def test_a_damaged_shard_names_shard_and_version_without_verify(dataset):
    ds = OrderedDataset(dataset, batch_size=4)
    shard = Path(ds.uri) / ds.manifest["shards"][1]["name"]
    data = shard.read_bytes()
    shard.write_bytes(data[:-40] + b"\0" * 40)  # same size: the footer is gone
    with pytest.raises(DamagedShard, match=rf"{ds.version}/part-00001\.parquet cannot be read"):
        list(OrderedDataset(dataset, batch_size=4))
    with pytest.raises(DamagedShard, match="part-00001.parquet"):
        list(PackedDataset(dataset, seq_len=16))


def test_torchrun_ranks_default_to_the_process_group_and_agree_on_the_version(tmp_path):
    other = _publish(tmp_path, 20)
    uri = str(tmp_path / "root" / "web")
    _publish(tmp_path, 40)  # the newer version: latest
    out = tmp_path / "out.json"
    script = os.path.join(os.path.dirname(__file__), "torchrun_readers.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*cmd, script, uri, other, str(out)], check=True, timeout=240, env=env)
    result = json.loads(out.read_text())
    rank0, rank1 = result["ids"]
    assert sorted(rank0 + rank1) == [p * 3 + 1 for p in range(40)]  # split, not duplicated
    assert not set(rank0) & set(rank1)
    assert result["packed"] == [[0, 2], [1, 2]]
    assert result["agreed"] == [result["latest"]] * 2
    assert all("different versions" in m for m in result["mismatch"])


def test_megatron_refuses_a_cache_built_shuffled(tmp_path):
    pytest.importorskip("megatron.core")
    from curation.reader.export.megatron import ShuffledCache, export_megatron, keep_order
    from curation.reader.export.tokens import export_tokens
    from tests.curation.reader.test_exports import gpt_samples

    uri = write_shards(str(tmp_path / "in"), 60)
    version = publish.publish_version(str(tmp_path / "root"), "web", uri, LINEAGE)
    tokens = str(tmp_path / "tokens")
    export_tokens(version.uri, tokens)
    prefix = str(tmp_path / "web")
    export_megatron(tokens, prefix)
    cache = str(tmp_path / "cache")
    gpt_samples(prefix, 16, cache)  # built shuffled, Megatron's default
    with keep_order(), pytest.raises(ShuffledCache, match="built shuffled"):
        gpt_samples(prefix, 16, cache)
    with keep_order():
        assert gpt_samples(prefix, 16, str(tmp_path / "fresh"))
