"""``python -m demo``: fetch the demo corpus (cached under var/), then ``curation run``.

Everything lives under ``var/``: the corpus, the storage root and a local Dagster
instance (``var/dagster_home``), as the shipped ``curation.yaml`` says.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", help="only this recipe (repeatable)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    os.environ.setdefault("DAGSTER_HOME", str(ROOT / "var" / "dagster_home"))
    os.environ.setdefault("MPLBACKEND", "Agg")

    from curation.project import load_project
    from demo.data import prepare_demo_corpus

    project = load_project()
    corpus = Path(project.corpus.uri)
    if not corpus.exists():
        print(f"demo: fetching the demo corpus into {corpus.parent}")
        prepare_demo_corpus(str(corpus.parent), cache_dir=str(ROOT / "var" / "cache"))
    print(f"corpus: {corpus}")

    from curation.cli.main import main as curation_main

    code = curation_main(["run", *sum((["--recipe", r] for r in args.recipe or []), [])])
    home = os.environ["DAGSTER_HOME"]
    print(f"Dagster instance: {home}")
    print(f"  browse it:          DAGSTER_HOME={home} .venv/bin/dagster dev -h 127.0.0.1")
    print("  published datasets: .venv/bin/curation datasets list")
    return code


if __name__ == "__main__":
    sys.exit(main())
