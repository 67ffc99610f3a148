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

from curation.corpus.listing import ARROW, CSV, JSONL, PARQUET, corpus_sources
from curation.corpus.read import CorpusError
from curation.corpus.staging import StagedCorpus, stage_corpus
from curation.project import Project
from curation.shards import CorpusFormatError, corpus_layout
from curation.shards.columns import ADDED, RESERVED_PREFIX, reserved_names
from curation.stages.memory import memory_problem


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


def column_problems(project: Project, schema: pa.Schema, source: str = "") -> list[str]:
    """What is wrong between the project and a corpus of this schema (empty: nothing).
    ``source``: the corpus's format when ``schema`` is what it holds before staging
    (records that must not have the id column ``ids: file_row`` makes); "" once staged."""
    names, problems = schema.names, []
    corpus = project.corpus
    wanted = [("corpus.text_column", corpus.text_column)]
    if corpus.ids == "file_row" and source == PARQUET:
        problems.append(
            "corpus.ids is file_row but the corpus is parquet, read in place: it must carry "
            f"its own {corpus.id_column!r} column (ids are made only while staging)"
        )
    elif corpus.ids == "file_row" and source and corpus.id_column in names:
        problems.append(
            f"corpus.ids is file_row but the records already have a {corpus.id_column!r} "
            "field; use them (ids: column) or name another corpus.id_column"
        )
    elif corpus.ids == "column" or not source:
        wanted.insert(0, ("corpus.id_column", corpus.id_column))
    for key, column in wanted:
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
        fmt = corpus_sources(uri).format
        problems += [p for p in column_problems(project, peeked, fmt) if "file_row" in p]
        _refuse(uri, problems, peeked)
    map_files = None
    if project.run.engine == "ray":  # the map stage as Ray tasks, one per source file
        from curation.engines.ray_staging import map_on_ray

        map_files = map_on_ray(project)
    staged = stage_corpus(
        uri,
        project.storage.root,
        project.run.memory_limit_mb,
        log=log,
        make_ids=make_ids,
        map_files=map_files,
    )
    named = uri if staged.uri == uri else f"{uri} (staged as {staged.uri})"
    check_corpus(project, staged.uri, named)
    too_big = memory_problem(project, staged.uri)
    if too_big:
        raise PreflightError(f"run.memory_limit_mb: {too_big} ({named})")
    return staged


# ----------------------------------------------------------------------------- whole project


def _score_table_columns(uri: str) -> list[str]:
    """The columns of a score table from its footers (parquet) or its first chunk (text)."""
    import pyarrow.parquet as pq

    from curation.corpus.read import format_of, iter_batches, list_corpus_files

    try:
        files = list_corpus_files(uri)
    except CorpusError as exc:
        raise CorpusError(str(exc).replace("corpus not found", "score table not found")) from None
    names: list[str] = []
    for loc in files:
        if format_of(loc.path) == "parquet":
            try:
                found = pq.read_schema(loc.path, filesystem=loc.fs).names
            except (pa.ArrowException, OSError) as exc:
                raise CorpusError(f"{loc.uri} is not readable parquet: {exc}") from None
        else:
            found = next((b.schema.names for b in iter_batches(loc.uri)), [])
        names += [n for n in found if n not in names]
    return names


def _corpus_problems(project: Project) -> list[tuple[str, str]]:
    """(key, problem) for the corpus: it exists, parquet footers read, the columns the
    project names are there (text formats: their first chunk, until staging checks all)."""
    uri = project.corpus.uri
    try:
        sources = corpus_sources(uri)
        if sources.format == PARQUET:
            schema = corpus_layout(uri).schema
        else:
            schema = peek_schema(uri)
    except (CorpusError, CorpusFormatError, OSError) as exc:
        return [("corpus.uri", str(exc))]
    if schema is None:
        return []
    too_big = memory_problem(project, uri) if sources.format == PARQUET else None
    score_key = "scores.column" if project.scores.column else "scores.columns"
    out = []
    for problem in column_problems(project, schema, sources.format):
        if problem.startswith("corpus."):  # "corpus.id_column 'x' is not a column ..."
            key, problem = problem.split(" ", 1)
        else:
            key = score_key if problem.startswith("score column") else "corpus.uri"
        out.append((key, f"{problem} ({uri}; its columns: {', '.join(schema.names)})"))
    return out + ([("run.memory_limit_mb", too_big)] if too_big else [])


def _score_problems(project: Project) -> list[tuple[str, str]]:
    """(key, problem) for an imported score table: it exists and has the id and score
    columns the project names."""
    from curation.project import same_location

    spec = project.scores
    if not spec.uri or same_location(spec.uri, project.corpus.uri):
        return []
    try:
        names = _score_table_columns(spec.uri)
    except (CorpusError, OSError) as exc:
        return [("scores.uri", str(exc))]
    present = f"(its columns: {', '.join(names)})"
    problems = []
    if spec.id_column not in names:
        problems.append(
            ("scores.id_column", f"{spec.id_column!r} is not a column of {spec.uri} {present}")
        )
    for column in spec.columns:
        if column not in names:
            problems.append(
                ("scores.columns", f"{column!r} is not a column of {spec.uri} {present}")
            )
    return problems


def _selection_problems(project: Project) -> list[tuple[str, str]]:
    """(key, problem) for ``select:`` rules that footers already refute: a ``score:`` an
    imported table without listed columns lacks, a threshold on a combination of its
    columns, a top rule that keeps no row of a parquet corpus (K = int(n * R) = 0)."""
    from curation.ordering.selection import kept_count, score_problem
    from curation.project import same_location

    selected = [(i, r) for i, r in enumerate(project.recipes) if r.select is not None]
    if not selected:
        return []
    spec, uri = project.scores, project.corpus.uri
    columns = None  # known only when the file does not list them (else checked when parsed)
    if spec.uri and not spec.columns and not same_location(spec.uri, uri):
        try:
            columns = [c for c in _score_table_columns(spec.uri) if c != spec.id_column]
        except (CorpusError, OSError):
            columns = None  # reported by the score table's own check
    try:
        n_rows = corpus_layout(uri).n_rows if corpus_sources(uri).format == PARQUET else None
    except (CorpusError, CorpusFormatError, OSError):
        n_rows = None  # reported by the corpus's own check
    problems = []
    for i, recipe in selected:
        key = f"recipes[{i}] (name {recipe.name!r}).select"
        rule, value = recipe.select.rule
        if columns is not None:
            problem = score_problem(rule, recipe.select.score, columns, spec.normalize)
            if problem:
                problems.append((key, problem))
        if n_rows is not None and rule != "threshold" and not kept_count(rule, value, n_rows):
            problems.append(
                (f"{key}.{rule}", f"{value} keeps nothing of the corpus's {n_rows} rows")
            )
    return problems


def _probe_problems(project: Project) -> list[tuple[str, str]]:
    if not any(r.probe for r in project.recipes):
        return []
    from curation.probe.config import preset

    overrides = dict(project.probe.overrides)
    if project.probe.seeds is not None:
        overrides["seeds"] = project.probe.seeds
    try:
        preset(project.probe.preset, **overrides)
    except (ValueError, TypeError) as exc:
        return [("probe", str(exc))]
    return []


def project_problems(project: Project, source: str) -> list[str]:
    """Everything a run would trip over that can be seen without doing its work, one line
    each, ``file: key: problem``: the corpus (path, footers, columns, reserved names), the
    score table (path, columns), selection rules the footers refute, the probe settings.
    Recipe parameters, names and bounds are refused when the project file is read
    (:func:`curation.project.load_project`). Reads footers and first chunks only: cheap
    enough for every sensor tick."""
    found = _corpus_problems(project) + _score_problems(project)
    found += _selection_problems(project) + _probe_problems(project)
    return [f"{source}: {key}: {problem}" for key, problem in found]


def check_project(project: Project, source: str) -> None:
    """:class:`PreflightError` with one line per problem (see :func:`project_problems`)."""
    problems = project_problems(project, source)
    if problems:
        raise PreflightError("\n".join(problems))
