"""orderings: each recipe's permutation of the corpus, one partition per recipe.

The recipe file says what each recipe computes. A launchpad override (the per-method
config below) is never published as the recipe: it is marked as an override, and its
dataset is named ``<recipe>--override-<hash>`` so the recipe's ``latest`` never moves.
Orderings are stored content-addressed, so an unchanged recipe reuses its file.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetIn,
    Config,
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
from curation.ordering.engine import DEFAULTS, METHODS
from curation.refs import CorpusRef, OrderingRef, ScoresRef
from curation.stages.ordering import check_recipe_ordering, compute_ordering

_BOUNDS = {"folding_layer": 1, "zigzag_layer": 1, "num_sections": 1, "window_size": 0, "seed": 0}


def _method_config(method: str) -> type[Config]:
    """A small Config with exactly this method's parameters, generated from DEFAULTS."""
    fields = {}
    for name, default in DEFAULTS[method].items():
        kind = type(default)
        bounds = {"ge": _BOUNDS[name]} if name in _BOUNDS else {}
        if name in ("folding_ratio", "x_pct", "y_pct"):
            bounds = {"ge": 0.0}
        fields[name] = (
            kind | None,
            Field(
                None,
                description=f"override for every {method} recipe in this run "
                f"(reference default {default!r}); published as an override",
                **bounds,
            ),
        )
    return create_model(f"{method.capitalize()}Override", __base__=Config, **fields)


METHOD_CONFIGS = {m: _method_config(m) for m in METHODS}
OrderingsConfig = create_model(
    "OrderingsConfig",
    __base__=Config,
    __doc__="Per-method launchpad overrides; leave empty to run the recipes as the file says.",
    **{m: (cfg | None, None) for m, cfg in METHOD_CONFIGS.items()},
)


def overrides_for(config: Config, method: str) -> dict:
    chosen = getattr(config, method, None)
    return {k: v for k, v in chosen.model_dump().items() if v is not None} if chosen else {}


def build_ordering_assets(project):
    partitions = recipe_partitions(project)

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
        out = {}
        for name in context.partition_keys:
            recipe = proj.recipe(name)
            ref = compute_ordering(
                proj, recipe, raw_corpus, sample_scores, overrides_for(config, recipe.method)
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
