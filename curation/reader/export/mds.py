"""MosaicML Streaming MDS shards of packed sequences, written directly (no streaming import).

``mosaicml-streaming`` requires ``numpy<2.2``, so it cannot live in this environment; this
module writes its documented on-disk format (``index.json`` version 2, ``shard.NNNNN.mds``:
sample count, uint32 offsets, the shard config as JSON, then the samples). Columns:
``input_ids`` (``ndarray:<dtype>:<seq_len>``) and, with ``tail="pad"``, ``loss_mask``
(``ndarray:uint8:<seq_len>``). Sample i is sequence i of the packed stream.

Read it back in order with ``StreamingDataset(local=..., shuffle=False,
num_canonical_nodes=1, batch_size=<per-rank batch>)`` (docs/reader.md).
"""

import json
import os

import numpy as np

from curation import storage
from curation.reader.export.sequences import sequence_chunks
from curation.reader.export.tokens import TokenStore

_SIZE_LIMIT = 1 << 26  # MDSWriter's default shard size


def _config(columns: dict[str, str], sizes: list[int]) -> dict:
    names = sorted(columns)
    return {
        "version": 2,
        "format": "mds",
        "compression": None,
        "hashes": [],
        "size_limit": _SIZE_LIMIT,
        "column_names": names,
        "column_encodings": [columns[n] for n in names],
        "column_sizes": sizes,
    }


def _shard_bytes(samples: np.ndarray, config_data: bytes) -> bytes:
    """One shard: [n][offsets (n+1) uint32][config][samples], samples of equal size."""
    n, size = samples.shape
    head = 4 + 4 * (n + 1) + len(config_data)
    offsets = (head + np.arange(n + 1, dtype=np.int64) * size).astype(np.uint32)
    return np.uint32(n).tobytes() + offsets.tobytes() + config_data + samples.tobytes()


def export_mds(tokens_uri: str, out: str, seq_len: int, tail: str = "drop") -> str:
    """Write MDS shards of ``seq_len`` sequences to the local directory ``out``."""
    store = TokenStore(tokens_uri)
    dtype = store.dtype
    columns = {"input_ids": f"ndarray:{dtype.name}:{seq_len}"}
    sizes = [seq_len * dtype.itemsize]
    if tail == "pad":
        columns["loss_mask"] = f"ndarray:uint8:{seq_len}"
        sizes.append(seq_len)
    config = _config(columns, sizes)
    config_data = json.dumps(config, sort_keys=True).encode()
    per_shard = max(1, (_SIZE_LIMIT - 4 - len(config_data)) // (sum(sizes) + 4))
    os.makedirs(out, exist_ok=True)
    shards, pending = [], []
    for tokens, mask in sequence_chunks(store, seq_len, tail):
        parts = [tokens.astype(dtype.newbyteorder("<")).view(np.uint8).reshape(len(tokens), -1)]
        if mask is not None:
            parts.append(mask)
        pending.append(np.concatenate(parts, axis=1))
        rows = np.concatenate(pending) if len(pending) > 1 else pending[0]
        while len(rows) >= per_shard:
            shards.append(_write_shard(out, len(shards), rows[:per_shard], config, config_data))
            rows = rows[per_shard:]
        pending = [rows] if len(rows) else []
    if pending:
        shards.append(_write_shard(out, len(shards), pending[0], config, config_data))
    index = {"version": 2, "shards": shards}
    storage.atomic_write(
        storage.resolve(os.path.join(out, "index.json")), json.dumps(index, sort_keys=True).encode()
    )
    return out


def _write_shard(out: str, i: int, samples: np.ndarray, config: dict, config_data: bytes) -> dict:
    name = f"shard.{i:05d}.mds"
    data = _shard_bytes(samples, config_data)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    raw = {"basename": name, "bytes": len(data), "hashes": {}}
    return {"samples": len(samples), "raw_data": raw, "zip_data": None, **config}
