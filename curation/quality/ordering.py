"""The ordering check: a complete permutation, equal to a recomputation, metrics in shape."""

from typing import Any

import numpy as np
import pandas as pd

from curation.quality.columns import padded, take, to_numpy
from curation.quality.gx import Suite, expect, run_suites
from curation.quality.outcome import (
    CheckOutcome,
    QualityInputError,
    count_unexpected,
    make_outcome,
    offending_values,
)


def _as_positions(values: Any, what: str) -> np.ndarray:
    """An ordering column as int64 (float only if it holds NaN, so GX reports the nulls)."""
    array = to_numpy(values, what)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    try:
        floats = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QualityInputError(f"{what} is not numeric: {exc}") from exc
    whole = np.isfinite(floats) & (floats == np.round(floats))
    return floats.astype(np.int64) if whole.all() else floats


def _metrics_suite(metrics: dict, expected_shape: dict) -> Suite:
    """One-row frame of the named guideline metrics, each bounded by its expected shape."""
    values: dict[str, float] = {}
    expectations = []
    for metric, bounds in expected_shape.items():
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
            raise QualityInputError(
                f"expected_shape[{metric!r}] must be a dict with 'min' and/or 'max', got {bounds!r}"
            )
        expectations.append(
            expect("ExpectColumnToExist", f"guideline metric {metric!r} missing", column=metric)
        )
        if metric not in metrics:
            continue
        values[metric] = _metric_value(metrics[metric])
        expectations += [
            expect(
                "ExpectColumnValuesToNotBeNull",
                f"guideline metric {metric!r} not a number",
                column=metric,
            ),
            expect(
                "ExpectColumnValuesToBeBetween",
                f"guideline metric {metric!r} outside {bounds}",
                column=metric,
                min_value=bounds.get("min"),
                max_value=bounds.get("max"),
            ),
        ]
    frame = pd.DataFrame({k: [v] for k, v in values.items()}, index=[0])
    return Suite("guideline_metrics", frame, expectations, lambda rows: {"row": list(rows)})


def _metric_value(value: Any) -> float:
    """A metric as float; NaN when it is not a number (the not-null expectation fails)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def check_ordering(
    positions: np.ndarray,
    n: int,
    recomputed: np.ndarray | None = None,
    metrics: dict | None = None,
    expected_shape: dict | None = None,
    kept: np.ndarray | None = None,
) -> CheckOutcome:
    """The ordering is a complete permutation of 0..n-1 -- or, when ``kept`` (a boolean
    mask over the n samples: a recomputation of the recipe's selection) is given, a
    permutation of exactly the kept samples -- equal to a fresh recomputation when one is
    given, and its guideline metrics lie within the method's expected shape.

    ``positions[k]`` is the sample read at position ``k``. ``expected_shape`` maps a metric
    name to ``{"min": x, "max": y}`` (either bound optional), e.g. ``{"cliffs": {"max": 0}}``;
    those metrics run as a second, one-row suite in the same context.
    """
    n = int(n)
    if n < 0:
        raise QualityInputError(f"n must be >= 0, got {n}")
    sample = _as_positions(positions, "positions")
    frame = {"sample": sample}
    in_range = f"sample indices outside 0..{n - 1}"
    length, length_label = n, f"ordering length is not n={n}"
    if kept is not None:
        kept = np.asarray(kept, dtype=bool)
        if kept.shape != (n,):
            raise QualityInputError(f"kept must be a boolean mask of {n} samples, got {kept.shape}")
        length = int(np.count_nonzero(kept))
        length_label = f"ordering length is not the kept count {length} (of n={n})"
        inside = sample.dtype.kind in "iu"
        valid = (sample >= 0) & (sample < n) if inside else np.zeros(sample.size, bool)
        member = np.zeros(sample.size, dtype=np.int8)
        member[valid] = kept[sample[valid].astype(np.int64)]
        frame["kept"] = member
    expectations = [
        expect("ExpectTableRowCountToEqual", length_label, value=length),
        expect("ExpectColumnValuesToNotBeNull", "null sample indices", column="sample"),
        expect(
            "ExpectColumnValuesToBeUnique",
            "samples repeated (a permutation has none)",
            column="sample",
        ),
        expect(
            "ExpectColumnValuesToBeBetween", in_range, column="sample", min_value=0, max_value=n - 1
        ),
    ]
    outside = "samples outside the recomputed selection"
    if kept is not None:
        expectations.append(
            expect(
                "ExpectColumnValuesToBeBetween", outside, column="kept", min_value=1, max_value=1
            )
        )
    metadata: dict[str, Any] = {"n": n, "length": len(sample)}
    if kept is not None:
        metadata["kept"] = length
    fresh = None
    if recomputed is not None:
        fresh = _as_positions(recomputed, "recomputed")
        frame["recomputed"] = padded(
            fresh.astype(np.float64 if fresh.dtype.kind == "f" else np.int64), len(sample), -1
        )
        metadata["recomputed_length"] = len(fresh)
        expectations.append(
            expect(
                "ExpectColumnPairValuesToBeEqual",
                "positions differ from a recomputation",
                column_A="sample",
                column_B="recomputed",
            )
        )
        if len(fresh) != len(sample):
            expectations.append(
                expect(
                    "ExpectTableRowCountToEqual",
                    "recomputation has another length",
                    value=len(fresh),
                )
            )

    def report(rows: np.ndarray) -> dict[str, list[Any]]:
        columns = {"position": rows.tolist(), "sample": take(sample, rows)}
        if fresh is not None:
            columns["recomputed"] = take(fresh, rows)
        return columns

    suites = [Suite("ordering", frame, expectations, report)]
    if expected_shape:
        suites.append(_metrics_suite(metrics or {}, expected_shape))
        metadata["guideline_metrics"] = {
            k: _metric_value((metrics or {}).get(k)) for k in expected_shape
        }
        metadata["expected_shape"] = expected_shape
    rows = run_suites(suites)
    metadata.update(
        repeated_rows=count_unexpected(rows, "samples repeated (a permutation has none)"),
        out_of_range=count_unexpected(rows, in_range),
        null_rows=count_unexpected(rows, "null sample indices"),
        differing_positions=count_unexpected(rows, "positions differ from a recomputation"),
        offending_positions=offending_values(rows, "position"),
    )
    if kept is not None:
        metadata["outside_selection"] = count_unexpected(rows, outside)
    whole = f"a complete permutation of 0..{n - 1}"
    ok = (
        "Ordering OK: "
        + (whole if kept is None else f"a permutation of exactly the {length} kept of {n} samples")
        + (", equal to a fresh recomputation" if recomputed is not None else "")
        + (", guideline metrics within the expected shape." if expected_shape else ".")
    )
    report_columns = ["position", "sample"] + (["recomputed"] if fresh is not None else [])
    return make_outcome("ordering", rows, ok, report_columns, metadata)
