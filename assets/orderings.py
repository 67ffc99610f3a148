"""ordering_<method>: one asset per method (random, sorted, folding, zigzag, segment, str, saw).

One asset per method, rather than partitions, keeps ``--select '*'`` a single run that the
multiprocess executor fans out, and lets the UI rerun one method alone. Orderings are stored
content-addressed (scores version + method + parameters), so a rerun with unchanged inputs
reuses the file instead of recomputing it.
"""

import hashlib
import io
import json
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, Config, asset, asset_check

import curation
from assets.checks import to_check_result
from assets.corpus import corpus_ids
from assets.metadata import curve_plot, scalar_metadata
from assets.resources import CurationSettings
from assets.scores import read_score_table
from curation.metrics import expected_shape
from curation.ordering import guideline_metrics, order
from curation.quality import check_ordering
from curation.scores import align_scores
from curation.storage import atomic_write, exists, read_bytes, resolve, write_parquet_atomic

BATCH_SIZE = 16  # window of the local-diversity metric: the probe's batch size


class OrderingConfig(Config):
    """Method parameters; unset fields take the reference defaults for the method."""

    seed: int | None = None
    ascending: bool | None = None
    window_size: int | None = None
    folding_layer: int | None = None
    zigzag_layer: int | None = None
    num_sections: int | None = None
    folding_ratio: float | None = None
    x_pct: float | None = None
    y_pct: float | None = None
    front_is_high: bool | None = None
    back_is_high: bool | None = None

    def params(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def ordering_key(corpus_version: str, score_version: str, method: str, params: dict) -> str:
    """Content address of an ordering: same inputs, same key, same file."""
    text = json.dumps(
        [curation.__version__, corpus_version, score_version, method, params], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def aligned_scores(settings: CurationSettings, raw_corpus: dict, sample_scores: dict):
    """Corpus ids and the driving score in corpus row order.

    The join is done once per (scores, corpus) version and cached beside the score table as
    .npy, because every ordering, its check, its shards and the probes need it.
    """
    ids = corpus_ids(raw_corpus, settings)
    cache = resolve(sample_scores["uri"].rsplit("/", 1)[0]).join(
        f"aligned-{raw_corpus['version']}.npy"
    )
    if exists(cache):
        scores = np.load(io.BytesIO(read_bytes(cache)), allow_pickle=False)
        if scores.size == len(ids):
            return ids, scores
    scores = align_scores(ids, read_score_table(sample_scores), sample_scores["column"])
    buffer = io.BytesIO()
    np.save(buffer, scores, allow_pickle=False)
    atomic_write(cache, buffer.getvalue())  # parallel steps may race to fill the cache
    return ids, scores


def read_positions(ordering: dict) -> np.ndarray:
    loc = resolve(ordering["uri"])
    return pq.read_table(loc.path, filesystem=loc.fs, columns=["row"]).column("row").to_numpy()


def build_ordering_asset(method: str):
    @asset(
        name=f"ordering_{method}",
        group_name="orderings",
        description=f"The {method} ordering of the corpus (position -> id).",
        ins={"raw_corpus": AssetIn("raw_corpus"), "sample_scores": AssetIn("sample_scores")},
    )
    def _ordering(
        context: AssetExecutionContext,
        config: OrderingConfig,
        settings: CurationSettings,
        raw_corpus: dict,
        sample_scores: dict,
    ) -> dict:
        started = time.perf_counter()
        ids, scores = aligned_scores(settings, raw_corpus, sample_scores)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = order(scores, method, **config.params())
        for w in caught:
            context.log.warning(str(w.message))
        params = result.metadata["params"]
        key = ordering_key(raw_corpus["version"], sample_scores["version"], method, params)
        loc = resolve(settings.path("work", "orderings", method, key, "ordering.parquet"))
        reused = exists(loc)
        if not reused:
            table = pa.table(
                {
                    "position": np.arange(result.size, dtype=np.int64),
                    "id": ids.take(pa.array(result)),
                    "row": np.asarray(result),
                }
            )
            write_parquet_atomic(table, loc)
        metrics = guideline_metrics(scores, result, BATCH_SIZE, params.get("ascending", True))
        curve = metrics.pop("curve")
        context.add_output_metadata(
            {
                "rows": int(result.size),
                "method": method,
                "params": params,
                "score_version": sample_scores["version"],
                "corpus_version": raw_corpus["version"],
                "ordering_key": key,
                "reused": reused,
                "warnings": result.metadata["warnings"],
                **scalar_metadata(metrics, "metric_"),
                "score_curve": curve_plot({method: curve}, f"{method}: score along the order"),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        return {
            "uri": loc.uri,
            "method": method,
            "params": params,
            "key": key,
            "rows": int(result.size),
            "metrics": metrics,
            "curve": curve,
            "score_version": sample_scores["version"],
            "corpus_version": raw_corpus["version"],
            "warnings": result.metadata["warnings"],
        }

    @asset_check(
        asset=_ordering,
        name="ordering_invariants",
        blocking=True,
        additional_ins={
            "raw_corpus": AssetIn("raw_corpus"),
            "sample_scores": AssetIn("sample_scores"),
        },
        description="GX: a complete permutation, equal to a recomputation, in the method's shape.",
    )
    def _invariants(
        settings: CurationSettings, ordering: dict, raw_corpus: dict, sample_scores: dict
    ) -> AssetCheckResult:
        _, scores = aligned_scores(settings, raw_corpus, sample_scores)
        positions = read_positions(ordering)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recomputed = order(scores, method, **ordering["params"])
        params = ordering["params"]
        metrics = guideline_metrics(scores, positions, BATCH_SIZE, params.get("ascending", True))
        metrics.pop("curve")
        outcome = check_ordering(
            positions,
            scores.size,
            recomputed=np.asarray(recomputed),
            metrics=metrics,
            expected_shape=expected_shape(method, params),
        )
        return to_check_result(outcome)

    return _ordering, _invariants
