"""The curation command line: run, order, score, datasets and work.

Every expected failure (bad file, bad parameter, bad scores) prints one line on stderr
and exits with status 2; tracebacks are for bugs only.
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.cli.datasets import add_datasets_parser
from curation.cli.run import add_run_parser
from curation.cli.work import add_work_parser
from curation.ordering.engine import METHODS, guideline_metrics, order
from curation.ordering.table import write_ordering_table
from curation.storage import resolve
from curation.storage.runlock import RunLocked
from curation.warnings_capture import captured_warnings


class UsageError(ValueError):
    """A user mistake reported as one line."""


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v`` with v parsed as JSON when it can be (numbers, true/false), else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param expects key=value, got {text!r}")
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return key, lowered == "true"
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def read_id_scores(
    path: str, score_column: str, id_column: str = "id"
) -> tuple[pa.Array, np.ndarray]:
    """Read only the id and score columns of a parquet/jsonl/csv score table."""
    from curation.scores.importer import import_scores

    table = import_scores(path, id_column=id_column, score_columns=[score_column])
    return table.column("id").combine_chunks(), table.column(score_column).to_numpy()


def cmd_order(args: argparse.Namespace) -> int:
    params = dict(parse_param(p) for p in args.param)
    started = time.perf_counter()
    ids, scores = read_id_scores(args.scores, args.score_column, args.id_column)
    read_s = time.perf_counter() - started
    with captured_warnings() as caught:
        result = order(scores, args.method, **params)
    for message in caught:
        print(f"warning: {message}", file=sys.stderr)
    order_s = time.perf_counter() - started - read_s
    write_ordering_table(resolve(args.out), ids, np.asarray(result))
    metrics = guideline_metrics(
        scores,
        result,
        batch_size=args.batch_size,
        ascending=result.metadata["params"].get("ascending", True),
    )
    metrics.pop("curve")
    print(f"ordered {scores.size:,} samples with {args.method} {result.metadata['params']}")
    print(f"read {read_s:.2f}s, order {order_s:.2f}s -> {args.out}")
    for key, value in metrics.items():
        print(f"  {key:18s} {value:.4g}" if isinstance(value, float) else f"  {key:18s} {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curation", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)

    p = sub.add_parser("order", help="order a score table with one method")
    p.add_argument(
        "--scores", required=True, help="parquet/jsonl/csv file with id and score columns"
    )
    p.add_argument("--score-column", required=True)
    p.add_argument("--id-column", default="id")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="method parameter, e.g. folding_layer=3 (repeatable)",
    )
    p.add_argument(
        "--batch-size", type=int, default=16, help="window for the local-diversity metric"
    )
    p.add_argument("--out", required=True, help="output parquet (position, id, row)")
    p.set_defaults(func=cmd_order)

    s = sub.add_parser("score", help="score a corpus with built-in scorers (offline)")
    s.add_argument("--corpus", required=True, help="parquet/jsonl/csv corpus, file or directory")
    s.add_argument("--scorers", default="compression", help="comma-separated, e.g. length,ngram")
    s.add_argument("--id-column", default="id")
    s.add_argument("--text-column", default="text")
    s.add_argument("--out", required=True, help="output parquet (id + one column per scorer)")
    s.set_defaults(func=cmd_score)

    add_datasets_parser(sub)
    add_work_parser(sub)
    return parser


def cmd_score(args: argparse.Namespace) -> int:
    from curation.scores import score_version
    from curation.scores.base import score_corpus

    started = time.perf_counter()
    table = score_corpus(
        args.corpus, args.scorers.split(","), text_column=args.text_column, id_column=args.id_column
    )
    loc = resolve(args.out)
    pq.write_table(table, loc.path, filesystem=loc.fs)
    print(
        f"scored {table.num_rows:,} documents with {args.scorers} in "
        f"{time.perf_counter() - started:.1f}s -> {args.out} (score version "
        f"{score_version(table)})"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, RunLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
