"""published_<method>: a versioned, immutable ordered dataset, refused when a check failed.

Blocking checks stop downstream steps only inside one run, so this asset asks the instance
for the latest verdict of every check that guards what it ships (scores, ordering, shards)
and refuses unless each one passed on the materialization being published.
"""

import time

from dagster import AssetExecutionContext, AssetIn, Failure, MetadataValue, asset

import curation
from assets.checks import check_key, latest_check_verdicts
from assets.resources import CurationSettings
from curation.publish import PublishRefused, publish_version
from curation.storage import read_bytes, resolve, write_bytes


def guarding_checks(method: str):
    return [
        check_key("sample_scores", "score_coverage"),
        check_key(f"ordering_{method}", "ordering_invariants"),
        check_key(f"shards_{method}", "shard_integrity"),
    ]


def manifest_checks(verdicts: dict[str, dict]) -> dict[str, dict]:
    """Check verdicts as the manifest records them: no run ids, so that the same inputs give
    byte-identical manifests on every run and machine (run ids stay in Dagster metadata)."""
    keep = ("passed", "blocking", "description")
    return {name: {k: v[k] for k in keep if k in v} for name, v in verdicts.items()}


def copy_report(report: dict, dest_dir: str) -> str:
    """Put the probe report (markdown + PNGs) beside the published version."""
    dest = resolve(dest_dir)
    for path in [report["report_path"], *report["images"]]:
        src = resolve(path)
        write_bytes(dest.join(src.path.rsplit("/", 1)[-1]), read_bytes(src))
    return dest.join("report.md").uri


def build_publish_asset(method: str):
    @asset(
        name=f"published_{method}",
        group_name="published",
        description=f"The {method}-ordered dataset as an immutable, content-addressed version.",
        ins={"shards": AssetIn(f"shards_{method}"), "probe_report": AssetIn("probe_report")},
    )
    def _published(
        context: AssetExecutionContext, settings: CurationSettings, shards: dict, probe_report: dict
    ) -> dict:
        started = time.perf_counter()
        verdicts = latest_check_verdicts(context.instance, guarding_checks(method))
        ordering = shards["ordering"]
        dataset = f"{settings.dataset}-{method}"
        root = settings.path("published")
        lineage = {
            "corpus_version": ordering["corpus_version"],
            "score_version": ordering["score_version"],
            "method": method,
            "params": ordering["params"],
            "seed": ordering["params"].get("seed"),
            "code_version": curation.__version__,
        }
        # the report lands before the version becomes visible, so a live version always has one
        report_dir = f"reports/{probe_report['dir'].rstrip('/').rsplit('/', 1)[-1]}"
        report_uri = copy_report(probe_report, f"{root}/{dataset}/{report_dir}")
        try:
            published = publish_version(
                root,
                dataset,
                [s["path"] for s in shards["shards"]],
                lineage,
                metrics=ordering["metrics"],
                checks=manifest_checks(verdicts),
                extra={"warnings": ordering["warnings"], "report": f"../{report_dir}/report.md"},
            )
        except PublishRefused as exc:
            raise Failure(
                description=f"refusing to publish {dataset}: {exc}",
                metadata={"checks": MetadataValue.json(verdicts)},
            ) from exc
        context.add_output_metadata(
            {
                "dataset": dataset,
                "version": published.version,
                "location": published.uri,
                "rows": published.num_rows,
                "checks": MetadataValue.json(verdicts),
                "report": report_uri,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        return {
            "dataset": dataset,
            "version": published.version,
            "uri": published.uri,
            "root": root,
            "report": report_uri,
        }

    return _published
