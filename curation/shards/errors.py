"""What the shard writer raises: bad rows, an unreadable corpus, a cap it cannot meet."""


class ShardError(ValueError):
    """Base class for bad input to the shard writer."""


class RowsError(ShardError):
    """``rows`` is not a permutation of the corpus rows."""


class CorpusFormatError(ShardError):
    """The corpus is not readable as one parquet table (jsonl, mixed schemas, empty)."""


class MemoryCapWarning(ResourceWarning):
    """The process already holds most of the cap before the writer starts."""


class MemoryCapError(ShardError):
    """``memory_limit_bytes`` leaves no room for one pass once the process's own memory is
    counted; ``minimum`` is the smallest cap that would work now."""

    def __init__(self, cap: int, minimum: int, baseline: int):
        self.cap, self.minimum, self.baseline = cap, minimum, baseline
        super().__init__(
            f"memory_limit_bytes={cap:,} is too small: this process already holds "
            f"{baseline:,} bytes (interpreter, libraries, rows and positions arrays) and one "
            f"pass needs {minimum - baseline:,} more; raise the cap to at least {minimum:,} bytes"
        )
