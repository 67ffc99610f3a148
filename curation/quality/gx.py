"""Great Expectations plumbing: every GX call of the project lives in this module.

Each validation builds its own ephemeral context, with progress bars and analytics off,
because a context is process-global state in GX 1.x and a fresh one per call cannot leak
suites or results between checks. GX is imported lazily (its import costs ~3 s), so
importing :mod:`curation.quality` never loads it.

GX validates numeric frames only: ids enter as shared integer codes (see
:mod:`curation.quality.columns`); GX reports offending rows by row number (capped at
``MAX_OFFENDERS``) and each check maps them back to ids through its ``report``.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from curation.quality.outcome import MAX_OFFENDERS, jsonable


@dataclass
class Suite:
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


def run_suites(suites: list[Suite]) -> list[dict[str, Any]]:
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
