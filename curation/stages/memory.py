"""What a run's memory setting must hold for a corpus, known from its parquet footers.

Every stage streams documents in bounded batches, so text, shards, recipes and batches cost
the same whatever the corpus. What grows with it is a few arrays per document that some
stage must hold whole: the scores and the permutation the ordering sorts, the corpus row
fingerprints the shard check compares, and the id column the score join and the ordering
table read. ``run.memory_limit_mb`` covers those too, so a corpus too large for the
setting is refused before any work, naming the setting it needs, instead of running past
it. Measured on these machines (``bench/memory_stages.py``, 10^6 -> 3x10^6 documents
with 8-byte ids): the hungriest stages, the score join and its check and the ordering
with its metrics, hold ~175 bytes per added document; the corpus ~120; the shard check of
every recipe ~11. Small runs pay a fixed part on top (thread pools, GX contexts), which
:data:`WORKING_MB` covers. The interpreter and libraries (~0.6 GB, GX and torch
included) are not part of the setting.
"""

import math

import pyarrow.parquet as pq

from curation.corpus.read import list_corpus_files
from curation.machine import memory_bytes
from curation.project import Project

MiB = 1 << 20
#: bytes a document that the hungriest stage holds besides its ids (~175 measured, 8-byte ids)
PER_DOCUMENT = 160
#: copies of the id column a stage may hold at once (read, normalised, taken, joined)
ID_COPIES = 4
#: room for the batches, buffers, thread pools and GX contexts every stage uses whatever the
#: corpus size (60-140 MiB seen over a 2,000-document run, the most on a loaded machine)
WORKING_MB = 160


def footer_size(uri: str, id_column: str) -> tuple[int, float]:
    """(documents, id bytes per document) of a parquet corpus, from its footers only."""
    rows, id_bytes = 0, 0
    for loc in list_corpus_files(uri):
        with loc.fs.open_input_file(loc.path) as f:
            meta = pq.ParquetFile(f).metadata
        names = [meta.schema.column(j).path for j in range(meta.num_columns)]
        column = names.index(id_column) if id_column in names else None
        rows += meta.num_rows
        for g in range(meta.num_row_groups):
            if column is not None:
                id_bytes += meta.row_group(g).column(column).total_uncompressed_size
    return rows, (id_bytes / rows if rows else 0.0)


def memory_needed_mb(documents: int, id_bytes: float) -> int:
    """The smallest ``run.memory_limit_mb`` that holds a corpus of this shape."""
    per_document = PER_DOCUMENT + ID_COPIES * max(id_bytes, 8.0)
    return WORKING_MB + math.ceil(documents * per_document / MiB)


def memory_problem(project: Project, uri: str) -> str | None:
    """Why the memory setting cannot hold the parquet corpus at ``uri``, or why this
    machine cannot give the setting (under the local engine); None when both hold."""
    documents, id_bytes = footer_size(uri, project.corpus.id_column)
    need = memory_needed_mb(documents, id_bytes)
    have = project.run.memory_limit_mb
    if need <= have:
        machine = memory_bytes()
        if project.run.engine == "local" and machine and have * MiB > machine:
            return (
                f"{have:,} MiB is more than this machine lets the run hold "
                f"({machine // MiB:,} MiB); the run would be killed for memory, not refused. "
                f"Lower it (this corpus needs {need:,}) or run on a larger machine"
            )
        return None
    return (
        f"{have} MiB cannot hold {documents:,} documents: the stages that keep a few arrays "
        f"a document (scores, permutation, fingerprints, {id_bytes:.0f}-byte ids) need about "
        f"{need:,} MiB; set run.memory_limit_mb (or CURATION_MEMORY_LIMIT_MB) to at least "
        f"{need}"
    )
