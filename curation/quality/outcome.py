"""The verdict of a check in plain JSON-able values, and the sentence that explains it."""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MAX_OFFENDERS = 10


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


def jsonable(value: Any) -> Any:
    """Numpy scalars to Python, non-finite floats to strings, unknown objects to str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or isinstance(value, bool | int | str):
        return None if value is pd.NA else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def offending_values(rows: list[dict[str, Any]], column: str) -> list[Any]:
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


def make_outcome(
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
    return CheckOutcome(passed, name, description, jsonable(metadata), rows)


def count_unexpected(rows: list[dict[str, Any]], label: str) -> int:
    """Unexpected rows that GX counted for the expectation labelled ``label`` (0 if none)."""
    return int(next((r.get("unexpected_count", 0) for r in rows if r["label"] == label), 0))


def outcome_metadata(outcome: CheckOutcome) -> dict[str, Any]:
    """Flat, strict-JSON metadata of an outcome (what an orchestrator records with a check)."""
    return jsonable(
        {
            "passed": outcome.passed,
            "description": outcome.description,
            **{k: v for k, v in outcome.metadata.items() if k != "passed"},
            "results": outcome.results,
        }
    )
