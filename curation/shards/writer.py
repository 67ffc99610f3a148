"""Writing one shard: parquet with fixed options via a temporary name, hashed as it streams."""

import hashlib
import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.shards.plan import ShardSpec
from curation.storage import Location

#: Fixed writer options: same input, same bytes (parquet carries no timestamps).
WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}


@dataclass(frozen=True)
class ShardInfo:
    """What was written: the final URI, its row span and its sha256."""

    path: str
    index: int
    rows: int
    first_position: int
    sha256: str
    bytes: int
    passes: int = 1  # read passes it took (more when the memory limit is small)


class HashingSink(io.RawIOBase):
    """Forwards writes to a stream and hashes them, so sha256 costs no re-read."""

    def __init__(self, stream: Any):
        self.stream, self.digest, self.size = stream, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.stream.write(view)
        self.size += view.nbytes
        return view.nbytes


def prefetched(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Yield each table while the next one is read and reordered on a second thread, so
    decoding and sorting overlap with encoding (the writer itself is single-threaded)."""
    it = iter(tables)
    with ThreadPoolExecutor(1, thread_name_prefix="shard-prefetch") as pool:
        future = pool.submit(next, it, None)
        while (table := future.result()) is not None:
            future = pool.submit(next, it, None)
            yield table
            del table


def write_parquet(
    out: Location,
    spec: ShardSpec,
    schema: pa.Schema,
    tables: Iterator[pa.Table],
    row_group_rows: int,
    passes: int,
) -> ShardInfo:
    """Write tables to ``out/part-NNNNN.parquet``: locally via a temporary name moved into
    place (a reader never sees half a shard); on S3 the upload completes atomically. The
    next table is prepared while the current one is encoded."""
    final = out.join(spec.name)
    if not out.is_s3:
        out.fs.create_dir(out.path, recursive=True)
    target = final if out.is_s3 else out.join(f".{spec.name}.tmp-{os.getpid()}-{id(spec)}")
    with target.fs.open_output_stream(target.path) as stream:
        sink = HashingSink(stream)
        with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, **WRITER_OPTIONS) as w:
            for table in prefetched(tables):
                w.write_table(table, row_group_size=row_group_rows)
    if not out.is_s3:
        out.fs.move(target.path, final.path)
    return ShardInfo(
        final.uri,
        spec.index,
        spec.stop - spec.start,
        spec.start,
        sink.digest.hexdigest(),
        sink.size,
        passes,
    )
