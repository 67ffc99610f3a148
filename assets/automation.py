"""Refresh automation: a sensor on the score source's content hash, and a nightly schedule.

The sensor's run key embeds the content hash, because Dagster deduplicates run keys forever:
scores that change back to an earlier version still get a new run only if that version was
never run. The cursor keeps (size, mtime) per file so unchanged files are not re-hashed.
"""

import hashlib
import json

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from assets.resources import CurationSettings
from curation.storage import list_files, resolve

refresh_job = define_asset_job(
    "refresh_ordered_datasets",
    selection=AssetSelection.all(),
    description="Recompute scores, orderings, shards and probes; publish what passes its checks.",
)


def content_hash(uri: str, cursor: dict) -> tuple[str, dict]:
    """sha256 over the source's files, reusing cached digests for unchanged (size, mtime)."""
    files = list_files(resolve(uri))
    digest = hashlib.sha256()
    cache: dict = {}
    for loc in files:
        info = loc.fs.get_file_info(loc.path)
        stamp = [info.size, info.mtime_ns]
        cached = cursor.get("files", {}).get(loc.uri)
        if cached and cached["stamp"] == stamp:
            file_digest = cached["sha256"]
        else:
            h = hashlib.sha256()
            with loc.fs.open_input_stream(loc.path) as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
            file_digest = h.hexdigest()
        cache[loc.uri] = {"stamp": stamp, "sha256": file_digest}
        digest.update(f"{loc.uri}:{file_digest}\n".encode())
    return digest.hexdigest()[:16], {"files": cache}


@sensor(
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests a refresh when the score source's content hash changes.",
)
def score_change_sensor(context: SensorEvaluationContext, settings: CurationSettings):
    cursor = json.loads(context.cursor) if context.cursor else {}
    try:
        version, files = content_hash(settings.score_source, cursor)
    except FileNotFoundError as exc:
        return SkipReason(f"score source missing: {exc}")
    if version == cursor.get("hash"):
        context.update_cursor(json.dumps({"hash": version, **files}))
        return SkipReason(f"scores unchanged ({version})")
    context.update_cursor(json.dumps({"hash": version, **files}))
    return RunRequest(run_key=f"scores-{version}", tags={"curation/score_source_hash": version})


@schedule(
    job=refresh_job,
    cron_schedule="0 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Nightly refresh (03:00 UTC).",
)
def nightly_refresh(context):
    return RunRequest(run_key=None, tags={"curation/trigger": "nightly"})
