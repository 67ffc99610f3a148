"""The memory budget: what a process cap leaves for Arrow data once the process is counted.

``memory_limit_bytes`` caps the whole process, not only the Arrow data: the resident set at
entry (interpreter, libraries, the ``rows`` array, its inverse and any extra columns,
measured after they are built) is subtracted first, a share is kept back for allocator
fragmentation, and only the rest is planned for data.
"""

import os
import sys
import warnings

import numpy as np
import pyarrow as pa

from curation.shards.errors import MemoryCapError, MemoryCapWarning
from curation.shards.layout import CorpusLayout

MiB = 1 << 20
DEFAULT_MEMORY_LIMIT = 512 * MiB
#: Share of the data budget kept back for allocator fragmentation and codec buffers.
HEADROOM = 0.2


def resident_bytes() -> int:
    """Bytes this process holds now (resident set, /proc/self/statm); where there is no
    /proc (macOS) the peak resident set, the best bound available."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def min_data_bytes(layout: CorpusLayout, rg_rows: int) -> float:
    """Data bytes one pass cannot go below: a source row group plus an output row group held
    about three times (read, reordered, encoded)."""
    if not layout.rg_bytes.size:
        return 0.0
    out_group = min(rg_rows * float(layout.bytes_per_row().max()), float(layout.total_bytes))
    return float(layout.rg_bytes.max()) + 3 * out_group


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


def release_memory() -> None:
    """Hand freed Arrow memory back to the OS between passes (mimalloc/jemalloc keep it)."""
    pa.default_memory_pool().release_unused()
