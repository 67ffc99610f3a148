"""The shard check: the shards, concatenated in order, hold exactly the expected ids."""

from typing import Any

import numpy as np

from curation.corpus.ids import shared_codes
from curation.quality.columns import IdArray, as_ids, padded, take
from curation.quality.gx import Suite, expect, run_suites
from curation.quality.outcome import (
    MAX_OFFENDERS,
    CheckOutcome,
    QualityInputError,
    count_unexpected,
    make_outcome,
    offending_values,
)


def _shard_labels(lengths: np.ndarray, total: int) -> np.ndarray:
    """Shard index of every row given per-shard row counts, -1 past their sum."""
    labels = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    return padded(labels, total, -1)


def _take_concat(parts: list[IdArray], starts: np.ndarray, rows: np.ndarray) -> list[Any]:
    """Values at global ``rows`` of the concatenation of ``parts`` (None past its end)."""
    out: list[Any] = [None] * len(rows)
    part_of = np.searchsorted(starts, rows, side="right") - 1
    for p in np.unique(part_of[part_of >= 0]):
        slots = np.flatnonzero(part_of == p)
        for slot, value in zip(slots, take(parts[p], rows[slots] - starts[p]), strict=True):
            out[slot] = value
    return out


def check_shards(
    expected_ids: Any,
    shard_ids: list[Any],
    shard_row_counts: list[int] | None = None,
    expected_digests: np.ndarray | None = None,
    shard_digests: np.ndarray | None = None,
) -> CheckOutcome:
    """The shards, concatenated in order, hold exactly ``expected_ids`` position by position,
    and each shard holds as many rows as declared (``shard_row_counts``, e.g. a manifest).

    Ids are compared as shared integer codes (Arrow hashes the strings once); rows past
    the shorter side are padded with code -1 so they fail equality as well as the
    missing/extra-row expectations.
    """
    expected = as_ids(expected_ids, "expected_ids")
    shards = [as_ids(s, f"shard_ids[{i}]") for i, s in enumerate(shard_ids)]
    lengths = np.array([len(s) for s in shards], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    expected_codes, *shard_codes = shared_codes(expected, *shards)
    actual_codes = np.concatenate(shard_codes) if shard_codes else np.array([], np.int32)
    n_actual = int(lengths.sum())
    total = max(len(expected), n_actual)
    in_shards, in_expected = np.zeros(total, bool), np.zeros(total, bool)
    in_shards[:n_actual], in_expected[: len(expected)] = True, True
    frame = {
        "shard": _shard_labels(lengths, total),
        "expected_code": padded(expected_codes, total, -1),
        "actual_code": padded(actual_codes, total, -1),
        "in_shards": in_shards,
        "in_expected": in_expected,
    }
    expectations = [
        expect(
            "ExpectColumnValuesToBeInSet",
            "expected rows missing past the end of the shards",
            column="in_shards",
            value_set=[True],
        ),
        expect(
            "ExpectColumnValuesToBeInSet",
            "extra rows past the expected ids",
            column="in_expected",
            value_set=[True],
        ),
        expect(
            "ExpectColumnPairValuesToBeEqual",
            "shard ids differ from the expected ids",
            column_A="actual_code",
            column_B="expected_code",
        ),
        expect("ExpectColumnValuesToBeUnique", "ids repeated in the shards", column="actual_code"),
    ]
    metadata: dict[str, Any] = {
        "expected_rows": len(expected),
        "shard_rows": n_actual,
        "shards": len(shards),
        "shard_lengths": lengths.tolist()[:1000],
    }
    if shard_row_counts is not None:
        declared = np.asarray(shard_row_counts, dtype=np.int64)
        if (declared < 0).any():
            raise QualityInputError(f"negative shard_row_counts: {declared.tolist()[:10]}")
        frame["declared_shard"] = _shard_labels(declared, total)
        expectations.append(
            expect(
                "ExpectColumnPairValuesToBeEqual",
                "shard row counts differ from declared",
                column_A="shard",
                column_B="declared_shard",
            )
        )
        width = max(len(declared), len(lengths))
        wrong = np.flatnonzero(padded(declared, width, -1) != padded(lengths, width, -1))
        metadata["shards_with_wrong_counts"] = [
            {"shard": int(i), "declared": _at(declared, i), "actual": _at(lengths, i)}
            for i in wrong[:MAX_OFFENDERS]
        ]

    if expected_digests is not None or shard_digests is not None:
        if expected_digests is None or shard_digests is None:
            raise QualityInputError("content needs both expected_digests and shard_digests")
        as_codes = lambda d: np.asarray(d, dtype=np.uint64).view(np.int64)  # noqa: E731
        frame["expected_content"] = padded(as_codes(expected_digests), total, 0)
        frame["actual_content"] = padded(as_codes(shard_digests), total, 1)
        expectations.append(
            expect(
                "ExpectColumnPairValuesToBeEqual",
                "shard content differs from the corpus rows",
                column_A="actual_content",
                column_B="expected_content",
            )
        )

    def report(rows: np.ndarray) -> dict[str, list[Any]]:
        inside = rows < n_actual
        shard = np.where(inside, np.searchsorted(starts, rows, side="right") - 1, -1)
        first = np.where(inside, np.append(starts, 0)[shard], 0)
        return {
            "position": rows.tolist(),
            "shard": shard.tolist(),
            "row_in_shard": np.where(inside, rows - first, -1).tolist(),
            "expected_id": take(expected, rows),
            "actual_id": _take_concat(shards, starts, rows),
        }

    internal = (
        "expected_code",
        "actual_code",
        "declared_shard",
        "in_shards",
        "in_expected",
        "expected_content",
        "actual_content",
    )
    rows = run_suites([Suite("shards", frame, expectations, report, internal)])
    metadata.update(
        missing_rows=count_unexpected(rows, "expected rows missing past the end of the shards"),
        extra_rows=count_unexpected(rows, "extra rows past the expected ids"),
        differing_positions=count_unexpected(rows, "shard ids differ from the expected ids"),
        repeated_rows=count_unexpected(rows, "ids repeated in the shards"),
        content_differs=count_unexpected(rows, "shard content differs from the corpus rows"),
        offending_positions=offending_values(rows, "position"),
        offending_ids=[
            v
            for v in dict.fromkeys(
                offending_values(rows, "expected_id") + offending_values(rows, "actual_id")
            )
            if v is not None
        ][:MAX_OFFENDERS],
    )
    ok = f"Shards OK: {len(shards)} shard(s) hold the {len(expected)} expected ids in order" + (
        ", with the declared row counts." if shard_row_counts is not None else "."
    )
    wrong_counts = metadata.get("shards_with_wrong_counts")
    note = f"Shards with wrong row counts: {wrong_counts}." if wrong_counts else ""
    return make_outcome(
        "shards", rows, ok, ["position", "shard", "expected_id", "actual_id"], metadata, note
    )


def _at(values: np.ndarray, i: int) -> int | None:
    """``values[i]`` as int, None past the end."""
    return int(values[i]) if i < len(values) else None
