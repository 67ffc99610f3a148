"""raw_corpus: the documents to order, identified by stable ids and a content version."""

import time

from dagster import AssetExecutionContext, asset

from assets.resources import CurationSettings
from curation.corpus import corpus_version, list_corpus_files, read_ids
from curation.shards import corpus_layout


@asset(group_name="corpus", description="The raw corpus: ids validated unique, content version.")
def raw_corpus(context: AssetExecutionContext, settings: CurationSettings) -> dict:
    started = time.perf_counter()
    files = list_corpus_files(settings.corpus_uri)
    corpus_layout(settings.corpus_uri)  # fail now, not after scoring, if it cannot be reordered
    ids = read_ids(settings.corpus_uri, id_column=settings.id_column)
    version = corpus_version(settings.corpus_uri)
    value = {
        "uri": settings.corpus_uri,
        "version": version,
        "rows": len(ids),
        "files": len(files),
        "id_type": str(ids.type),
    }
    context.add_output_metadata({**value, "seconds": round(time.perf_counter() - started, 3)})
    return value


def corpus_ids(corpus: dict, settings: CurationSettings):
    """The corpus id column (re-read: only ids are ever held in memory)."""
    return read_ids(corpus["uri"], id_column=settings.id_column)
