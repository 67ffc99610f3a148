"""Scores as a stage: the score table a project asks for, the one column that drives its
orderings, a content version, and the coverage check that blocks everything downstream."""

from functools import partial

import numpy as np
import pyarrow as pa

from curation.project import Project
from curation.quality import CheckOutcome, check_score_coverage
from curation.refs import CorpusRef, ScoresRef
from curation.scores import coverage_report, score_version
from curation.scores.combine import combine_scores
from curation.storage import resolve, write_parquet_atomic

SCORE = "_ordering_score"  # the column that drives ordering (a reserved name)


def load_score_table(project: Project, corpus_uri: str | None = None) -> tuple[pa.Table, str]:
    """The scores the project names: the corpus's own column(s), an imported table, or the
    built-in scorers. ``corpus_uri`` is the parquet corpus the run reads (its staged copy
    when the corpus is not parquet); default: the project's corpus."""
    spec, corpus = project.scores, project.corpus
    corpus_uri = corpus_uri or corpus.uri
    from_corpus = project.corpus_score_columns
    if from_corpus:  # read id + the score column(s) from the corpus; nothing else, no copy
        from curation.scores.importer import import_scores

        table = import_scores(corpus_uri, id_column=corpus.id_column, score_columns=from_corpus)
        return table, "corpus"
    if spec.uri:
        from curation.scores.importer import import_scores

        table = import_scores(
            spec.uri, id_column=spec.id_column, score_columns=list(spec.columns) or None
        )
        return table, "import"
    from curation.scores.base import score_corpus

    options = dict(
        text_column=corpus.text_column,
        id_column=corpus.id_column,
        memory_limit_bytes=project.run.memory_limit_mb << 20,
    )
    if project.run.engine == "ray":  # an actor per CPU of the cluster, fitted scorers in each
        from curation.engines.ray_cluster import ray_session
        from curation.engines.ray_scores import score_units_on_ray

        with ray_session(project) as ray:
            engine = partial(
                score_units_on_ray, actors=max(1, ray.cpus), num_gpus=project.ray.scoring_gpus
            )
            table = score_corpus(corpus_uri, list(spec.scorers), engine=engine, **options)
        return table, "builtin"
    # worker processes on every core the run's memory setting allows
    return score_corpus(corpus_uri, list(spec.scorers), **options), "builtin"


def with_driving_score(table: pa.Table, project: Project) -> tuple[pa.Table, dict]:
    """Add the column that drives ordering: the single score, or a combination of several."""
    columns = [c for c in table.column_names if c != "id"]
    if SCORE in columns:
        raise ValueError(f"score column name {SCORE!r} is reserved; rename it in the score table")
    if len(columns) == 1:
        combination = {"columns": columns, "normalize": "none"}
        return table.append_column(SCORE, table.column(columns[0]).cast(pa.float64())), combination
    spec = project.scores
    combined, combination = combine_scores(
        table, columns, weights=spec.weights, directions=spec.directions, normalize=spec.normalize
    )
    return table.append_column(SCORE, pa.array(np.asarray(combined))), combination


def build_scores(project: Project, corpus: CorpusRef) -> tuple[ScoresRef, dict]:
    """Load or compute the scores, add the driving column, store them content-addressed;
    returns the ref and a coverage report (small: counts and per-column statistics)."""
    table, source = load_score_table(project, corpus.uri)
    table, combination = with_driving_score(table, project)
    version = score_version(table)
    loc = resolve(project.path("work", "scores", version, "scores.parquet"))
    write_parquet_atomic(table, loc)
    columns = [c for c in table.column_names if c != "id"]
    report = coverage_report(corpus.read_ids(), table, columns)
    ref = ScoresRef(
        uri=loc.uri,
        version=version,
        column=SCORE,
        rows=table.num_rows,
        source=source,
        combination=combination,
        corpus_version=corpus.version,
    )
    return ref, report


def check_scores(scores: ScoresRef, corpus: CorpusRef) -> CheckOutcome:
    """Blocking: every corpus id has exactly one finite score, and no score names an
    unknown id."""
    table = scores.read_table()
    return check_score_coverage(
        corpus.read_ids(),
        table.column("id"),
        table.column(scores.column).to_numpy(zero_copy_only=False),
    )
