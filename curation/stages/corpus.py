"""The raw corpus as a stage: names and columns checked before any work, non-parquet
corpora staged once as parquet, ids validated unique, a content version from its bytes."""

from collections.abc import Callable

from curation.corpus.read import corpus_version, list_corpus_files, read_ids
from curation.project import Project
from curation.refs import CorpusRef
from curation.stages.preflight import prepare_corpus


def build_corpus(project: Project, log: Callable[[str], None] | None = None) -> CorpusRef:
    """Validate the corpus (names and columns, readable, reorderable, unique ids) and
    describe it; its ``uri`` is the parquet the run reads (the staged copy of a JSON lines,
    CSV or ``save_to_disk`` corpus, converted unless an unchanged copy exists)."""
    spec = project.corpus
    staged = prepare_corpus(project, log=log)  # refuses name/column clashes before any work
    files = list_corpus_files(staged.uri)
    ids = read_ids(staged.uri, id_column=spec.id_column)
    return CorpusRef(
        uri=staged.uri,
        version=corpus_version(staged.uri),
        rows=len(ids),
        files=len(files),
        id_type=str(ids.type),
        id_column=spec.id_column,
        text_column=spec.text_column,
        source=staged.source,
        staged="reused" if staged.reused else ("converted" if staged.key else ""),
    )
