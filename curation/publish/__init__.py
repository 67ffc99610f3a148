"""Versioned, immutable published datasets that training jobs can trust.

``manifest`` says what a version is on storage, ``write`` publishes one, ``catalog`` finds
committed versions, ``verify`` checks one against its manifest, ``diff`` compares two.
"""

from curation.publish.catalog import (
    ManifestError,
    list_datasets,
    list_versions,
    load_manifest,
    open_version,
    published_at,
    read_manifest,
    resolve_version,
    scan_versions,
    verify_version,
)
from curation.publish.diff import diff_versions
from curation.publish.lineage import Lineage
from curation.publish.manifest import (
    FORMAT_VERSION,
    LATEST,
    MANIFEST,
    PUBLISH_INFO,
    REQUIRED_COLUMNS,
    REQUIRED_LINEAGE,
    NotPublished,
    PublishedVersion,
    PublishError,
    PublishRefused,
    PublishStorageError,
    canonical_json,
    claimed_version_id,
    shard_name,
    version_id,
)
from curation.publish.verify import (
    content_problems,
    manifest_problems,
    verify_opened,
)
from curation.publish.write import publish_version, set_latest
from curation.storage.hashing import sha256_of

__all__ = [
    "Lineage",
    "ManifestError",
    "claimed_version_id",
    "content_problems",
    "load_manifest",
    "manifest_problems",
    "scan_versions",
    "shard_name",
    "verify_opened",
    "FORMAT_VERSION",
    "LATEST",
    "MANIFEST",
    "PUBLISH_INFO",
    "REQUIRED_COLUMNS",
    "REQUIRED_LINEAGE",
    "NotPublished",
    "PublishError",
    "PublishRefused",
    "PublishStorageError",
    "PublishedVersion",
    "canonical_json",
    "diff_versions",
    "list_datasets",
    "list_versions",
    "open_version",
    "publish_version",
    "published_at",
    "read_manifest",
    "resolve_version",
    "set_latest",
    "sha256_of",
    "verify_version",
    "version_id",
]
