"""Corpus staging benchmark: converting JSON lines (gzip, zstd) to the staged parquet copy,
against a bare pyarrow JSON read of the same files, measured in the same run.

Usage: python bench/convert.py [--quick] [--mb 400] [--files 8] [--rounds 3] [--work DIR]

A Dolma-shaped corpus (id, text, source, added, nested metadata; ``--mb`` MB of JSON, 80
quick) is written as ``--files`` ``.jsonl.gz`` files and the same rows as ``.jsonl.zst``.
Each round, for each codec, alternating:

* floor: ``pyarrow.json.read_json`` of every file through pyarrow's decompressing stream
  (its default: multi-threaded parse), the tables dropped; nothing written;
* floor + write: the same read, each file's table then written with
  ``pyarrow.parquet.write_table`` (a naive conversion holding a whole file in memory);
* ours: ``curation.corpus.staging.stage_corpus`` into a fresh root (hash every file, parse
  in chunks with line-numbered errors and UTF-8 checks, unify schemas, write parts,
  commit), at the memory setting ``--memory-mb`` (512);
* reuse: ``stage_corpus`` again on the same root (nothing converted).

Printed: each round's seconds, ratios to the floor, their medians, MB/s of JSON, and the
peak resident memory of this process while staging. Results: bench/results/convert.txt.
"""

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.corpus.staging import stage_corpus  # noqa: E402
from curation.machine import ResidentSampler, available_cores, release_memory  # noqa: E402

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no will more can out other than into some could them its then two these may like"
).split()


def write_corpus(base: Path, target_mb: float, files: int) -> tuple[int, int]:
    """Dolma-shaped rows into ``files`` gzip and zstd JSON lines files; (JSON bytes, rows)."""
    rng = np.random.default_rng(0)
    (base / "gz").mkdir(parents=True, exist_ok=True)
    (base / "zst").mkdir(parents=True, exist_ok=True)
    per_file = target_mb * 1e6 / files
    total, rows, doc = 0, 0, 0
    vocab = np.array(WORDS)
    for f in range(files):
        lines, size = [], 0
        while size < per_file:
            n = int(rng.integers(60, 900))
            text = " ".join(vocab[rng.integers(0, len(vocab), n)])
            line = json.dumps(
                {
                    "id": f"doc-{doc:09d}",
                    "text": text,
                    "source": ["common-crawl", "books", "wiki"][doc % 3],
                    "added": f"2024-{1 + doc % 12:02d}-{1 + doc % 28:02d}T00:00:00Z",
                    "metadata": {"url": f"https://example.org/{doc}", "length": len(text)},
                }
            )
            lines.append(line)
            size += len(line) + 1
            doc += 1
        data = ("\n".join(lines) + "\n").encode()
        (base / "gz" / f"part-{f:04d}.jsonl.gz").write_bytes(gzip.compress(data, 6))
        with pa.CompressedOutputStream(str(base / "zst" / f"part-{f:04d}.jsonl.zst"), "zstd") as o:
            o.write(data)
        total, rows = total + len(data), rows + len(lines)
    return total, rows


def floor(directory: Path, write_to: Path | None = None) -> int:
    """Bare pyarrow: read_json of each file (decompressed by suffix); optionally written."""
    rows = 0
    for i, path in enumerate(sorted(directory.iterdir())):
        codec = "gzip" if path.suffix == ".gz" else "zstd"
        with pa.input_stream(str(path), compression=codec) as stream:
            table = pajson.read_json(stream)
        rows += table.num_rows
        if write_to is not None:
            write_to.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, write_to / f"{i:05d}.parquet", compression="zstd")
        del table
    return rows


def timed(fn) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mb", type=float, default=None)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    mb = args.mb or (80 if args.quick else 400)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-convert-"))
    json_bytes, rows = write_corpus(work / "src", mb, args.files)
    print(
        f"corpus: {rows} Dolma-shaped rows, {json_bytes / 1e6:.0f} MB of JSON in {args.files} "
        f"files per codec; {available_cores()} cores; memory setting {args.memory_mb} MB"
    )
    results: dict[str, dict[str, list[float]]] = {}
    for r in range(args.rounds):
        for codec in ("gz", "zst"):
            src = work / "src" / codec
            res = results.setdefault(codec, {"floor": [], "write": [], "ours": [], "reuse": []})
            got, t_floor = timed(lambda src=src: floor(src))
            assert got == rows
            out = work / f"naive-{codec}"
            _, t_write = timed(lambda src=src, out=out: floor(src, out))
            shutil.rmtree(out)
            root = work / f"root-{codec}"
            shutil.rmtree(root, ignore_errors=True)
            release_memory()  # the floor's freed tables out of the pool: measure staging alone
            with ResidentSampler(interval=0.05) as sampler:
                staged, t_ours = timed(
                    lambda src=src, root=root: stage_corpus(
                        str(src), str(root), args.memory_mb, log=lambda m: None
                    )
                )
            assert not staged.reused
            again, t_reuse = timed(
                lambda src=src, root=root: stage_corpus(
                    str(src), str(root), args.memory_mb, log=lambda m: None
                )
            )
            assert again.reused
            for key, value in (
                ("floor", t_floor),
                ("write", t_write),
                ("ours", t_ours),
                ("reuse", t_reuse),
            ):
                res[key].append(value)
            print(
                f"round {r + 1} {codec:>3}: floor {t_floor:6.2f} s, floor+write {t_write:6.2f} s, "
                f"ours {t_ours:6.2f} s ({t_ours / t_floor:.2f}x floor, "
                f"{t_ours / t_write:.2f}x floor+write), reuse {t_reuse:.3f} s, "
                f"peak RSS while staging {sampler.peak / 2**20:.0f} MiB"
            )
    print()
    for codec, res in results.items():
        ratio = statistics.median(o / f for o, f in zip(res["ours"], res["floor"], strict=True))
        ratio_w = statistics.median(o / f for o, f in zip(res["ours"], res["write"], strict=True))
        ours = statistics.median(res["ours"])
        print(
            f"{codec:>3}: median ours {ours:.2f} s = {json_bytes / 1e6 / ours:.0f} MB/s of JSON; "
            f"floor {statistics.median(res['floor']):.2f} s "
            f"({json_bytes / 1e6 / statistics.median(res['floor']):.0f} MB/s); "
            f"ratio to the floor {ratio:.2f}x (median of per-round ratios), to floor+write "
            f"{ratio_w:.2f}x; reuse {statistics.median(res['reuse']):.3f} s"
        )
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
