"""Sample-score benchmark: scorer throughput against reading the text, and score import speed.

Usage: python bench/scores.py [--quick] [--mb 200] [--rows 1e7] [--work DIR]

1. The demo corpus (built from the gensim wheel) is repeated into one parquet file of
   ``--mb`` MB of text (200 full, 20 quick). The floor is reading its text column with
   pyarrow. Each built-in scorer, and all of them through ``score_corpus``, is timed on the
   same file; throughput is MB of text per CPU-second (one process, so per core).
2. A score table of ``--rows`` rows (10^7 full, 10^6 quick; string ids, two float columns) is
   written as parquet; ``import_scores`` is timed against bare ``pyarrow.parquet.read_table``.
3. Cores: the default scorer through ``score_corpus`` on one process and on every core
   (processes), wall time and speed-up (goal >= 1.8x on 2 cores).
4. Length confounding: Pearson and Spearman correlation of each scorer with document length
   on the demo corpus, compression with and without the reference prefix.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.corpus.read import iter_batches  # noqa: E402
from curation.scores import import_scores  # noqa: E402
from curation.scores.base import SCORERS, get_scorer, reference_texts, score_corpus  # noqa: E402
from curation.scores.builtin import CompressionScorer  # noqa: E402
from demo.data import prepare_demo_corpus  # noqa: E402


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def repeated_corpus(demo: str, target_mb: float, path: Path) -> int:
    """Write the demo corpus repeated to ``target_mb`` MB of text; return the text bytes."""
    table = pq.read_table(demo, columns=["id", "text"])
    size = pc.sum(pc.binary_length(table["text"])).as_py()
    copies = max(1, int(np.ceil(target_mb * 1e6 / size)))
    if not path.exists():
        with pq.ParquetWriter(path, table.schema) as writer:
            for k in range(copies):
                ids = pc.binary_join_element_wise(table["id"], pa.scalar(f"-r{k:04d}"), "")
                writer.write_table(table.set_column(0, "id", ids), row_group_size=8192)
    return size * copies


def read_floor(path: str) -> int:
    total = 0
    for batch in iter_batches(path, columns=["text"]):
        total += len(batch.column(0).buffers()[2] or b"")
    return total


def run_scorer(path: str, name: str) -> None:
    scorer = get_scorer(name)
    if getattr(scorer, "needs_fit", False):
        scorer.fit(reference_texts(path))
    for batch in iter_batches(path, columns=["text"]):
        scorer.score(batch.column(0))


def bench_scorers(demo: str, work: Path, mb: float) -> None:
    path = work / f"corpus-{mb:g}mb.parquet"
    nbytes = repeated_corpus(demo, mb, path)
    mbytes = nbytes / 1e6
    print(f"\n== scorer throughput on {mbytes:.0f} MB of text ({path.name}), one process ==")
    _, wall, cpu = timed(lambda: read_floor(str(path)))
    floor = mbytes / max(cpu, 1e-9)
    print(
        f"{'read text (floor)':<22} {wall:8.2f} s wall {cpu:8.2f} s cpu "
        f"{floor:9.1f} MB/cpu-s   1.0x"
    )
    names = list(SCORERS)
    for name in names:
        _, wall, cpu = timed(lambda n=name: run_scorer(str(path), n))
        speed = mbytes / max(cpu, 1e-9)
        print(
            f"{name:<22} {wall:8.2f} s wall {cpu:8.2f} s cpu {speed:9.1f} MB/cpu-s "
            f"{floor / speed:6.1f}x floor"
        )
    _, wall, cpu = timed(lambda: score_corpus(str(path), names, progress=False, workers=1))
    speed = mbytes / max(cpu, 1e-9)
    print(
        f"{'all (score_corpus)':<22} {wall:8.2f} s wall {cpu:8.2f} s cpu {speed:9.1f} MB/cpu-s "
        f"{floor / speed:6.1f}x floor"
    )


def bench_cores(demo: str, work: Path, mb: float, scorer: str = "compression") -> None:
    from curation.machine import available_cores

    path = work / f"corpus-{mb:g}mb.parquet"
    mbytes = repeated_corpus(demo, mb, path) / 1e6
    cores = available_cores()
    print(f"\n== {scorer} through score_corpus on {mbytes:.0f} MB: 1 process vs {cores} ==")
    walls = {}
    for workers in (1, cores):
        table, walls[workers], _ = timed(
            lambda w=workers: score_corpus(str(path), [scorer], progress=False, workers=w)
        )
        print(
            f"{workers} process(es) {walls[workers]:8.2f} s wall "
            f"{mbytes / walls[workers]:8.1f} MB/s"
        )
        if workers == 1:
            reference = table
        else:
            assert table.equals(reference), "scores differ between 1 and several processes"
    print(f"speed-up {cores} processes / 1 = {walls[1] / walls[cores]:.2f}x (goal >= 1.8x on 2)")


def bench_import(work: Path, rows: int) -> None:
    path = work / f"scores-{rows}.parquet"
    if not path.exists():
        rng = np.random.default_rng(0)
        ids = pc.binary_join_element_wise(
            "doc-", pc.cast(pa.array(np.arange(rows)), pa.string()), ""
        )
        pq.write_table(
            pa.table({"id": ids, "quality": rng.random(rows), "difficulty": rng.normal(size=rows)}),
            path,
        )
    print(f"\n== importing a {rows:,}-row score table (parquet, string ids, 2 floats) ==")
    best = {}
    for label, fn in (
        ("pyarrow read_table", lambda: pq.read_table(path)),
        ("import_scores", lambda: import_scores(str(path))),
    ):
        best[label] = min(timed(fn)[1] for _ in range(3))
        print(f"{label:<22} {best[label]:8.3f} s")
    print(
        f"import_scores / read_table = {best['import_scores'] / best['pyarrow read_table']:.2f}x"
        " (goal <= 2x)"
    )


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))


def bench_confounding(demo: str) -> None:
    texts = pq.read_table(demo, columns=["text"]).column("text")
    length = get_scorer("length").score(texts)
    print(f"\n== correlation with document length, demo corpus ({len(texts)} docs) ==")
    rows = [
        ("compression, plain zlib", CompressionScorer(use_reference=False)),
        ("compression, reference", CompressionScorer()),
    ]
    rows += [(name, get_scorer(name)) for name in SCORERS if name not in ("length", "compression")]
    for label, scorer in rows:
        if getattr(scorer, "needs_fit", False):
            scorer.fit(reference_texts(demo))
        values = scorer.score(texts)
        print(
            f"{label:<26} pearson {pearson(values, length):+.2f}  "
            f"spearman {spearman(values, length):+.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 MB corpus, 10^6 score rows")
    parser.add_argument("--mb", type=float, default=None)
    parser.add_argument("--rows", type=float, default=None)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "curation-bench"))
    parser.add_argument("--cores-only", action="store_true", help="only the 1 vs N processes")
    args = parser.parse_args()
    mb = args.mb or (20 if args.quick else 200)
    rows = int(args.rows or (1e6 if args.quick else 1e7))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    demo = prepare_demo_corpus(str(work / "demo"))
    print(f"cores: {os.cpu_count()}, pyarrow threads: {pa.cpu_count()}")
    if args.cores_only:
        bench_cores(demo, work, mb)
        return
    bench_confounding(demo)
    bench_import(work, rows)
    bench_scorers(demo, work, mb)
    bench_cores(demo, work, mb)


if __name__ == "__main__":
    main()
