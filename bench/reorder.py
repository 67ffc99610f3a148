"""Benchmark: reorder a text corpus by a random permutation (the worst case) into parquet shards.

Floor, measured in the same run: a bare single-threaded pyarrow read + write of the same
corpus in source order with the same writer options (twice: before and after, the machine is
shared). Side by side: ours on every core under the memory cap, and DuckDB's
``COPY (SELECT ... ORDER BY position)`` at the same ``memory_limit`` (one thread and every
core). Each side runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own.

    python bench/reorder.py            # ~2 GB of text (cached under var/bench/)
    python bench/reorder.py --quick    # ~200 MB, also times the gather strategy
    python bench/reorder.py --engine ray --docs 1e6   # the stage on local vs Ray, in rounds
                                       # (bench/reorder_engines.py)
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "var" / "bench"
MiB = 1 << 20


# ----------------------------------------------------------------------------- corpus


def vocabulary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """English words with Zipf-like weights (wordfreq), as one byte pool + offsets."""
    try:
        from wordfreq import top_n_list

        words = top_n_list("en", 30000)
    except Exception:  # wordfreq data missing: synthetic words keep the bench usable
        rng = np.random.default_rng(0)
        words = [
            "".join(rng.choice(list("etaoinshrdlu"), rng.integers(2, 10))) for _ in range(30000)
        ]
    words = [w + " " for w in words] + [". ", ", ", "\n\n"]
    data = [w.encode() for w in words]
    lens = np.array([len(b) for b in data], dtype=np.int64)
    pool = np.frombuffer(b"".join(data), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    weights[-3:] = [0.06, 0.05, 0.004]
    return pool, starts, lens, weights / weights.sum()


def make_documents(rng: np.random.Generator, n_docs: int, vocab: tuple, first_id: int) -> pa.Table:
    """``n_docs`` documents of lognormal length, built without a Python loop over words."""
    pool, starts, lens, probs = vocab
    doc_words = np.clip(rng.lognormal(6.0, 1.0, n_docs), 20, 40000).astype(np.int64)
    word_ids = rng.choice(lens.size, size=int(doc_words.sum()), p=probs)
    wl = lens[word_ids]
    total = int(wl.sum())
    ends = np.cumsum(wl)
    index = np.repeat(starts[word_ids] - (ends - wl), wl) + np.arange(total)
    data = pool[index]
    word_bounds = np.concatenate([[0], ends])
    offsets = word_bounds[np.concatenate([[0], np.cumsum(doc_words)])].astype(np.int64)
    text = pa.LargeStringArray.from_buffers(
        n_docs, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())
    ).cast(pa.string())
    return pa.table(
        {
            "id": np.arange(first_id, first_id + n_docs, dtype=np.int64),
            "text": text,
            "n_chars": np.diff(offsets),
            "source": pa.array(
                np.array(["web", "books", "news", "code"])[rng.integers(0, 4, n_docs)]
            ),
        }
    )


def ensure_corpus(target_bytes: int, files: int = 8) -> Path:
    """Build (once) a parquet corpus with ~``target_bytes`` of text in ``files`` files."""
    out = CACHE / f"corpus-{target_bytes // MiB}MiB"
    if (out / "_DONE").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng, vocab = np.random.default_rng(1234), vocabulary()
    per_file, first_id = target_bytes // files, 0
    for f in range(files):
        with pq.ParquetWriter(
            out / f"docs-{f:03d}.parquet",
            make_documents(rng, 1, vocab, 0).schema,
            compression="zstd",
        ) as writer:
            written = 0
            while written < per_file:
                table = make_documents(rng, 4000, vocab, first_id)
                writer.write_table(table, row_group_size=10_000)
                written += int(pc_sum(table["n_chars"]))
                first_id += table.num_rows
        print(f"  corpus file {f + 1}/{files}", flush=True)
    (out / "_DONE").write_text("ok")
    return out


def pc_sum(col: pa.ChunkedArray) -> int:
    return int(np.sum(col.to_numpy()))


# ----------------------------------------------------------------------------- children


def child_baseline(corpus: Path, out: Path, rg_rows: int) -> None:
    """Bare pyarrow on one thread: read every row group in source order and write it back."""
    from curation.shards import WRITER_OPTIONS

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    out.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(sorted(corpus.glob("*.parquet"))):
        pf = pq.ParquetFile(path)
        with pq.ParquetWriter(
            out / f"part-{i:05d}.parquet", pf.schema_arrow, **WRITER_OPTIONS
        ) as w:
            for g in range(pf.num_row_groups):
                w.write_table(pf.read_row_group(g, use_threads=False), row_group_size=rg_rows)


def child_duckdb(corpus: Path, out: Path, args: argparse.Namespace) -> dict:
    """DuckDB: join each row to its output position (the bench corpus's ids are its global
    row numbers) and ``COPY ... ORDER BY position`` to parquet, at the same memory limit."""
    import duckdb

    from curation.shards import corpus_layout

    n = corpus_layout(corpus).n_rows
    rows = np.random.default_rng(7).permutation(n)  # the same permutation as ours
    out.mkdir(parents=True, exist_ok=True)
    positions = out / "positions.parquet"
    pq.write_table(pa.table({"row": rows, "position": np.arange(n, dtype=np.int64)}), positions)
    del rows
    con = duckdb.connect(
        config={
            "memory_limit": f"{args.memory_mb}MB",
            "threads": args.duckdb_threads,
            "temp_directory": str(out / "tmp"),
            "preserve_insertion_order": True,
        }
    )
    files = [str(p) for p in sorted(corpus.glob("*.parquet"))]
    try:
        con.execute(
            f"COPY (SELECT c.*, p.position FROM read_parquet({files!r}) c "
            f"JOIN read_parquet('{positions}') p ON c.id = p.row ORDER BY p.position) "
            f"TO '{out / 'ordered'}' (FORMAT parquet, COMPRESSION zstd, "
            "ROW_GROUP_SIZE 10000, FILE_SIZE_BYTES '128MB')"
        )
    except duckdb.Error as exc:  # out of memory is a result, not a crash of the bench
        return {"error": str(exc).splitlines()[0][:160]}
    finally:
        con.close()
    positions.unlink()
    return {"rows": n}


def child_reorder(corpus: Path, out: Path, args: argparse.Namespace) -> dict:
    from curation.shards import corpus_layout, write_ordered_shards

    n = corpus_layout(corpus).n_rows
    rows = np.random.default_rng(7).permutation(n)
    infos = write_ordered_shards(
        corpus,
        rows,
        out,
        rows_per_shard=args.rows_per_shard or None,
        memory_limit_bytes=args.memory_mb * MiB,
        workers=args.workers or None,
        progress=False,
        strategy=args.strategy,
    )
    return {"shards": len(infos), "passes": max(i.passes for i in infos), "rows": n}


def run_child(kind: str, corpus: Path, out: Path, args: argparse.Namespace) -> dict:
    """Time one side in a fresh process; return wall time and its own peak RSS."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--memory-mb",
        str(args.memory_mb),
        "--rows-per-shard",
        str(args.rows_per_shard),
        "--workers",
        str(args.workers),
        "--strategy",
        args.strategy,
        "--duckdb-threads",
        str(args.duckdb_threads),
    ]
    # mimalloc (pyarrow's default pool) keeps freed pages for a while; purging at once keeps
    # the RSS near the live data. Read at library load, so set before the child starts.
    env = {**os.environ, "MIMALLOC_PURGE_DELAY": os.environ.get("MIMALLOC_PURGE_DELAY", "0")}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {result.returncode}: {tail[:160]}", "wall_s": float("nan")}
    return json.loads(result.stdout.strip().splitlines()[-1])


def high_water_mb() -> float:
    """Peak resident set of this process since exec (VmHWM; ``ru_maxrss`` would carry the
    parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(args: argparse.Namespace) -> None:
    import shutil

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    extra = {}
    if args.child == "baseline":
        child_baseline(Path(args.corpus), out, 10_000)
    elif args.child == "duckdb":
        extra = child_duckdb(Path(args.corpus), out, args)
    else:
        extra = child_reorder(Path(args.corpus), out, args)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    extra["cpu_s"] = usage.ru_utime + usage.ru_stime
    peak_mb = high_water_mb()
    out_bytes = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    print(json.dumps({"wall_s": wall, "peak_rss_mb": peak_mb, "out_mb": out_bytes / MiB, **extra}))


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~200 MB corpus instead of ~2 GB")
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument(
        "--rows-per-shard", type=int, default=0, help="0: the library's byte-sized default"
    )
    parser.add_argument("--workers", type=int, default=0, help="0: every core")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--duckdb-threads", type=int, default=1)
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument("--child", choices=["baseline", "reorder", "duckdb"])
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--docs", type=float, default=1e6, help="--engine ray: corpus size")
    parser.add_argument("--rounds", type=int, default=3, help="--engine ray: alternating rounds")
    parser.add_argument("--shuffle", nargs="+", default=["objects", "spill"])
    parser.add_argument("--shard-mb", type=int, default=32, help="--engine ray: shard size")
    parser.add_argument("--object-store-mb", type=int, default=1024)
    parser.add_argument("--corpus")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    if args.engine == "ray":
        from bench import pipeline_scale, reorder_engines

        args.corpus = pipeline_scale.build_corpus(int(args.docs))
        args.work = CACHE / "engines"
        reorder_engines.main(args)
        return
    size = 200 * MiB if args.quick else 2048 * MiB
    print(f"corpus: ~{size // MiB} MiB of text under {CACHE}", flush=True)
    corpus = ensure_corpus(size)
    from curation.shards import available_cores, corpus_layout, rows_per_shard_for

    layout = corpus_layout(corpus)
    rows_per_shard = args.rows_per_shard or rows_per_shard_for(layout)
    cores = args.workers or available_cores()
    print(
        f"rows {layout.n_rows:,}  uncompressed {layout.total_bytes / MiB:,.0f} MiB  "
        f"on disk {sum(p.stat().st_size for p in corpus.glob('*.parquet')) / MiB:,.0f} MiB  "
        f"rows/shard {rows_per_shard:,}  memory limit {args.memory_mb} MiB  cores {cores}",
        flush=True,
    )
    work = CACHE / "out"
    bases = [run_child("baseline", corpus, work / "baseline", args)]
    show("floor     pyarrow read+write, 1 thread", bases[0])
    strategies = [args.strategy] + (["gather"] if args.quick and args.strategy != "gather" else [])
    results = {}
    for strategy in strategies:
        args.strategy = strategy
        results[strategy] = run_child("reorder", corpus, work / f"reorder-{strategy}", args)
        show(f"ours      random permutation [{strategy}, {cores} workers]", results[strategy])
    duck = {}
    for threads in [] if args.no_duckdb else sorted({1, cores}):
        args.duckdb_threads = threads
        duck[threads] = run_child("duckdb", corpus, work / "duckdb", args)
        show(f"duckdb    COPY ... ORDER BY, {threads} thread(s)", duck[threads])
    if duck and all("error" in r for r in duck.values()):  # what DuckDB needs instead
        limit = args.memory_mb
        for factor in (2, 4):
            args.memory_mb, args.duckdb_threads = limit * factor, 1
            res = run_child("duckdb", corpus, work / "duckdb", args)
            show(f"duckdb    reference: 1 thread at {args.memory_mb} MB", res)
            if "error" not in res:
                break
        args.memory_mb = limit
    # a second floor after the others: on a shared machine the load drifts
    bases.append(run_child("baseline", corpus, work / "baseline", args))
    show("floor     again, after the others", bases[1])
    base = float(np.mean([b["wall_s"] for b in bases]))
    for strategy, res in results.items():
        print(
            f"ratio [{strategy}] ours / mean floor = {res['wall_s'] / base:.2f}x (goal <= 1.3x); "
            f"shards {res.get('shards')}, max passes {res.get('passes')}, "
            f"memory limit {args.memory_mb} MiB, peak RSS {res['peak_rss_mb']:.0f} MiB"
        )
    ours = min(r["wall_s"] for r in results.values())
    for threads, res in duck.items():
        if "error" in res:
            print(f"duckdb {threads} thread(s): failed at {args.memory_mb} MB: {res['error']}")
        else:
            print(
                f"ratio duckdb ({threads} thread(s)) / mean floor = {res['wall_s'] / base:.2f}x; "
                f"ours / duckdb = {ours / res['wall_s']:.2f}x (goal < 1)"
            )


def show(label: str, res: dict) -> None:
    if "error" in res:
        print(f"{label:52s} failed: {res.get('error')}", flush=True)
        return
    print(
        f"{label:52s} {res['wall_s']:7.1f} s  cpu {res.get('cpu_s', 0):7.1f} s  "
        f"peak RSS {res['peak_rss_mb']:5.0f} MiB  out {res['out_mb']:6.0f} MiB",
        flush=True,
    )


if __name__ == "__main__":
    main()
