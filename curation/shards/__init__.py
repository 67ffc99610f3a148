"""Write documents in a given order as parquet shards, out of core, with bounded memory.

An ordering is ``rows``: output position ``p`` holds corpus row ``rows[p]``. The corpus
is a parquet file or a directory of parquet files (global row index = files in name
order, rows in file order). Output is ``part-00000.parquet, ...``: every corpus column
plus ``_curation_position`` (and optional extra per-position columns, all under the
reserved prefix of :mod:`.columns`).

Every output shard is an independent unit of work. Two ways to fill a shard, with the
same bytes as a result:

* **gather** (:mod:`.gather`): read only the source row groups that hold the shard's rows.
* **bucket** (:mod:`.bucket`): scatter each source file into per-shard spill files, then
  write each shard from its spill.

:func:`write_ordered_shards` (:mod:`.ordered`) picks the cheaper one from parquet metadata
alone (:mod:`.plan`). ``memory_limit_bytes`` caps the whole process (:mod:`.memory`); too
small a cap raises :class:`MemoryCapError` naming the cap and the minimum it needs.

Shards are sized by bytes (``DEFAULT_SHARD_BYTES`` of uncompressed data, rows per shard
derived from the corpus); a pipeline fans out in a bounded number of units
(:func:`plan_groups`, :func:`plan_file_groups`, :func:`scatter_group`, :func:`write_group`).

Modules: ``layout`` (where rows live), ``memory`` (the budget), ``plan`` (shards, passes,
strategy), ``job`` (a checked ordering shared by every unit), ``writer`` (one hashed
parquet file), ``gather``, ``bucket``, ``groups`` (bounded units), ``pool`` (threads),
``ordered`` (the one-call driver).
"""

from curation.machine import available_cores, release_memory
from curation.shards.bucket import (
    SPILL_COMPRESSION,
    SPILL_NAME,
    scatter_file,
    scatter_source_file,
    shard_from_spill,
    write_shard_from_spill,
)
from curation.shards.columns import POSITION, RESERVED_PREFIX, SCORE
from curation.shards.errors import (
    CorpusFormatError,
    MemoryCapError,
    MemoryCapWarning,
    RowsError,
    ShardError,
)
from curation.shards.gather import gather_shard, write_shard
from curation.shards.groups import (
    ShardGroup,
    plan_file_groups,
    plan_groups,
    scatter_group,
    write_group,
)
from curation.shards.job import ShardJob, inverse_permutation, validate_rows
from curation.shards.layout import CorpusLayout, corpus_layout
from curation.shards.memory import (
    DEFAULT_MEMORY_LIMIT,
    HEADROOM,
    MiB,
    data_budget,
    min_data_bytes,
    resident_bytes,
    workers_within,
)
from curation.shards.ordered import write_ordered_shards
from curation.shards.plan import (
    DEFAULT_SHARD_BYTES,
    MAX_ROW_GROUP_ROWS,
    SHARD_NAME,
    TARGET_ROW_GROUP_BYTES,
    ShardSpec,
    choose_strategy,
    default_row_group_rows,
    gather_read_bytes,
    plan_passes,
    plan_shards,
    rows_per_shard_for,
)
from curation.shards.pool import run_units
from curation.shards.writer import WRITER_OPTIONS, ShardInfo

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "ShardGroup",
    "available_cores",
    "plan_file_groups",
    "plan_groups",
    "rows_per_shard_for",
    "run_units",
    "scatter_group",
    "write_group",
    "DEFAULT_MEMORY_LIMIT",
    "HEADROOM",
    "MAX_ROW_GROUP_ROWS",
    "POSITION",
    "SCORE",
    "RESERVED_PREFIX",
    "SHARD_NAME",
    "SPILL_COMPRESSION",
    "SPILL_NAME",
    "TARGET_ROW_GROUP_BYTES",
    "WRITER_OPTIONS",
    "CorpusFormatError",
    "CorpusLayout",
    "MemoryCapError",
    "MemoryCapWarning",
    "MiB",
    "RowsError",
    "ShardError",
    "ShardInfo",
    "ShardJob",
    "ShardSpec",
    "choose_strategy",
    "corpus_layout",
    "data_budget",
    "default_row_group_rows",
    "gather_read_bytes",
    "gather_shard",
    "inverse_permutation",
    "min_data_bytes",
    "plan_passes",
    "plan_shards",
    "release_memory",
    "resident_bytes",
    "scatter_file",
    "scatter_source_file",
    "shard_from_spill",
    "validate_rows",
    "write_ordered_shards",
    "write_shard",
    "write_shard_from_spill",
    "workers_within",
]
