"""Library results as the metadata Dagster's UI renders natively."""

import base64
import math
from typing import Any

import pyarrow as pa
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

import curation
from curation.plots import score_curve_png

OWNERS = ["team:data-ordering"]
CODE_VERSION = curation.__version__


def kinds_for(*uris: str | None, extra: tuple[str, ...] = ()) -> set[str]:
    """Dagster kinds: the storage a stage touches plus what it computes with."""
    found = {"parquet", *extra}
    if any(u and u.startswith("s3://") for u in uris):
        found.add("s3")
    return found


def png_markdown(png: bytes, alt: str) -> MetadataValue:
    """A PNG the UI shows inline: markdown with a data URI (relative links do not render)."""
    data = base64.b64encode(png).decode("ascii")
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{data})")


def curve_plot(curves: dict[str, dict], title: str) -> MetadataValue:
    return png_markdown(score_curve_png(curves, title), title)


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded for reading; non-finite floats become their text (strict JSON)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    if not math.isfinite(value):
        return str(value)
    return float(f"{value:.{digits}g}")


def scalar_metadata(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Numbers, strings and bools as entries (floats rounded); nested values as JSON."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, (bool, int, float, str)):
            out[f"{prefix}{key}"] = rounded(value)
        elif isinstance(value, (dict, list, tuple)):
            out[f"{prefix}{key}"] = MetadataValue.json(_rounded_tree(value))
    return out


def selection_metadata(selection: dict) -> dict[str, Any]:
    """A recipe's selection as UI entries (nothing when it keeps every row)."""
    if not selection:
        return {}
    total = selection["total"]
    return {
        "selection": MetadataValue.json(_rounded_tree(selection)),
        "kept_rows": selection["kept"],
        "total_rows": total,
        "kept_fraction": rounded(selection["kept"] / total if total else 0.0),
    }


def _rounded_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _rounded_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded_tree(v) for v in value]
    return rounded(value)


def table_schema(schema: pa.Schema) -> TableSchema:
    """``dagster/column_schema`` from an Arrow schema."""
    return TableSchema(columns=[TableColumn(name=f.name, type=str(f.type)) for f in schema])


def location(uri: str) -> MetadataValue:
    """A path value for local locations, a url value for s3://."""
    return MetadataValue.url(uri) if "://" in uri else MetadataValue.path(uri)


def table_value(rows: list[dict]) -> MetadataValue:
    """Rows of scalars as a Dagster table (lists are joined; floats rounded)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    records = []
    for row in rows:
        clean = {}
        for key in columns:
            value = row.get(key, "")
            if isinstance(value, (list, tuple)):
                value = ",".join(map(str, value))
            value = rounded(value)
            clean[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        records.append(TableRecord(clean))
    return MetadataValue.table(records=records)


def add_partition_metadata(context, metadata: dict, partition: str) -> None:
    """Metadata for one recipe partition of a step (a step may cover several recipes)."""
    if len(context.partition_keys) == 1:
        context.add_output_metadata(metadata)  # also works when an asset is invoked directly
    else:
        context.add_asset_metadata(metadata, partition_key=partition)
