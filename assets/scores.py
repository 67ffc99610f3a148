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
from assets.metadata import CODE_VERSION, OWNERS, kinds_for, location, png_markdown, scalar_metadata
from assets.partitions import SINGLE_RUN
from assets.resources import ProjectResource
from curation.plots import histogram_png
from curation.quality import check_score_coverage
from curation.refs import CorpusRef, ScoresRef
from curation.scores import coverage_report, score_version
from curation.stages.scores import SCORE, load_score_table, with_driving_score
from curation.storage import resolve, write_parquet_atomic


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
        )
        table, source = load_score_table(proj)
        table, combination = with_driving_score(table, proj)
        version = score_version(table)
        loc = resolve(proj.path("work", "scores", version, "scores.parquet"))
        write_parquet_atomic(table, loc)
        columns = [c for c in table.column_names if c != "id"]
        report = coverage_report(raw_corpus.read_ids(), table, columns)
        values = table.column(SCORE).to_numpy(zero_copy_only=False).astype(np.float64)
        ref = ScoresRef(
            uri=loc.uri,
            version=version,
            column=SCORE,
            rows=table.num_rows,
            source=source,
            combination=combination,
            corpus_version=raw_corpus.version,
        )
        return Output(
            ref,
            data_version=DataVersion(version),
            metadata={
                "dagster/row_count": table.num_rows,
                "score_version": version,
                "source": source,
                "columns": columns,
                "combination": combination,
                "location": location(loc.uri),
                **scalar_metadata({k: v for k, v in report.items() if k != "columns"}, "coverage_"),
                "column_stats": scalar_metadata({"c": report.get("columns", {})})["c"],
                "histogram": png_markdown(
                    histogram_png(values[np.isfinite(values)], "driving score"), "score histogram"
                ),
            },
        )

    @asset_check(
        asset=sample_scores,
        name="score_coverage",
        blocking=True,
        additional_ins={"raw_corpus": AssetIn("raw_corpus")},
        description="GX: every corpus id has exactly one finite score; no unknown ids.",
    )
    def score_coverage(sample_scores: ScoresRef, raw_corpus: CorpusRef) -> AssetCheckResult:
        table = sample_scores.read_table()
        outcome = check_score_coverage(
            raw_corpus.read_ids(),
            table.column("id"),
            table.column(sample_scores.column).to_numpy(zero_copy_only=False),
        )
        return to_check_result(outcome)

    return sample_scores, score_coverage
