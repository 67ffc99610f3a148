"""Command line for one library pipeline run, so tests can kill it, race it, or run it
under another working directory and environment.

Prints ``phase <name>`` lines (flushed) as it goes and, last, ``{"version": "<id>"}``.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def wait_at_barrier(barrier: Path, timeout: float = 60.0) -> None:
    """Let a test release several processes into the same phase at the same moment."""
    barrier.with_name(f"{barrier.name}.{os.getpid()}.ready").touch()
    deadline = time.monotonic() + timeout
    while not barrier.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {barrier} was never released")
        time.sleep(0.002)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("corpus", "scores", "work", "root", "dataset"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--method", default="str")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows-per-shard", type=int, default=500)
    parser.add_argument(
        "--publish-barrier",
        default=None,
        help="before publishing, touch BARRIER.<pid>.ready and wait for BARRIER",
    )
    args = parser.parse_args(argv)

    from tests.reliability.helpers import run_library_pipeline

    def say(phase: str) -> None:
        print(f"phase {phase}", flush=True)
        if phase == "publish" and args.publish_barrier:
            wait_at_barrier(Path(args.publish_barrier))

    version = run_library_pipeline(
        args.corpus,
        args.scores,
        args.work,
        args.root,
        args.dataset,
        method=args.method,
        seed=args.seed,
        rows_per_shard=args.rows_per_shard,
        say=say,
    )
    print(json.dumps({"version": version}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
