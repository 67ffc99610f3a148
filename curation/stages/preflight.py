"""Before any work: every name and column problem the project file and the corpus's own
footers can reveal, refused at once and all together.

A run used to find a clashing ``score`` column only when it wrote shards, after scoring
and ordering had written their work files. Here, before anything is written: the columns
the project names (ids, text, scores taken from the corpus) must exist with usable types,
and no corpus column may use the prefix reserved for the columns the pipeline adds
(:mod:`curation.shards.columns`). Dataset names are checked when the project file is
parsed (:class:`curation.project.Project`). A corpus that is not parquet is first peeked at
(its first chunk) for reserved names, then checked in full on its staged footers.
"""

from collections.abc import Callable

import pyarrow as pa

from curation.corpus.listing import ARROW, CSV, JSONL, corpus_sources
from curation.corpus.read import CorpusError
from curation.corpus.staging import StagedCorpus, stage_corpus
from curation.project import Project
from curation.shards import CorpusFormatError, corpus_layout
from curation.shards.columns import ADDED, RESERVED_PREFIX, reserved_names


class PreflightError(CorpusError):
    """The project and its corpus disagree (names, columns, types); every problem named."""


def _score_type_ok(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
    )


def reserved_problems(names: list[str]) -> list[str]:
    reserved = reserved_names(names)
    if not reserved:
        return []
    return [
        f"column(s) {reserved} use the prefix {RESERVED_PREFIX!r}, reserved for the "
        f"columns the pipeline adds to shards {list(ADDED)}; rename them"
    ]


def column_problems(project: Project, schema: pa.Schema) -> list[str]:
    """What is wrong between the project and a corpus of this schema (empty: nothing)."""
    names, problems = schema.names, []
    corpus = project.corpus
    for key, column in (
        ("corpus.id_column", corpus.id_column),
        ("corpus.text_column", corpus.text_column),
    ):
        if column not in names:
            problems.append(f"{key} {column!r} is not a column of the corpus")
    problems += reserved_problems(names)
    for column in project.corpus_score_columns:
        if column not in names:
            problems.append(f"score column {column!r} is not a column of the corpus")
        elif not _score_type_ok(schema.field(column).type):
            problems.append(
                f"score column {column!r} is {schema.field(column).type}; scores must be numbers"
            )
    return problems


def _refuse(uri: str, problems: list[str], schema: pa.Schema) -> None:
    if problems:
        raise PreflightError(
            f"corpus {uri}: " + "; ".join(problems) + f" (its columns: {schema.names})"
        )


def peek_schema(uri: str) -> pa.Schema | None:
    """The schema of a non-parquet corpus's first chunk (None for parquet, or when the first
    file is empty): enough to refuse reserved names before converting anything."""
    sources = corpus_sources(uri)
    first = sources.files[0]
    if sources.format == JSONL:
        from curation.corpus.jsonl import iter_tables

        for _line, table in iter_tables(first):
            return table.schema
        return None
    if sources.format == ARROW:
        with first.fs.open_input_stream(first.path) as f:
            return pa.ipc.open_stream(f).schema
    if sources.format == CSV:
        from curation.corpus.read import iter_batches

        for batch in iter_batches(first.uri):
            return batch.schema
    return None


def check_corpus(project: Project, uri: str, named: str | None = None) -> pa.Schema:
    """The parquet corpus's schema from its footers, or :class:`PreflightError` naming the
    corpus as ``named`` (the source of a staged copy)."""
    try:
        schema = corpus_layout(uri).schema
    except CorpusFormatError as exc:
        raise PreflightError(str(exc)) from None
    _refuse(named or uri, column_problems(project, schema), schema)
    return schema


def prepare_corpus(project: Project, log: Callable[[str], None] | None = None) -> StagedCorpus:
    """The parquet corpus a run reads, checked: the corpus itself, or its staged copy
    (converted once; see :mod:`curation.corpus.staging`)."""
    uri = project.corpus.uri
    make_ids = project.corpus.id_column if project.corpus.ids == "file_row" else None
    peeked = peek_schema(uri)
    if peeked is not None:
        problems = reserved_problems(peeked.names)
        if make_ids and make_ids in peeked.names:
            problems.append(
                f"corpus.ids is file_row but the records already have a {make_ids!r} field; "
                "use them (ids: column) or name another corpus.id_column"
            )
        _refuse(uri, problems, peeked)
    staged = stage_corpus(
        uri, project.storage.root, project.run.memory_limit_mb, log=log, make_ids=make_ids
    )
    named = uri if staged.uri == uri else f"{uri} (staged as {staged.uri})"
    check_corpus(project, staged.uri, named)
    return staged
