"""Great Expectations plumbing: every GX call of the project lives in this module.

Each validation builds its own ephemeral context, with progress bars and analytics off,
because a context is process-global state in GX 1.x and a fresh one per call cannot leak
suites or results between checks. GX is imported lazily (its import costs ~3 s), so
importing :mod:`curation.quality` never loads it.

GX validates numeric frames only: ids enter as shared integer codes (see
:mod:`curation.quality.columns`); GX reports offending rows by row number (capped at
``MAX_OFFENDERS``) and each check maps them back to ids through its ``report``.
"""

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from curation.machine import release_memory
from curation.quality.outcome import MAX_OFFENDERS, jsonable


@dataclass
class Suite:
    """One frame and the expectations GX runs on it (their meta labels say what failed).

    The frame holds numeric columns only: GX fingerprints every batch with
    ``pd.util.hash_pandas_object``, which costs seconds on 10^6 Python strings. Ids stay
    outside; ``report`` maps the row numbers GX flags to the columns a reader wants.
    """

    name: str
    frame: pd.DataFrame | dict[str, np.ndarray]  # a dict of columns may be validated in chunks
    expectations: list[Any]
    report: Callable[[np.ndarray], dict[str, list[Any]]]
    internal_columns: tuple[str, ...] = ()


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


def expect(kind: str, label: str, **kwargs: Any) -> Any:
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


CHUNK_ROWS = 1 << 20  # rows per GX validation: bounds pandas/GX memory whatever n is
_TABLE_LEVEL = ("ExpectTableRowCountToEqual", "ExpectTableRowCountToBeBetween")


def run_suites(suites: list[Suite]) -> list[dict[str, Any]]:
    """Validate every suite in one fresh context; return per-expectation result dicts.

    A suite of at most ``CHUNK_ROWS`` rows is one validation. A longer one is validated in
    chunks of ``CHUNK_ROWS`` rows (row-local expectations; counts summed, offending rows
    kept in row order), its row-count expectations on a column-less frame of its length,
    and each uniqueness expectation as the exact numpy flag "value occurs more than once"
    that GX then checks chunk by chunk: the same verdicts and counts in bounded memory.
    """
    context = _context()
    source = context.data_sources.add_pandas(name="curation_quality")
    rows: list[dict[str, Any]] = []
    for suite in suites:
        columns = suite.frame if isinstance(suite.frame, dict) else None
        n = len(next(iter(columns.values()))) if columns else len(suite.frame)
        if columns is None or n <= CHUNK_ROWS:
            frame = suite.frame if columns is None else pd.DataFrame(columns)
            rows += _validate(context, source, suite, frame, suite.expectations, suite.name)
        else:
            rows += _validate_chunked(context, source, suite, columns, n)
    release_memory()  # GX's chunk frames would otherwise stay resident (glibc heap)
    return rows


def _validate(context, source, suite: Suite, frame, expectations, name: str) -> list[dict]:
    gx = _gx()
    batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(
        name=f"{name}_whole"
    )
    fresh = [copy.copy(e) for e in expectations]  # one expectation may serve several chunks
    gx_suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=fresh))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": MAX_OFFENDERS,
    }
    validation = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    rank = {(e.meta or {}).get("label"): i for i, e in enumerate(expectations)}
    rows = [_result_row(r, suite) for r in validation.results]
    return sorted(rows, key=lambda r: rank.get(r["label"], len(rank)))  # in the suite's order


def repeated(values: np.ndarray) -> np.ndarray:
    """True where a value occurs more than once (what GX's uniqueness flags; NaN never
    repeats). One sorted copy (8 bytes a row), then a lookup among the repeated values."""
    ordered = np.sort(values)
    twice = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    return np.isin(values, twice)


def _validate_chunked(context, source, suite: Suite, columns: dict, n: int) -> list[dict]:
    table, local, internal = [], [], list(suite.internal_columns)
    columns = dict(columns)
    for e in suite.expectations:
        kind = type(e).__name__
        if kind in _TABLE_LEVEL:
            table.append(e)
        elif kind == "ExpectColumnValuesToBeUnique":
            flag = f"__repeated__{e.column}"
            columns[flag] = repeated(columns[e.column])
            internal.append(flag)
            label = (e.meta or {}).get("label", kind)
            local.append(
                expect("ExpectColumnValuesToBeInSet", label, column=flag, value_set=[False])
            )
        else:
            local.append(e)
    out = _validate(
        context, source, suite, pd.DataFrame(index=pd.RangeIndex(n)), table, f"{suite.name}_rows"
    )
    merged: list[dict] = []
    for k, start in enumerate(range(0, n, CHUNK_ROWS)):
        stop = min(n, start + CHUNK_ROWS)
        frame = pd.DataFrame({c: v[start:stop] for c, v in columns.items()})
        shifted = Suite(
            suite.name,
            frame,
            local,
            lambda r, s=start: suite.report(r + s),
            tuple(internal),
        )
        parts = _validate(context, source, shifted, frame, local, f"{suite.name}_{k}")
        merged = parts if not merged else [_merge(a, b) for a, b in zip(merged, parts, strict=True)]
    rank = {(e.meta or {}).get("label"): i for i, e in enumerate(suite.expectations)}
    return sorted(out + merged, key=lambda r: rank.get(r["label"], len(rank)))


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One result row from two chunks of the same expectation (b follows a)."""
    row = dict(a)
    row["success"] = a["success"] and b["success"]
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in a or key in b:
            row[key] = a.get(key, 0) + b.get(key, 0)
    if row.get("element_count"):
        nonnull = row["element_count"] - row.get("missing_count", 0)
        row["unexpected_percent"] = 100.0 * row.get("unexpected_count", 0) / max(nonnull, 1)
    for key in ("partial_unexpected_list", "offending"):
        if key in a or key in b:
            row[key] = (a.get(key, []) + b.get(key, []))[:MAX_OFFENDERS]
    if "exception" in b and "exception" not in a:
        row["exception"] = b["exception"]
    return row


def _result_row(result: Any, suite: Suite) -> dict[str, Any]:
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
        "kwargs": jsonable(kwargs),
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
            row[key] = jsonable(detail[key])
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


def _offending_rows(suite: Suite, rows: list[Any]) -> list[dict[str, Any]]:
    """The report columns of the rows GX flagged (GX names them by frame row number).

    We ask GX for bare row numbers, not ``unexpected_index_column_names``: with those, GX
    1.24 builds the index list for every unexpected row in a Python loop before truncating
    it (minutes for 10^6 bad rows); row numbers come from one ``list(index)``.
    """
    picked = suite.report(np.asarray(rows, dtype=np.int64))
    return [{k: jsonable(v[i]) for k, v in picked.items()} for i in range(len(rows))]
