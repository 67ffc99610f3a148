"""Refresh automation: a sensor on the score source and the recipe file, and a nightly run.

The sensor keys each run by the content it reacts to (Dagster deduplicates run keys
forever, so a key must carry the version). A score change refreshes every recipe; a
recipe-file change refreshes only the recipes whose method or parameters changed, so only
their ``latest`` moves. The first tick records what is there and starts nothing.
"""

import json

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from curation.corpus.listing import corpus_sources
from curation.corpus.read import CorpusError
from curation.project import RecipeError, load_project
from curation.storage.sources import source_fingerprint

RANGE_START, RANGE_END = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)
#: what a recipe-only change recomputes (scores and corpus stay as they are)
RECIPE_STAGES = AssetSelection.groups("orderings", "shards", "probes", "published")


def range_tags(names: list[str], order: list[str]) -> list[dict[str, str]]:
    """Tags for one run per contiguous run of ``names`` in partition ``order``."""
    picked = sorted({order.index(n) for n in names})
    groups: list[list[int]] = []
    for i in picked:
        if groups and i == groups[-1][-1] + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [{RANGE_START: order[g[0]], RANGE_END: order[g[-1]]} for g in groups]


def _one_line(text: str) -> str:
    return "; ".join(line for line in text.splitlines() if line.strip())


def preflight(project) -> SkipReason | None:
    """A skip reason naming every problem the project's sources show before a run (see
    :func:`curation.stages.preflight.project_problems`), or None: a mistake starts no run."""
    from curation.project import config_path
    from curation.stages.preflight import project_problems

    problems = project_problems(project, str(config_path()))
    if problems:
        return SkipReason("not starting a run: " + "; ".join(problems))
    return None


def build_automation(project):
    names = project.recipe_names
    refresh_job = define_asset_job(
        "refresh",
        selection=AssetSelection.all(),
        description="Recompute scores, orderings, shards and probes of the recipes in range; "
        "publish what passes its checks.",
    )
    recipe_job = define_asset_job(
        "refresh_recipes",
        selection=RECIPE_STAGES,
        description="Recompute only the recipes in range (scores stay): after a recipe change.",
    )

    @sensor(
        jobs=[refresh_job, recipe_job],
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="Refreshes when the score source's content or a recipe in curation.yaml "
        "changes (only the changed recipes).",
    )
    def refresh_sensor(context: SensorEvaluationContext):
        result = _evaluate(context)
        if isinstance(result, SkipReason):
            context.log.info(result.skip_message)  # shown under "View logs" of the tick
        return result

    def _evaluate(context: SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else None
        try:
            current = load_project()
        except RecipeError as exc:
            return SkipReason(f"not starting a run: {_one_line(str(exc))}")
        refused = preflight(current)
        if refused:
            return refused
        try:
            source = current.score_source
            listed = None
            if source == current.corpus.uri:  # a corpus may be a glob or a saved dataset
                listed = list(corpus_sources(source).files)
            scores, files = source_fingerprint(source, (cursor or {}).get("files"), listed)
        except (FileNotFoundError, OSError, CorpusError) as exc:
            return SkipReason(f"not starting a run: cannot read the score source: {exc}")
        recipes = {r.name: r.fingerprint() for r in current.recipes}
        context.update_cursor(json.dumps({"scores": scores, "recipes": recipes, "files": files}))
        if cursor is None:
            return SkipReason(
                f"first tick: recorded score source {scores} and {len(recipes)} recipes; "
                "a refresh starts when either changes"
            )
        added = sorted(set(recipes) - set(names))
        note = (
            f"; recipe(s) {added} are new: reload the code location to add their partitions"
            if added
            else ""
        )
        if scores != cursor.get("scores"):
            return [
                RunRequest(run_key=f"scores-{scores}-{i}", job_name="refresh", tags=t)
                for i, t in enumerate(range_tags(names, names))
            ]
        old = cursor.get("recipes", {})
        changed = [n for n in names if n in recipes and recipes[n] != old.get(n)]
        if not changed:
            return SkipReason(f"nothing changed: scores {scores}, {len(recipes)} recipes{note}")
        context.log.info(f"recipes changed: {changed}")
        return [
            RunRequest(
                run_key=f"recipes-{t[RANGE_START]}-{t[RANGE_END]}-"
                + "-".join(recipes[n] for n in changed),
                job_name="refresh_recipes",
                tags={**t, "curation/changed_recipes": ",".join(changed)},
            )
            for t in range_tags(changed, names)
        ]

    @schedule(
        job=refresh_job,
        cron_schedule="0 3 * * *",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Nightly refresh of every recipe (03:00 UTC).",
    )
    def nightly_refresh(context):
        try:
            refused = preflight(load_project())
        except RecipeError as exc:
            refused = SkipReason(f"not starting a run: {_one_line(str(exc))}")
        if refused:
            context.log.info(refused.skip_message)
            return refused
        return RunRequest(
            run_key=None, tags={**range_tags(names, names)[0], "curation/trigger": "nightly"}
        )

    return [refresh_job, recipe_job], [refresh_sensor], [nightly_refresh]
