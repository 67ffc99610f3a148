"""Great Expectations suites behind the blocking asset checks: score coverage, ordering, shards.

Every GX call of the project lives here, so the Dagster layer never imports GX (and never
pays its ~3 s import unless a check runs). Each check builds its own ephemeral context, with
progress bars and analytics off, because a context is process-global state in GX 1.x and a
fresh one per call cannot leak suites or results between checks.

Speed: GX validates numeric frames only. Ids (often 10^6 strings) enter as shared integer
codes from one Arrow/pandas hash pass, with boolean flags for joins (id in corpus, corpus
id has a score); GX then runs its expectations on those columns. The verdict is always
GX's: a check passes only when every expectation of its suite succeeds. GX reports the
offending rows by row number (capped at ``MAX_OFFENDERS``) and each check maps them back
to ids. One context and one validation per call; ``check_ordering`` adds a second,
one-row validation for the guideline metrics when an expected shape is given.

``get_context`` also sets GX's process-wide current context; nothing here relies on it
(each validation definition belongs to its own context), and 16 checks run on 4 threads
at once gave the right verdicts.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

MAX_OFFENDERS = 10
_FLOAT_MAX = float(np.finfo(np.float64).max)


class QualityInputError(ValueError):
    """The inputs of a check are malformed (not a data-quality failure: a caller bug)."""


@dataclass
class CheckOutcome:
    """The verdict of one check, in plain JSON-able values (no GX objects escape)."""

    passed: bool
    name: str
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Suite:
    """One frame and the expectations GX runs on it (their meta labels say what failed).

    The frame holds numeric columns only: GX fingerprints every batch with
    ``pd.util.hash_pandas_object``, which costs seconds on 10^6 Python strings. Ids stay
    outside; ``report`` maps the row numbers GX flags to the columns a reader wants.
    """

    name: str
    frame: pd.DataFrame
    expectations: list[Any]
    report: Callable[[np.ndarray], dict[str, list[Any]]]
    internal_columns: tuple[str, ...] = ()


# --------------------------------------------------------------------------- GX plumbing


def _gx() -> Any:
    """Import GX lazily, with analytics off before its first import."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx

    return gx


def _expectations() -> Any:
    """The ``great_expectations.expectations`` module (lazily imported)."""
    _gx()
    import great_expectations.expectations as gxe

    return gxe


def _expect(kind: str, label: str, **kwargs: Any) -> Any:
    """Build expectation ``kind`` whose meta carries the human label used in reports."""
    return getattr(_expectations(), kind)(meta={"label": label}, **kwargs)


def _context() -> Any:
    """A fresh in-memory context with progress bars, analytics and docs sites off."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _run_suites(suites: list[_Suite]) -> list[dict[str, Any]]:
    """Validate every suite in one fresh context; return per-expectation result dicts."""
    gx = _gx()
    context = _context()
    source = context.data_sources.add_pandas(name="curation_quality")
    rows: list[dict[str, Any]] = []
    for suite in suites:
        batch = source.add_dataframe_asset(name=suite.name).add_batch_definition_whole_dataframe(
            name=f"{suite.name}_whole"
        )
        gx_suite = context.suites.add(
            gx.ExpectationSuite(name=suite.name, expectations=suite.expectations)
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": MAX_OFFENDERS,
        }
        validation = definition.run(
            batch_parameters={"dataframe": suite.frame}, result_format=result_format
        )
        rows.extend(_result_row(r, suite) for r in validation.results)
    return rows


def _result_row(result: Any, suite: _Suite) -> dict[str, Any]:
    """Flatten one ExpectationValidationResult into JSON-able values.

    Internal columns (integer codes, flags) are dropped from the offending rows and value
    lists: a reader wants the ids, not our encoding of them.
    """
    config = result.expectation_config
    internal = any(
        config.kwargs.get(k) in suite.internal_columns for k in ("column", "column_A", "column_B")
    )
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "value_set")}
    detail = result.result or {}
    exception = _exception_text(result.exception_info)
    row: dict[str, Any] = {
        "expectation": config.type,
        "label": (config.meta or {}).get("label", config.type),
        "kwargs": _jsonable(kwargs),
        "success": bool(result.success),
    }
    for key in (
        "observed_value",
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "missing_count",
        "partial_unexpected_list",
    ):
        if key in detail and not (internal and key == "partial_unexpected_list"):
            row[key] = _jsonable(detail[key])
    if "partial_unexpected_index_list" in detail:
        row["offending"] = _offending_rows(
            suite, detail["partial_unexpected_index_list"][:MAX_OFFENDERS]
        )
    if exception:
        row["exception"] = str(exception)
    return row


def _exception_text(info: Any) -> str | None:
    """The message of an exception GX caught while evaluating (flat or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    messages = [_exception_text(v) for v in info.values()]
    return "; ".join(m for m in messages if m) or None


def _offending_rows(suite: _Suite, rows: list[Any]) -> list[dict[str, Any]]:
    """The report columns of the rows GX flagged (GX names them by frame row number).

    We ask GX for bare row numbers, not ``unexpected_index_column_names``: with those, GX
    1.24 builds the index list for every unexpected row in a Python loop before truncating
    it (minutes for 10^6 bad rows); row numbers come from one ``list(index)``.
    """
    picked = suite.report(np.asarray(rows, dtype=np.int64))
    return [{k: _jsonable(v[i]) for k, v in picked.items()} for i in range(len(rows))]


def _jsonable(value: Any) -> Any:
    """Numpy scalars to Python, non-finite floats to strings, unknown objects to str."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or isinstance(value, bool | int | str):
        return None if value is pd.NA else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


# --------------------------------------------------------------------------- reporting


def _offending_values(rows: list[dict[str, Any]], column: str) -> list[Any]:
    """First distinct values of ``column`` across failed expectations' offending rows."""
    seen: list[Any] = []
    for row in rows:
        for entry in row.get("offending", []) if not row["success"] else []:
            value = entry.get(column)
            if column in entry and value not in seen:
                seen.append(value)
    return seen[:MAX_OFFENDERS]


def _failure_sentence(row: dict[str, Any], columns: list[str]) -> str:
    """One clause: what failed, how many rows, and the first offending rows."""
    parts = [row["label"]]
    if "unexpected_count" in row:
        parts.append(f"{row['unexpected_count']} row(s)")
    if "observed_value" in row:
        parts.append(f"observed {row['observed_value']!r}")
    if "exception" in row:
        parts.append(f"error: {row['exception']}")
    shown = [
        ", ".join(
            f"{c}={e.get(c)!r}" if len(columns) > 1 else repr(e.get(c)) for c in columns if c in e
        )
        for e in row.get("offending", [])
    ]
    shown = [text for text in shown if text]
    if shown:
        sep = "; " if len(columns) > 1 else ", "
        parts.append("first: " + sep.join(dict.fromkeys(shown)))
    elif row.get("partial_unexpected_list"):
        parts.append(f"values {row['partial_unexpected_list']}")
    return " - ".join(parts)


def _outcome(
    name: str,
    rows: list[dict[str, Any]],
    ok_text: str,
    report_columns: list[str],
    metadata: dict[str, Any],
    note: str = "",
) -> CheckOutcome:
    """Assemble the outcome: GX's verdict, a one-paragraph description, metadata."""
    failed = [r for r in rows if not r["success"]]
    passed = bool(rows) and not failed
    if passed:
        description = ok_text
    else:
        clauses = "; ".join(_failure_sentence(r, report_columns) for r in failed)
        description = (
            f"{name} FAILED: {len(failed)} of {len(rows)} expectations failed: {clauses}."
        ) + (f" {note}" if note else "")
    metadata = {
        "passed": passed,
        "evaluated_expectations": len(rows),
        "failed_expectations": [r["label"] for r in failed],
        **metadata,
    }
    return CheckOutcome(passed, name, description, _jsonable(metadata), rows)


def _count(rows: list[dict[str, Any]], label: str) -> int:
    """Unexpected rows that GX counted for the expectation labelled ``label`` (0 if none)."""
    return int(next((r.get("unexpected_count", 0) for r in rows if r["label"] == label), 0))


# --------------------------------------------------------------------------- ids and codes

IdArray = np.ndarray | pa.Array


def _as_ids(values: Any, what: str) -> IdArray:
    """An id column as a 1-D numpy array or a (single-chunk) pyarrow Array, never copied
    to Python objects: 10^6 string ids stay in Arrow."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    array = np.asarray(values)
    if array.ndim != 1:
        raise QualityInputError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _to_numpy(values: Any, what: str) -> np.ndarray:
    """Any 1-D column as numpy (Arrow nulls become NaN/None)."""
    array = _as_ids(values, what)
    return array.to_numpy(zero_copy_only=False) if isinstance(array, pa.Array) else array


def _take(ids: IdArray, rows: np.ndarray) -> list[Any]:
    """``ids[rows]`` as Python values; rows outside ``ids`` (padding) give None."""
    inside = (rows >= 0) & (rows < len(ids))
    picked = np.asarray(rows)[inside]
    values = (
        ids.take(pa.array(picked)).to_pylist()
        if isinstance(ids, pa.Array)
        else ids[picked].tolist()
    )
    out: list[Any] = [None] * len(rows)
    for slot, value in zip(np.flatnonzero(inside), values, strict=True):
        out[slot] = value
    return out


def _to_arrow(values: IdArray) -> pa.Array:
    """Ids as Arrow with one type per kind (int64, large_string), so equal ids match."""
    array = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_integer(array.type):
        return array.cast(pa.int64())
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.large_string())
    return array


def _dense_codes(arrays: list[pa.Array]) -> np.ndarray:
    """Dictionary codes of the concatenation (-1 for null); disjoint types never match."""
    if len({a.type for a in arrays}) > 1:
        parts, offset = [], 0
        for array in arrays:
            codes = _dense_codes([array])
            parts.append(np.where(codes >= 0, codes + offset, -1))
            offset += int(codes.max(initial=-1)) + 1
        return np.concatenate(parts)
    joined = pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]
    indices = joined.dictionary_encode().indices.fill_null(-1)
    return indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(*arrays: IdArray) -> list[np.ndarray]:
    """Integer codes shared by all arrays: equal ids, equal codes; every null id gets its
    own negative code, so nulls are never equal to anything (nor to each other)."""
    if all(isinstance(a, np.ndarray) and a.dtype.kind in "iu" for a in arrays):
        joined = np.concatenate([a.astype(np.int64, copy=False) for a in arrays])
        codes = pd.factorize(joined)[0].astype(np.int64)
    else:
        codes = _dense_codes([_to_arrow(a) for a in arrays])
    nulls = np.flatnonzero(codes < 0)
    codes[nulls] = -(nulls + 1)
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1])


def _present(codes: np.ndarray, size: int) -> np.ndarray:
    """Boolean table over ``range(size)``: which (non-null) codes occur."""
    mask = np.zeros(size, dtype=bool)
    mask[codes[codes >= 0]] = True
    return mask


def _padded(values: np.ndarray, length: int, fill: Any) -> np.ndarray:
    """``values`` cut or padded with ``fill`` to ``length`` (sentinel rows fail equality)."""
    if len(values) >= length:
        return values[:length]
    return np.concatenate([values, np.full(length - len(values), fill, dtype=values.dtype)])


# --------------------------------------------------------------------------- score coverage


def _as_scores(scores: Any, n: int) -> dict[str, np.ndarray]:
    """Score columns as float64 arrays of length ``n``; reject non-numeric or misaligned ones."""
    columns = scores if isinstance(scores, dict) else {"score": scores}
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        try:
            array = np.asarray(_to_numpy(values, f"score column {name!r}"), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise QualityInputError(f"score column {name!r} is not numeric: {exc}") from exc
        if len(array) != n:
            raise QualityInputError(
                f"score column {name!r} has {len(array)} values for {n} score ids"
            )
        out[str(name)] = array
    if not out:
        raise QualityInputError("no score columns given")
    return out


def check_score_coverage(
    corpus_ids: Any, score_ids: Any, scores: np.ndarray | dict[str, np.ndarray]
) -> CheckOutcome:
    """Every corpus id has exactly one finite score and no score row names an unknown id.

    GX validates one frame: the score rows, then one placeholder row per corpus id that has
    no score (``has_score`` False, placeholder scores 0.0, so it fails only that
    expectation). Ids enter as shared integer codes; NaN and None scores are both null.
    """
    corpus = _as_ids(corpus_ids, "corpus_ids")
    ids = _as_ids(score_ids, "score_ids")
    columns = _as_scores(scores, len(ids))
    score_codes, corpus_codes = _codes(ids, corpus)
    size = int(max(score_codes.max(initial=-1), corpus_codes.max(initial=-1))) + 1
    in_corpus = _present(corpus_codes, size)
    has_score = _present(score_codes, size)
    lacking = np.flatnonzero((corpus_codes >= 0) & ~has_score[np.maximum(corpus_codes, 0)])
    missing_codes, first = np.unique(corpus_codes[lacking], return_index=True)
    missing_at = lacking[first]  # corpus position of each missing id, for the report
    known = (score_codes >= 0) & in_corpus[np.maximum(score_codes, 0)]
    n_score, n_missing = len(ids), len(missing_codes)
    frame = pd.DataFrame(
        {
            "id_code": np.concatenate([score_codes, missing_codes]),
            "in_corpus": np.concatenate([known, np.ones(n_missing, dtype=bool)]),
            "has_score": np.concatenate(
                [np.ones(n_score, dtype=bool), np.zeros(n_missing, dtype=bool)]
            ),
            **{f"score__{c}": np.concatenate([v, np.zeros(n_missing)]) for c, v in columns.items()},
        }
    )

    def report(rows: np.ndarray) -> dict[str, list[Any]]:
        at = np.full(len(rows), -1, dtype=np.int64)
        placeholder = rows >= n_score
        at[placeholder] = missing_at[rows[placeholder] - n_score]
        from_scores, from_corpus = _take(ids, rows), _take(corpus, at)
        return {
            "id": [
                b if p else a for p, a, b in zip(placeholder, from_scores, from_corpus, strict=True)
            ]
        }

    expectations = [
        _expect("ExpectTableRowCountToBeBetween", "empty score table", min_value=1),
        _expect(
            "ExpectColumnValuesToBeBetween",
            "null ids in the score table",
            column="id_code",
            min_value=0,
        ),
        _expect(
            "ExpectColumnValuesToBeUnique", "duplicate ids in the score table", column="id_code"
        ),
        _expect(
            "ExpectColumnValuesToBeInSet",
            "score ids not in the corpus",
            column="in_corpus",
            value_set=[True],
        ),
        _expect(
            "ExpectColumnValuesToBeInSet",
            "corpus ids without a score",
            column="has_score",
            value_set=[True],
        ),
    ]
    for name in columns:
        expectations += [
            _expect(
                "ExpectColumnValuesToNotBeNull",
                f"null/NaN scores in {name!r}",
                column=f"score__{name}",
            ),
            _expect(
                "ExpectColumnValuesToBeBetween",
                f"infinite scores in {name!r}",
                column=f"score__{name}",
                min_value=-_FLOAT_MAX,
                max_value=_FLOAT_MAX,
            ),
        ]
    internal = ("id_code", "in_corpus", "has_score")
    rows = _run_suites([_Suite("score_coverage", frame, expectations, report, internal)])
    metadata = {
        "corpus_rows": len(corpus),
        "score_rows": n_score,
        "score_columns": list(columns),
        "missing_ids": _count(rows, "corpus ids without a score"),
        "unknown_ids": _count(rows, "score ids not in the corpus"),
        "duplicate_id_rows": _count(rows, "duplicate ids in the score table"),
        "null_ids": _count(rows, "null ids in the score table"),
        "non_finite_scores": {
            name: _count(rows, f"null/NaN scores in {name!r}")
            + _count(rows, f"infinite scores in {name!r}")
            for name in columns
        },
        "offending_ids": _offending_values(rows, "id"),
    }
    ok = (
        f"Score coverage OK: {len(corpus)} corpus ids each have exactly one finite score in "
        f"{len(columns)} column(s); no unknown, duplicate or null ids."
    )
    return _outcome("score_coverage", rows, ok, ["id"], metadata)


# --------------------------------------------------------------------------- ordering


def _as_positions(values: Any, what: str) -> np.ndarray:
    """An ordering column as int64 (float only if it holds NaN, so GX reports the nulls)."""
    array = _to_numpy(values, what)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    try:
        floats = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QualityInputError(f"{what} is not numeric: {exc}") from exc
    whole = np.isfinite(floats) & (floats == np.round(floats))
    return floats.astype(np.int64) if whole.all() else floats


def _metrics_suite(metrics: dict, expected_shape: dict) -> _Suite:
    """One-row frame of the named guideline metrics, each bounded by its expected shape."""
    values: dict[str, float] = {}
    expectations = []
    for metric, bounds in expected_shape.items():
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
            raise QualityInputError(
                f"expected_shape[{metric!r}] must be a dict with 'min' and/or 'max', got {bounds!r}"
            )
        expectations.append(
            _expect("ExpectColumnToExist", f"guideline metric {metric!r} missing", column=metric)
        )
        if metric not in metrics:
            continue
        values[metric] = _metric_value(metrics[metric])
        expectations += [
            _expect(
                "ExpectColumnValuesToNotBeNull",
                f"guideline metric {metric!r} not a number",
                column=metric,
            ),
            _expect(
                "ExpectColumnValuesToBeBetween",
                f"guideline metric {metric!r} outside {bounds}",
                column=metric,
                min_value=bounds.get("min"),
                max_value=bounds.get("max"),
            ),
        ]
    frame = pd.DataFrame({k: [v] for k, v in values.items()}, index=[0])
    return _Suite("guideline_metrics", frame, expectations, lambda rows: {"row": list(rows)})


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
) -> CheckOutcome:
    """The ordering is a complete permutation of 0..n-1, equal to a fresh recomputation
    when one is given, and its guideline metrics lie within the method's expected shape.

    ``positions[k]`` is the sample read at position ``k``. ``expected_shape`` maps a metric
    name to ``{"min": x, "max": y}`` (either bound optional), e.g. ``{"cliffs": {"max": 0}}``;
    those metrics run as a second, one-row suite in the same context.
    """
    n = int(n)
    if n < 0:
        raise QualityInputError(f"n must be >= 0, got {n}")
    sample = _as_positions(positions, "positions")
    frame = pd.DataFrame({"sample": sample})
    in_range = f"sample indices outside 0..{n - 1}"
    expectations = [
        _expect("ExpectTableRowCountToEqual", f"ordering length is not n={n}", value=n),
        _expect("ExpectColumnValuesToNotBeNull", "null sample indices", column="sample"),
        _expect(
            "ExpectColumnValuesToBeUnique",
            "samples repeated (a permutation has none)",
            column="sample",
        ),
        _expect(
            "ExpectColumnValuesToBeBetween", in_range, column="sample", min_value=0, max_value=n - 1
        ),
    ]
    metadata: dict[str, Any] = {"n": n, "length": len(sample)}
    fresh = None
    if recomputed is not None:
        fresh = _as_positions(recomputed, "recomputed")
        frame["recomputed"] = _padded(
            fresh.astype(np.float64 if fresh.dtype.kind == "f" else np.int64), len(sample), -1
        )
        metadata["recomputed_length"] = len(fresh)
        expectations.append(
            _expect(
                "ExpectColumnPairValuesToBeEqual",
                "positions differ from a recomputation",
                column_A="sample",
                column_B="recomputed",
            )
        )
        if len(fresh) != len(sample):
            expectations.append(
                _expect(
                    "ExpectTableRowCountToEqual",
                    "recomputation has another length",
                    value=len(fresh),
                )
            )

    def report(rows: np.ndarray) -> dict[str, list[Any]]:
        columns = {"position": rows.tolist(), "sample": _take(sample, rows)}
        if fresh is not None:
            columns["recomputed"] = _take(fresh, rows)
        return columns

    suites = [_Suite("ordering", frame, expectations, report)]
    if expected_shape:
        suites.append(_metrics_suite(metrics or {}, expected_shape))
        metadata["guideline_metrics"] = {
            k: _metric_value((metrics or {}).get(k)) for k in expected_shape
        }
        metadata["expected_shape"] = expected_shape
    rows = _run_suites(suites)
    metadata.update(
        repeated_rows=_count(rows, "samples repeated (a permutation has none)"),
        out_of_range=_count(rows, in_range),
        null_rows=_count(rows, "null sample indices"),
        differing_positions=_count(rows, "positions differ from a recomputation"),
        offending_positions=_offending_values(rows, "position"),
    )
    ok = (
        f"Ordering OK: a complete permutation of 0..{n - 1}"
        + (", equal to a fresh recomputation" if recomputed is not None else "")
        + (", guideline metrics within the expected shape." if expected_shape else ".")
    )
    report_columns = ["position", "sample"] + (["recomputed"] if fresh is not None else [])
    return _outcome("ordering", rows, ok, report_columns, metadata)


# --------------------------------------------------------------------------- shards


def _shard_labels(lengths: np.ndarray, total: int) -> np.ndarray:
    """Shard index of every row given per-shard row counts, -1 past their sum."""
    labels = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    return _padded(labels, total, -1)


def _take_concat(parts: list[IdArray], starts: np.ndarray, rows: np.ndarray) -> list[Any]:
    """Values at global ``rows`` of the concatenation of ``parts`` (None past its end)."""
    out: list[Any] = [None] * len(rows)
    part_of = np.searchsorted(starts, rows, side="right") - 1
    for p in np.unique(part_of[part_of >= 0]):
        slots = np.flatnonzero(part_of == p)
        for slot, value in zip(slots, _take(parts[p], rows[slots] - starts[p]), strict=True):
            out[slot] = value
    return out


def check_shards(
    expected_ids: Any,
    shard_ids: list[Any],
    shard_row_counts: list[int] | None = None,
) -> CheckOutcome:
    """The shards, concatenated in order, hold exactly ``expected_ids`` position by position,
    and each shard holds as many rows as declared (``shard_row_counts``, e.g. a manifest).

    Ids are compared as shared integer codes (Arrow hashes the strings once); rows past
    the shorter side are padded with code -1 so they fail equality as well as the
    missing/extra-row expectations.
    """
    expected = _as_ids(expected_ids, "expected_ids")
    shards = [_as_ids(s, f"shard_ids[{i}]") for i, s in enumerate(shard_ids)]
    lengths = np.array([len(s) for s in shards], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    expected_codes, *shard_codes = _codes(expected, *shards)
    actual_codes = np.concatenate(shard_codes) if shard_codes else np.array([], np.int64)
    n_actual = int(lengths.sum())
    total = max(len(expected), n_actual)
    position = np.arange(total, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "shard": _shard_labels(lengths, total),
            "expected_code": _padded(expected_codes, total, -1),
            "actual_code": _padded(actual_codes, total, -1),
            "in_shards": position < n_actual,
            "in_expected": position < len(expected),
        }
    )
    expectations = [
        _expect(
            "ExpectColumnValuesToBeInSet",
            "expected rows missing past the end of the shards",
            column="in_shards",
            value_set=[True],
        ),
        _expect(
            "ExpectColumnValuesToBeInSet",
            "extra rows past the expected ids",
            column="in_expected",
            value_set=[True],
        ),
        _expect(
            "ExpectColumnPairValuesToBeEqual",
            "shard ids differ from the expected ids",
            column_A="actual_code",
            column_B="expected_code",
        ),
        _expect("ExpectColumnValuesToBeUnique", "ids repeated in the shards", column="actual_code"),
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
            _expect(
                "ExpectColumnPairValuesToBeEqual",
                "shard row counts differ from declared",
                column_A="shard",
                column_B="declared_shard",
            )
        )
        width = max(len(declared), len(lengths))
        wrong = np.flatnonzero(_padded(declared, width, -1) != _padded(lengths, width, -1))
        metadata["shards_with_wrong_counts"] = [
            {"shard": int(i), "declared": _at(declared, i), "actual": _at(lengths, i)}
            for i in wrong[:MAX_OFFENDERS]
        ]

    def report(rows: np.ndarray) -> dict[str, list[Any]]:
        inside = rows < n_actual
        shard = np.where(inside, np.searchsorted(starts, rows, side="right") - 1, -1)
        first = np.where(inside, np.append(starts, 0)[shard], 0)
        return {
            "position": rows.tolist(),
            "shard": shard.tolist(),
            "row_in_shard": np.where(inside, rows - first, -1).tolist(),
            "expected_id": _take(expected, rows),
            "actual_id": _take_concat(shards, starts, rows),
        }

    internal = ("expected_code", "actual_code", "declared_shard", "in_shards", "in_expected")
    rows = _run_suites([_Suite("shards", frame, expectations, report, internal)])
    metadata.update(
        missing_rows=_count(rows, "expected rows missing past the end of the shards"),
        extra_rows=_count(rows, "extra rows past the expected ids"),
        differing_positions=_count(rows, "shard ids differ from the expected ids"),
        repeated_rows=_count(rows, "ids repeated in the shards"),
        offending_positions=_offending_values(rows, "position"),
        offending_ids=[
            v
            for v in dict.fromkeys(
                _offending_values(rows, "expected_id") + _offending_values(rows, "actual_id")
            )
            if v is not None
        ][:MAX_OFFENDERS],
    )
    ok = f"Shards OK: {len(shards)} shard(s) hold the {len(expected)} expected ids in order" + (
        ", with the declared row counts." if shard_row_counts is not None else "."
    )
    wrong_counts = metadata.get("shards_with_wrong_counts")
    note = f"Shards with wrong row counts: {wrong_counts}." if wrong_counts else ""
    return _outcome(
        "shards", rows, ok, ["position", "shard", "expected_id", "actual_id"], metadata, note
    )


def _at(values: np.ndarray, i: int) -> int | None:
    """``values[i]`` as int, None past the end."""
    return int(values[i]) if i < len(values) else None


# --------------------------------------------------------------------------- dagster glue


def outcome_to_dagster_metadata(outcome: CheckOutcome) -> dict[str, Any]:
    """Flat JSON-able metadata for an asset check (the Dagster layer wraps the values)."""
    return _jsonable(
        {
            "passed": outcome.passed,
            "description": outcome.description,
            **{k: v for k, v in outcome.metadata.items() if k != "passed"},
            "results": outcome.results,
        }
    )
