"""Order-preserving readers of published versions for torch training jobs.

* :class:`OrderedDataset` (``documents``): documents in published order, split by rank and
  DataLoader worker, exact resume across world sizes.
* :class:`PackedDataset` (``packed``): one global token stream in published order cut into
  fixed-length sequences, dealt to ranks by index so that every rank runs the same steps.

See docs/reader.md.
"""

from curation.reader.documents import (
    ChecksumMismatch,
    OrderedDataset,
    OrderedLoader,
)
from curation.reader.packed import PackedDataset, PackedLoader
from curation.reader.rows import (
    DamagedShard,
    RowSource,
    VersionMismatch,
    open_job_version,
    split_dataset_uri,
)

_RowSource = RowSource  # the name tests and older callers use

__all__ = [
    "ChecksumMismatch",
    "OrderedDataset",
    "OrderedLoader",
    "PackedDataset",
    "PackedLoader",
    "RowSource",
    "VersionMismatch",
    "DamagedShard",
    "open_job_version",
    "split_dataset_uri",
]
