"""Storage: local paths and ``s3://`` through one seam (pyarrow filesystems), names,
create-once markers, the run lock and content hashing.

``curation.storage`` re-exports the file API of :mod:`curation.storage.files`.
"""

from curation.storage.files import (
    DamagedFile,
    Location,
    atomic_write,
    create_once,
    exists,
    list_files,
    read_bytes,
    read_json,
    require_bucket,
    resolve,
    s3_filesystem,
    tmp_sibling,
    to_strict_json,
    under,
    write_bytes,
    write_json_atomic,
    write_parquet_atomic,
)

__all__ = [
    "Location",
    "s3_filesystem",
    "resolve",
    "exists",
    "read_bytes",
    "write_bytes",
    "list_files",
    "require_bucket",
    "tmp_sibling",
    "atomic_write",
    "create_once",
    "write_parquet_atomic",
    "DamagedFile",
    "to_strict_json",
    "read_json",
    "write_json_atomic",
    "under",
]
