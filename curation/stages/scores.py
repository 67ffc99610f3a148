"""The score table a project asks for, and the one column that drives its orderings."""

import numpy as np
import pyarrow as pa

from curation.project import Project
from curation.scores.combine import combine_scores

SCORE = "_ordering_score"  # the column that drives ordering (a reserved name)


def load_score_table(project: Project) -> tuple[pa.Table, str]:
    """The imported table when a score source is configured, else built-in scorers."""
    spec, corpus = project.scores, project.corpus
    if spec.uri:
        from curation.scores.importer import import_scores

        table = import_scores(
            spec.uri, id_column=spec.id_column, score_columns=list(spec.columns) or None
        )
        return table, "import"
    from curation.scores.base import score_corpus

    table = score_corpus(  # worker processes on every core the run's memory setting allows
        corpus.uri,
        list(spec.scorers),
        text_column=corpus.text_column,
        id_column=corpus.id_column,
        memory_limit_bytes=project.run.memory_limit_mb << 20,
    )
    return table, "builtin"


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
