"""sample_scores: import a score table or score the text offline; version it; check coverage."""

import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, asset, asset_check

from assets.checks import to_check_result
from assets.corpus import corpus_ids
from assets.metadata import png_markdown, scalar_metadata
from assets.resources import CurationSettings
from curation.plots import histogram_png
from curation.quality import check_score_coverage
from curation.scores import combine_scores, coverage_report, import_scores, score_version
from curation.storage import resolve, write_parquet_atomic

SCORE = "_ordering_score"  # the column that drives ordering (reserved name)


def load_score_table(settings: CurationSettings) -> tuple[pa.Table, str]:
    """Imported table when a score source is configured, else built-in scorers on the text."""
    if settings.scores_uri:
        table = import_scores(
            settings.scores_uri,
            id_column=settings.score_id_column,
            score_columns=list(settings.score_columns) or None,
        )
        return table, "import"
    from curation.scores.base import score_corpus

    table = score_corpus(
        settings.corpus_uri,
        list(settings.scorers),
        text_column=settings.text_column,
        id_column=settings.id_column,
    )
    return table, "builtin"


def with_driving_score(table: pa.Table, settings: CurationSettings) -> tuple[pa.Table, dict]:
    """Add the one column that drives ordering: the single score, or a combination."""
    columns = [c for c in table.column_names if c != "id"]
    if SCORE in columns:
        raise ValueError(f"score column name {SCORE!r} is reserved; rename it in the score table")
    if len(columns) == 1:
        recipe = {"columns": columns, "normalize": "none"}
        return table.append_column(SCORE, table.column(columns[0]).cast(pa.float64())), recipe
    combined, recipe = combine_scores(
        table,
        columns,
        weights=settings.weights,
        directions=settings.directions,
        normalize=settings.normalize,
    )
    return table.append_column(SCORE, pa.array(combined)), recipe


@asset(
    group_name="scores",
    description="Per-sample scores (imported or built-in), versioned by content.",
)
def sample_scores(
    context: AssetExecutionContext, settings: CurationSettings, raw_corpus: dict
) -> dict:
    started = time.perf_counter()
    table, source = load_score_table(settings)
    table, recipe = with_driving_score(table, settings)
    version = score_version(table)
    loc = resolve(settings.path("work", "scores", version, "scores.parquet"))
    write_parquet_atomic(table, loc)
    columns = [c for c in table.column_names if c != "id"]
    report = coverage_report(corpus_ids(raw_corpus, settings), table, columns)
    values = table.column(SCORE).to_numpy(zero_copy_only=False).astype(np.float64)
    finite = values[np.isfinite(values)]
    context.add_output_metadata(
        {
            "score_version": version,
            "source": source,
            "rows": table.num_rows,
            "columns": columns,
            "combination": recipe,
            **scalar_metadata({k: v for k, v in report.items() if k != "columns"}, "coverage_"),
            "column_stats": report.get("columns", {}),
            "histogram": png_markdown(histogram_png(finite, "driving score"), "score histogram"),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    return {
        "uri": loc.uri,
        "version": version,
        "column": SCORE,
        "rows": table.num_rows,
        "recipe": recipe,
        "source": source,
    }


def read_score_table(scores: dict) -> pa.Table:
    loc = resolve(scores["uri"])
    return pq.read_table(loc.path, filesystem=loc.fs, columns=["id", scores["column"]])


@asset_check(
    asset=sample_scores,
    name="score_coverage",
    blocking=True,
    additional_ins={"raw_corpus": AssetIn("raw_corpus")},
    description="GX: every corpus id has exactly one finite score; no unknown ids.",
)
def score_coverage(
    settings: CurationSettings, sample_scores: dict, raw_corpus: dict
) -> AssetCheckResult:
    table = read_score_table(sample_scores)
    ids = corpus_ids(raw_corpus, settings)
    outcome = check_score_coverage(
        ids,
        table.column("id"),
        table.column(sample_scores["column"]).to_numpy(zero_copy_only=False),
    )
    return to_check_result(outcome)
