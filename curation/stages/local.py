"""Run a recipe's stages in order in this process, without an orchestrator.

What datatrove's local executor is to its pipelines: the same stage functions the orchestrated
assets call, in the same order, with the same blocking checks, so a recipe run here
publishes the same version id as ``curation run``. A failed blocking check stops the run
before anything is published, naming the recipe, the check and the reason.
"""

from collections.abc import Callable

from curation.engines import engine_session
from curation.machine import release_memory
from curation.project import Project
from curation.quality import CheckOutcome
from curation.refs import CorpusRef, ScoresRef, VersionRef
from curation.stages.corpus import build_corpus
from curation.stages.ordering import check_recipe_ordering, compute_ordering
from curation.stages.publish import publish_shard_set
from curation.stages.scores import build_scores, check_scores
from curation.stages.shards import build_shard_set, check_shard_sets


class CheckFailed(RuntimeError):
    """A blocking check failed: nothing downstream of it ran or was published."""


def _require(outcome: CheckOutcome, guard: str, recipe: str | None) -> dict:
    if not outcome.passed:
        where = f"recipe {recipe!r}: " if recipe else ""
        raise CheckFailed(f"{where}blocking check {guard} failed: {outcome.description}")
    return {"passed": True, "description": outcome.description[:500]}


def _starting(say: Callable[[str], None], stage: str) -> None:
    """Hand the last stage's freed memory back before the next (what the orchestrated
    graph's IO manager does after each step): a stage's peak is then its own."""
    release_memory()
    say(stage)


def prepare(project: Project, say: Callable[[str], None] = lambda _: None):
    """The stages every recipe shares: corpus and scores, coverage checked."""
    _starting(say, "corpus")
    corpus = build_corpus(project)
    _starting(say, "scores")
    scores, _ = build_scores(project, corpus)
    coverage = _require(check_scores(scores, corpus), "sample_scores:score_coverage", None)
    return corpus, scores, coverage


def run_recipe(
    project: Project,
    name: str,
    say: Callable[[str], None] = lambda _: None,
    shared: tuple[CorpusRef, ScoresRef, dict] | None = None,
) -> VersionRef:
    """corpus -> scores -> ordering -> shards -> published version of one recipe.

    ``say`` hears each stage's name as it starts; ``shared`` reuses :func:`prepare`'s
    result across recipes."""
    recipe = project.recipe(name)
    corpus, scores, coverage = shared or prepare(project, say)
    _starting(say, "ordering")
    ordering = compute_ordering(project, recipe, corpus, scores)
    invariants = check_recipe_ordering(ordering, corpus, scores)
    verdicts = {
        "sample_scores:score_coverage": coverage,
        "orderings:ordering_invariants": _require(
            invariants, "orderings:ordering_invariants", name
        ),
    }
    _starting(say, "shards")
    shards = build_shard_set(project, ordering, corpus, scores)
    integrity = check_shard_sets(corpus, {name: ordering}, {name: shards})[name]
    verdicts["shards:shard_integrity"] = _require(integrity, "shards:shard_integrity", name)
    _starting(say, "publish")
    return publish_shard_set(project, shards, verdicts)


def run_project(
    project: Project, names: list[str] | None = None, say: Callable[[str], None] = print
) -> dict[str, VersionRef]:
    """Every recipe asked for (default: all), corpus and scores prepared once (and under
    ``run.engine: ray`` one Ray session for them all)."""
    with engine_session(project):
        shared = prepare(project, say)
        names = names or project.recipe_names
        return {name: run_recipe(project, name, say, shared) for name in names}
