"""The pipeline run behind ``curation run`` (all recipes, or the named ones) on the configured
Dagster instance. The command itself (arguments, errors) is :mod:`curation.cli.run`, which
loads this module from the project's code location.

Equivalent with the ``dagster`` CLI (one run over every recipe)::

    dagster job launch -m definitions -j refresh \\
      --tags '{"dagster/asset_partition_range_start": "<first>", \\
               "dagster/asset_partition_range_end": "<last>"}'
"""

import os
import shutil
import time
from pathlib import Path

from dagster import AssetKey

from curation.project import load_project
from curation.storage import atomic_write, resolve
from curation.storage.filelock import directory_lock
from curation.storage.runlock import run_lock

MIN_FREE_MB = 64  # below this the instance's SQLite writes fail mid-run with "disk I/O error"


class InstanceUnwritable(OSError):
    """The Dagster instance's directory is full or cannot be written; names it."""


def _unwritable(home: Path, exc: BaseException | None = None) -> InstanceUnwritable:
    free = shutil.disk_usage(home).free >> 20
    cause = f": {exc}" if exc else ""
    return InstanceUnwritable(
        f"the Dagster instance in {home} cannot be written ({free} MB free on its disk; "
        f"{MIN_FREE_MB} MB needed){cause}; free space or point DAGSTER_HOME elsewhere"
    )


def _is_disk_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("disk i/o error", "database or disk is full", "no space left"))


def open_instance():
    """``$DAGSTER_HOME``'s instance; without one, a project-local instance under ``var/``.

    Creating the instance creates (or migrates) its databases; two runs starting at once on a
    fresh home would both do it and leave a corrupt schema, so it happens under a lock on the
    home directory, and every storage is opened (created) before the lock is released. A full
    or unwritable disk is named, not left to surface as SQLite's "disk I/O error"."""
    home = Path(os.environ.get("DAGSTER_HOME") or "var/dagster_home").resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(home).free < MIN_FREE_MB << 20:
        raise _unwritable(home)
    try:
        return _open_locked(home)
    except Exception as exc:
        if _is_disk_error(exc):
            raise _unwritable(home, exc) from None
        raise


def _open_locked(home: Path):
    from dagster import DagsterInstance

    with directory_lock(home):
        config = home / "dagster.yaml"
        if not config.exists():
            atomic_write(resolve(str(config)), b"telemetry:\n  enabled: false\n")
        instance = DagsterInstance.get()
        instance.get_runs(limit=1)  # run storage
        instance.get_latest_materialization_event(AssetKey("raw_corpus"))  # event log
        instance.all_instigator_state()  # schedules and sensors
    return instance


def step_windows(instance, run_id: str) -> list[tuple[str, float, float]]:
    """(step key, start, end) of every finished step of a run, from its event log."""
    starts, out = {}, []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            out.append(
                (event.step_key, starts.get(event.step_key, entry.timestamp), entry.timestamp)
            )
    return out


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Seconds per finished step of a run."""
    return {step: end - start for step, start, end in step_windows(instance, run_id)}


def _one_run_per_root(instance, project):
    """A second ``curation run`` on the same instance and storage root stops at once."""
    from curation.storage.hashing import text_digest

    owner = f"curation run (pid {os.getpid()})"
    return run_lock(instance.root_directory, owner, name=text_digest(project.storage.root))


def failure_lines(result) -> list[str]:
    """Why a run failed, one line each: every failed check (per recipe, with its reason) and
    every failed step's error, without tracebacks (they are in the run's event log)."""
    from assets.checks import FAILED

    lines = []
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.partition is not None:
            recipes = f" for recipe {evaluation.partition}"
        else:
            failed = evaluation.metadata.get(FAILED)
            recipes = f" for recipe(s) {failed.value}" if failed is not None else ""
        reason = (evaluation.description or "").replace("\n", "; ")[:500]
        lines.append(f"check {name} failed{recipes}: {reason}")
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = (error.message if error else "").strip().splitlines()
            lines.append(f"step {event.step_key} failed: {message[-1] if message else '?'}")
    return lines


def run_pipeline(recipes: list[str] | None = None, quiet: bool = False) -> int:
    """Materialize every stage for the recipes asked for; print what was published."""
    started = time.perf_counter()
    project = load_project()  # validated before anything runs
    names = recipes or project.recipe_names
    for name in names:
        project.recipe(name)
    from assets.automation import range_tags
    from assets.location import build_definitions

    defs = build_definitions()
    job = defs.resolve_job_def("refresh")
    log_level = "WARNING" if quiet else "INFO"
    ok = True
    with open_instance() as instance, _one_run_per_root(instance, project):
        for tags in range_tags(names, project.recipe_names):
            print(
                f"run: recipes {tags['dagster/asset_partition_range_start']} .. "
                f"{tags['dagster/asset_partition_range_end']} on {instance.root_directory}"
            )
            try:
                result = job.execute_in_process(
                    instance=instance,
                    tags={**tags, "curation/trigger": "cli"},
                    run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                    raise_on_error=False,
                )
            except Exception as exc:
                if _is_disk_error(exc):
                    raise _unwritable(Path(instance.root_directory), exc) from None
                raise
            ok = ok and result.success
            seconds = step_seconds(instance, result.run_id)
            slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:8]
            print(f"run {result.run_id}: {'success' if result.success else 'FAILED'}")
            print("slowest steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
            for line in failure_lines(result):
                print(f"  {line}")
            if result.success:
                orderings = result.output_for_node("orderings")
                for name, ref in result.output_for_node("published").items():
                    state = "latest moved" if ref.moved_latest else "unchanged"
                    print(f"  {name:12s} {ref.dataset:20s} {ref.version}  ({state})  {ref.uri}")
                    sel = orderings[name].selection if name in orderings else {}
                    if sel:
                        print(
                            f"  {'':12s} select {sel['rule']} {sel['value']}: kept "
                            f"{sel['kept']:,} of {sel['total']:,} rows, then {ref.recipe} "
                            f"ordered them ({ref.rows:,} rows published)"
                        )
                report = result.output_for_node("probe_report")
                if report.get("report_path"):
                    print(f"probe report: {report['report_path']}")
                if report.get("missing"):
                    print(f"probe runs missing for: {', '.join(report['missing'])}")
    print(f"wall time: {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1
