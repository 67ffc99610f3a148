"""The raw corpus as a stage: ids validated unique, a content version from its bytes."""

from curation.corpus.read import corpus_version, list_corpus_files, read_ids
from curation.project import Project
from curation.refs import CorpusRef
from curation.shards import corpus_layout


def build_corpus(project: Project) -> CorpusRef:
    """Validate the corpus (readable, reorderable, unique ids) and describe it."""
    spec = project.corpus
    files = list_corpus_files(spec.uri)
    corpus_layout(spec.uri)  # fail now, not after scoring, if it cannot be reordered
    ids = read_ids(spec.uri, id_column=spec.id_column)
    return CorpusRef(
        uri=spec.uri,
        version=corpus_version(spec.uri),
        rows=len(ids),
        files=len(files),
        id_type=str(ids.type),
        id_column=spec.id_column,
        text_column=spec.text_column,
    )
