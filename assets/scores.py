"""sample_scores: import a score table or score the text offline; version it; check coverage."""

import numpy as np
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    DataVersion,
    Output,
    asset,
    asset_check,
)

from assets.checks import to_check_result
from assets.metadata import (
    CODE_VERSION,
    OWNERS,
    kinds_for,
    location,
    png_markdown,
    scalar_metadata,
    table_value,
)
from assets.partitions import SINGLE_RUN
from assets.quiet import our_dagster_features
from assets.resources import ProjectResource
from curation.plots import histogram_png
from curation.refs import CorpusRef, ScoresRef
from curation.stages.scores import build_scores, check_scores


def build_scores_assets(project):
    @asset(
        backfill_policy=SINGLE_RUN,  # lets a CLI partition range include this stage
        group_name="scores",
        description="Per-sample scores (imported or built-in), versioned by content.",
        kinds=kinds_for(project.scores.uri, project.storage.root),
        owners=OWNERS,
        code_version=CODE_VERSION,
    )
    def sample_scores(
        context: AssetExecutionContext, project: ProjectResource, raw_corpus: CorpusRef
    ) -> Output[ScoresRef]:
        proj = project.project
        context.log.info(
            f"scores: {'importing ' + proj.scores.uri if proj.scores.uri else 'built-in'}"
            f" {'' if proj.scores.uri else ', '.join(proj.scores.scorers)}"
            f"{'' if proj.scores.uri else ' on the ' + proj.run.engine + ' engine'}"
        )
        ref, report = build_scores(proj, raw_corpus)
        values = ref.read_scores()  # the driving column only, for the histogram
        columns = report.get("columns", {})
        with our_dagster_features():  # data_version
            out = Output(
                ref,
                data_version=DataVersion(ref.version),
                metadata={
                    "dagster/row_count": ref.rows,
                    "score_version": ref.version,
                    "source": ref.source,
                    # where built-in scorers ran (an imported table is read here)
                    "engine": proj.run.engine if not proj.scores.uri else "local",
                    "columns": list(columns),
                    "combination": ref.combination,
                    "location": location(ref.uri),
                    **scalar_metadata(
                        {k: v for k, v in report.items() if k != "columns"}, "coverage_"
                    ),
                    "column_stats": table_value(
                        [{"column": name, **stats} for name, stats in columns.items()]
                    ),
                    "histogram": png_markdown(
                        histogram_png(values[np.isfinite(values)], "driving score"),
                        "score histogram",
                    ),
                },
            )
        return out

    @asset_check(
        asset=sample_scores,
        name="score_coverage",
        blocking=True,
        additional_ins={"raw_corpus": AssetIn("raw_corpus")},
        description="GX: every corpus id has exactly one finite score; no unknown ids.",
    )
    def score_coverage(sample_scores: ScoresRef, raw_corpus: CorpusRef) -> AssetCheckResult:
        outcome = check_scores(sample_scores, raw_corpus)
        return to_check_result(outcome)

    return sample_scores, score_coverage
