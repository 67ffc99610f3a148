"""Small matplotlib renderers shared by asset metadata and reports (PNG bytes, Agg backend)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def score_curve_png(
    curves: dict[str, dict[str, list[float]]], title: str = "Score along the order"
) -> bytes:
    """One line per ordering: mean score against position, like the paper's figure."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    for name, curve in curves.items():
        ax.plot(curve["position"], curve["score"], label=name, linewidth=1.2)
    ax.set_xlabel("position in training order")
    ax.set_ylabel("score (bucket mean)")
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8, ncol=4)
    return _png(fig, ax)


def histogram_png(values, title: str, bins: int = 50) -> bytes:
    """A histogram of one score column."""
    fig, ax = plt.subplots(figsize=(5, 2.8), dpi=100)
    ax.hist(values, bins=bins, color="#4c72b0")
    ax.set_title(title)
    return _png(fig, ax)


def _png(fig, ax) -> bytes:
    """Finish a figure (grid, tight layout) and return it as PNG bytes."""
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
