"""The memory budget: what a process cap leaves for Arrow data once the process is counted.

``memory_limit_bytes`` caps the whole process, not only the Arrow data: the resident set at
entry (interpreter, libraries, the ``rows`` array, its inverse and any extra columns,
measured after they are built) is subtracted first, a share is kept back for allocator
fragmentation, and only the rest is planned for data.
"""

import warnings

import numpy as np

from curation.machine import resident_bytes
from curation.shards.errors import MemoryCapError, MemoryCapWarning
from curation.shards.layout import CorpusLayout

MiB = 1 << 20
DEFAULT_MEMORY_LIMIT = 512 * MiB
#: Share of the data budget kept back for allocator fragmentation and codec buffers.
HEADROOM = 0.2
#: Copies of one pass's data alive at once: a pass being encoded while the next one is
#: read and reordered (see ``writer.prefetched``).
PASS_COPIES = 4


def min_data_bytes(layout: CorpusLayout, rg_rows: int) -> float:
    """Data bytes one pass cannot go below: a source row group plus an output row group held
    ``PASS_COPIES`` times."""
    if not layout.rg_bytes.size:
        return 0.0
    out_group = min(rg_rows * float(layout.bytes_per_row().max()), float(layout.total_bytes))
    return float(layout.rg_bytes.max()) + PASS_COPIES * out_group


def data_budget(
    memory_limit_bytes: int,
    layout: CorpusLayout,
    rg_rows: int,
    baseline_bytes: int | None,
    workers: int = 1,
) -> float:
    """Bytes left to each of ``workers`` for Arrow data under a process cap: the cap less
    what the process holds (``baseline_bytes``, measured when None) less headroom.

    Raises :class:`MemoryCapError` when that leaves less than one pass. One exception: when
    the cap would suffice for the writer alone but the *measured* process already holds the
    rest (a long-lived worker, libraries the writer does not own), it warns
    (:class:`MemoryCapWarning`) and runs at its minimum, since it cannot free the caller's
    memory and refusing would only stop the pipeline."""
    measured = baseline_bytes is None
    baseline = resident_bytes() if measured else int(baseline_bytes)
    need = min_data_bytes(layout, rg_rows) * workers
    data = (memory_limit_bytes - baseline) * (1 - HEADROOM)
    if data >= need and memory_limit_bytes > baseline:
        return data / workers
    writer_alone = int(np.ceil(need / (1 - HEADROOM))) + 1
    error = MemoryCapError(int(memory_limit_bytes), baseline + writer_alone, baseline)
    if not measured or memory_limit_bytes < writer_alone:
        raise error
    warnings.warn(str(error) + "; running at the minimum instead", MemoryCapWarning, 2)
    return max(need, 1.0) / workers


def workers_within(
    memory_limit_bytes: int,
    layout: CorpusLayout,
    rg_rows: int,
    baseline_bytes: int | None,
    most: int,
) -> int:
    """How many of ``most`` concurrent units the cap leaves room for (at least one): each
    needs one pass's minimum. More cores never make a run exceed its cap."""
    baseline = resident_bytes() if baseline_bytes is None else int(baseline_bytes)
    need = max(min_data_bytes(layout, rg_rows), 1.0)
    room = (memory_limit_bytes - baseline) * (1 - HEADROOM)
    return int(max(1, min(most, room // need)))
