"""Reader throughput against a bare pyarrow.parquet scan of the same shards (the floor).

Usage: python bench/reader.py [--quick] [--rows N] [--batch-size B]

Both sides produce the same items (per-rank batches of ``batch_size`` rows: Python ``str``
for text, numpy for numbers), so the ratio measures the reader's own overhead: planning,
row-group seeks and slicing. The goal is reader time / floor time <= 1.5.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation import publish  # noqa: E402
from curation.reader import OrderedDataset, _to_python  # noqa: E402

LINEAGE = {"corpus_version": "bench", "score_version": "bench", "method": "sorted",
           "params": {}, "seed": 0, "code_version": "bench"}


def synthetic_texts(n: int, rng: np.random.Generator, mean_len: int = 400) -> pa.Array:
    """n random lowercase texts built from one byte buffer (no Python loop over rows)."""
    lengths = rng.integers(mean_len // 2, mean_len * 3 // 2, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz      ", dtype=np.uint8)
    data = alphabet[rng.integers(0, len(alphabet), int(offsets[-1]))].tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def write_shards(directory: str, rows: int, shards: int, row_group: int) -> list[str]:
    rng = np.random.default_rng(0)
    cuts = np.linspace(0, rows, shards + 1).astype(np.int64)
    paths = []
    for i in range(shards):
        pos = np.arange(cuts[i], cuts[i + 1], dtype=np.int64)
        table = pa.table({"id": pos * 7 + 3, "text": synthetic_texts(len(pos), rng),
                          "position": pos, "score": rng.random(len(pos))})
        path = os.path.join(directory, f"in-{i}.parquet")
        pq.write_table(table, path, row_group_size=row_group)
        paths.append(path)
    return paths


def floor_scan(paths: list[str], batch_size: int) -> int:
    """Bare scan: shards in order, whole row groups decoded and converted like the reader's
    output, then cut into batches of ``batch_size`` (the cheapest way to the same items)."""
    rows = 0
    for path in paths:
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            cols = _to_python(pf.read_row_group(g))
            n = len(cols["text"])
            for a in range(0, n, batch_size):
                rows += len({c: v[a : a + batch_size] for c, v in cols.items()}["text"])
    return rows


def arrow_only_scan(paths: list[str], batch_size: int) -> int:
    """Decode only (no Python objects): how much of the floor is parquet decoding."""
    return sum(pq.ParquetFile(p).read().num_rows for p in paths)


def reader_scan(uri: str, batch_size: int, rank: int = 0, world_size: int = 1) -> int:
    ds = OrderedDataset(uri, rank=rank, world_size=world_size, batch_size=batch_size)
    return sum(len(b["text"]) for b in ds)


def best_of(repeats: int, fn, *args) -> tuple[float, float, int]:
    """Fastest wall and CPU time of several runs (the least disturbed by other processes)."""
    wall, cpu, rows = float("inf"), float("inf"), 0
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        rows = fn(*args)
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, < 1 min")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--row-group", type=int, default=8192)
    args = ap.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    repeats = 3
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_shards(tmp, rows, shards=8, row_group=args.row_group)
        pv = publish.publish_version(os.path.join(tmp, "root"), "bench", paths, LINEAGE)
        uri = os.path.join(tmp, "root", "bench")
        shard_paths = pv.shard_uris
        t_arrow, _, _ = best_of(repeats, arrow_only_scan, shard_paths, args.batch_size)
        t_floor, c_floor, n_floor = best_of(repeats, floor_scan, shard_paths, args.batch_size)
        t_read, c_read, n_read = best_of(repeats, reader_scan, uri, args.batch_size)
        t_rank, _, n_rank = best_of(repeats, reader_scan, uri, args.batch_size, 1, 4)
    assert n_floor == n_read == rows, (n_floor, n_read, rows)
    print(f"rows={rows} batch_size={args.batch_size} row_group={args.row_group} "
          f"(best of {repeats}; load average {os.getloadavg()[0]:.1f})")
    print(f"  arrow-only decode : {rows / t_arrow:12,.0f} samples/s")
    print(f"  floor (pq scan)   : {rows / t_floor:12,.0f} samples/s")
    print(f"  OrderedDataset    : {rows / t_read:12,.0f} samples/s")
    print(f"  rank 1 of 4       : {n_rank / t_rank:12,.0f} samples/s (its quarter of the rows)")
    print(f"ratio reader/floor wall time = {t_read / t_floor:.2f}x (goal <= 1.5x)")
    print(f"ratio reader/floor CPU time  = {c_read / c_floor:.2f}x (steadier on a busy machine)")

if __name__ == "__main__":
    main()
