"""orderings: each recipe's permutation of the corpus, one partition per recipe.

The recipe file says what each recipe computes. A launchpad override (the per-method
config below) is never published as the recipe: it is marked as an override, and its
dataset is named ``<recipe>--override-<hash>`` so the recipe's ``latest`` never moves.
Orderings are stored content-addressed, so an unchanged recipe reuses its file.
"""

import json

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    asset,
    asset_check,
)
from pydantic import Field, create_model

from assets.checks import recipe_check_results
from assets.metadata import (
    CODE_VERSION,
    OWNERS,
    add_partition_metadata,
    curve_plot,
    kinds_for,
    scalar_metadata,
    selection_metadata,
)
from assets.partitions import SINGLE_RUN, recipe_partitions
from assets.resources import ProjectResource
from curation.ordering.engine import BOUNDS, DEFAULTS, METHODS, resolve_params
from curation.refs import CorpusRef, OrderingRef, ScoresRef
from curation.stages.ordering import check_recipe_ordering, compute_ordering


def _field_description(project, method: str, name: str) -> str:
    """What the launchpad shows for one field: the recipes' values and the bounds."""
    default = DEFAULTS[method][name]
    values = []
    for recipe in project.recipes:
        if recipe.method == method:
            value = recipe.params.get(name, default)
            values.append(f"{recipe.name} = {json.dumps(value)}")
    uses = "; ".join(values) if values else f"no {method} recipe in curation.yaml"
    return (
        f"{name}: {BOUNDS[name].text()} (checked when the run starts). curation.yaml: {uses} "
        f"(reference default {json.dumps(default)}). A value here overrides every {method} "
        "recipe in this run and is published as <dataset>--override-<hash>."
    )


def _method_config(project, method: str) -> type[Config]:
    """A small Config with exactly this method's parameters, generated from DEFAULTS; its
    bounds are the library's (:data:`curation.ordering.engine.BOUNDS`), checked when the run
    starts (:func:`launchpad_overrides`), so a bad value is one clear Failure."""
    fields = {}
    for name, default in DEFAULTS[method].items():
        fields[name] = (
            type(default) | None,
            Field(None, description=_field_description(project, method, name)),
        )
    return create_model(f"{method.capitalize()}Override", __base__=Config, **fields)


def orderings_config(project) -> type[Config]:
    configs = {m: _method_config(project, m) for m in METHODS}
    return create_model(
        "OrderingsConfig",
        __base__=Config,
        __doc__="Per-method launchpad overrides; leave empty to run the recipes as the file says.",
        **{m: (cfg | None, None) for m, cfg in configs.items()},
    )


def overrides_for(config: Config, method: str) -> dict:
    chosen = getattr(config, method, None)
    return {k: v for k, v in chosen.model_dump().items() if v is not None} if chosen else {}


def launchpad_overrides(config: Config, methods: list[str]) -> dict[str, dict]:
    """Each method's overrides, checked against the library's bounds; a bad value is one
    :class:`dagster.Failure` naming the field, the value and the bounds."""
    out, problems = {}, []
    for method in methods:
        overrides = overrides_for(config, method)
        try:
            resolve_params(method, overrides)
        except ValueError as exc:
            problems.append(f"orderings.config.{method}: {exc}")
        out[method] = overrides
    if problems:
        raise Failure(
            description="launchpad override refused: " + "; ".join(problems),
            metadata={"bounds": {k: b.text() for k, b in BOUNDS.items()}},
            allow_retries=False,
        )
    return out


def build_ordering_assets(project):
    partitions = recipe_partitions(project)
    OrderingsConfig = orderings_config(project)  # noqa: N806 (a class, named as one)

    @asset(
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        group_name="orderings",
        description="Each recipe's ordering of the corpus (position -> id), from curation.yaml.",
        kinds=kinds_for(project.storage.root, extra=("numpy",)),
        owners=OWNERS,
        code_version=CODE_VERSION,
    )
    def orderings(
        context: AssetExecutionContext,
        config: OrderingsConfig,
        project: ProjectResource,
        raw_corpus: CorpusRef,
        sample_scores: ScoresRef,
    ) -> dict[str, OrderingRef]:
        proj = project.project
        recipes = [proj.recipe(name) for name in context.partition_keys]
        overrides = launchpad_overrides(config, sorted({r.method for r in recipes}))
        out = {}
        for recipe in recipes:
            name = recipe.name
            ref = compute_ordering(
                proj, recipe, raw_corpus, sample_scores, overrides[recipe.method]
            )
            for warning in ref.warnings:
                context.log.warning(f"{name}: {warning}")
            kept = ref.selection
            if kept:
                context.log.info(
                    f"{name}: select {kept['rule']} {kept['value']} on {kept['score_column']}: "
                    f"kept {kept['kept']:,} of {kept['total']:,} rows "
                    f"(applied threshold {kept['applied_threshold']:g})"
                )
            context.log.info(f"{name}: {ref.method} {ref.params} -> {ref.key}")
            out[name] = ref
            add_partition_metadata(
                context,
                {
                    "dagster/row_count": ref.rows,
                    "recipe": name,
                    "method": ref.method,
                    "params": ref.params,
                    "override": ref.override,
                    **selection_metadata(ref.selection),
                    "ordering_key": ref.key,
                    "score_version": ref.score_version,
                    "corpus_version": ref.corpus_version,
                    **scalar_metadata(ref.metrics, "metric_"),
                    "score_curve": curve_plot({name: ref.curve}, f"{name}: score along the order"),
                },
                name,
            )
        return out

    @asset_check(
        asset=orderings,
        name="ordering_invariants",
        blocking=True,
        partitions_def=partitions,
        additional_ins={
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
        },
        description="GX: a complete permutation, equal to a recomputation, in the method's shape.",
    )
    def ordering_invariants(
        context: AssetCheckExecutionContext,
        orderings: dict[str, OrderingRef],
        raw_corpus: CorpusRef,
        sample_scores: ScoresRef,
    ):
        outcomes = {
            name: check_recipe_ordering(ref, raw_corpus, sample_scores)
            for name, ref in orderings.items()
        }
        yield from recipe_check_results(context, outcomes)

    return orderings, ordering_invariants
