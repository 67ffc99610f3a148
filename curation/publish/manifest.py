"""What a published version is on storage: layout, manifest fields, content address.

Layout under a root (local path or ``s3://``)::

    <root>/<dataset>/latest.json            {"version": "<id>"}, moved atomically
    <root>/<dataset>/<version>/part-00000.parquet ...
    <root>/<dataset>/<version>/manifest.json  written last: the commit point
    <root>/<dataset>/.publish-info/<version>.json  {"published_at", "sources"}

A version directory without ``manifest.json`` does not exist for anyone: that is how a
crash mid-publish stays invisible. The version id is a hash of the lineage and the shard
contents, so publishing the same thing twice returns the existing version untouched.
The manifest holds content only (no clock, no source paths), so the same inputs give a
byte-identical version directory on any machine.
"""

import json
from dataclasses import dataclass, field

import numpy as np

from curation import storage
from curation.hashing import text_digest
from curation.names import validate_dataset_name, validate_version_id
from curation.storage import Location

MANIFEST = "manifest.json"
PUBLISH_INFO = ".publish-info"
LATEST = "latest.json"
FORMAT_VERSION = 1
REQUIRED_LINEAGE = (
    "corpus_version",
    "score_version",
    "method",
    "params",
    "seed",
    "code_version",
)
REQUIRED_COLUMNS = ("id", "text")


class PublishError(ValueError):
    """Inputs that cannot be published (missing lineage, bad shards, bad checks)."""


class PublishRefused(PublishError):
    """A blocking quality check failed: the ordering must not reach training jobs."""


class NotPublished(ValueError):
    """The dataset or version asked for has no committed manifest."""


class PublishStorageError(OSError):
    """The storage failed mid-publish (unreachable, full, refused); safe to retry later."""


@dataclass(frozen=True)
class PublishedVersion:
    """One committed version: what a training job pins."""

    dataset: str
    version: str
    uri: str
    manifest: dict = field(repr=False)

    @property
    def num_rows(self) -> int:
        return int(self.manifest["num_rows"])

    @property
    def shard_uris(self) -> list[str]:
        """Shard URIs in global order (what a plain parquet reader should be given)."""
        loc = storage.resolve(self.uri)
        return [loc.join(s["name"]).uri for s in self.manifest["shards"]]


def canonical_json(obj: object) -> str:
    """Key-sorted compact JSON, so equal content always hashes equal."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def pretty_json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n").encode()


def version_id(lineage: dict, shard_sha256s: list[str]) -> str:
    """Content address: the same lineage and shard bytes always give the same id."""
    return text_digest(canonical_json({"lineage": lineage, "shards": shard_sha256s}))


def dataset_loc(root: str, dataset: str) -> Location:
    return storage.resolve(root).join(validate_dataset_name(dataset))


def version_loc(root: str, dataset: str, version: str) -> Location:
    return dataset_loc(root, dataset).join(validate_version_id(version))


def info_loc(root: str, dataset: str, version: str) -> Location:
    return dataset_loc(root, dataset).join(PUBLISH_INFO, f"{validate_version_id(version)}.json")


def read_json(loc: Location) -> dict:
    return json.loads(storage.read_bytes(loc))
