"""The demo: real text -> scores -> 7 orderings -> shards -> probes -> published datasets.

``python -m assets.demo`` fetches the demo corpus (Wikipedia + Lee news from the gensim
wheel, cached under var/), materializes every asset in a local Dagster instance under
``var/dagster_home`` and prints where the published datasets and the probe report are.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare_environment(var: Path) -> None:
    """A project-local Dagster instance and storage root, unless the user set their own."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(var / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ.setdefault("CURATION_ROOT", str(var / "storage"))
    os.environ.setdefault("CURATION_CORPUS", str(var / "demo" / "demo_corpus.parquet"))
    os.environ.setdefault("MPLBACKEND", "Agg")


def step_durations(instance, run_id: str) -> dict[str, float]:
    """Seconds per step, from the run's step start/success events in the instance."""
    starts, durations = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            durations[event.step_key] = entry.timestamp - starts.get(
                event.step_key, entry.timestamp
            )
    return durations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", default=str(ROOT / "var"), help="where data and the instance live")
    parser.add_argument("--seeds", type=int, default=2, help="probe seeds per method")
    parser.add_argument("--token-budget", type=int, default=300_000, help="probe training bytes")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    var = Path(args.var).resolve()
    prepare_environment(var)

    from curation.demo_data import prepare_demo_corpus

    corpus = prepare_demo_corpus(
        str(Path(os.environ["CURATION_CORPUS"]).parent), cache_dir=str(var / "cache")
    )
    print(f"corpus: {corpus}")

    from dagster import DagsterInstance

    from definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    run_config = {
        "ops": {"probe_runs": {"config": {"seeds": args.seeds, "token_budget": args.token_budget}}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
        durations = step_durations(instance, result.run_id)
    print("\nseconds per step:")
    for key, seconds in sorted(durations.items(), key=lambda kv: -kv[1]):
        print(f"  {key:45s} {seconds:7.1f}")
    if not result.success:
        print(
            "\nthe run failed; see the errors above or `dagster dev` (DAGSTER_HOME="
            f"{os.environ['DAGSTER_HOME']})",
            file=sys.stderr,
        )
        return 1
    print("\npublished datasets:")
    report = None
    for node in job.graph.node_dict:
        if node.startswith("published_"):
            value = result.output_for_node(node)
            report = value["report"]
            print(f"  {value['dataset']:16s} version {value['version']}  {value['uri']}")
    print(f"\nprobe report: {report}")
    print(f"Dagster instance: {os.environ['DAGSTER_HOME']} (browse it with `dagster dev`)")
    print(f"wall time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
