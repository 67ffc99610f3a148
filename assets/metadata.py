"""Turn library results into Dagster metadata people want to read in the UI."""

import base64
from typing import Any

from dagster import MetadataValue

from curation.plots import score_curve_png


def png_markdown(png: bytes, alt: str) -> MetadataValue:
    """Embed a PNG in metadata (rendered by the UI's markdown viewer)."""
    data = base64.b64encode(png).decode("ascii")
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{data})")


def curve_plot(curves: dict[str, dict], title: str) -> MetadataValue:
    return png_markdown(score_curve_png(curves, title), title)


def scalar_metadata(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten numbers/strings/bools into metadata entries; nest dicts as JSON."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, bool) or isinstance(value, (int, float, str)):
            out[f"{prefix}{key}"] = value
        elif isinstance(value, (dict, list)):
            out[f"{prefix}{key}"] = MetadataValue.json(value)
    return out
