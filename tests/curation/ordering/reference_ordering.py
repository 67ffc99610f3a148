"""The reference algorithm restated as the plain Python loops the paper's code runs.

Written from the reference code's loops (microsoft/data-efficacy ``data_ordering/``):
Python's stable ``sorted`` (``reverse=True`` for descending), list slicing for folding, a
per-region loop for STR/SAW, and
``numpy.random.default_rng(seed).shuffle`` over Python lists for JIT. It is the oracle
the vectorised engine must equal, and the slow baseline in bench/ordering.py.
"""

import numpy as np


def ref_sorted(scores: list[float], ascending: bool = True) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: float(scores[i]), reverse=not ascending)


def ref_fold(items: list[int], layers: int, zigzag: bool = False) -> list[int]:
    out: list[int] = []
    for layer in range(layers):
        part = list(items[layer::layers])
        if zigzag and layer % 2 == 1:
            part.reverse()
        out.extend(part)
    return out


def ref_regions(
    items: list[int], sections: int, ratio: float, layers: int, zigzag: bool
) -> list[int]:
    n = len(items)
    if n == 0 or sections == 1 or ratio == 0:
        return list(items)
    radius = round(n * ratio)
    out: list[int] = []
    cursor = 0
    for k in range(1, sections):
        split = round(n * k / sections)
        start = max(cursor, split - radius)
        end = min(n, split + radius)
        if cursor < start:
            out.extend(items[cursor:start])
        out.extend(ref_fold(list(items[start:end]), layers, zigzag))
        cursor = end
    if cursor < n:
        out.extend(items[cursor:n])
    return out


def ref_window_shuffle(items: list[int], window_size: int, seed: int) -> list[int]:
    if window_size is None or window_size <= 1:
        return list(items)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for start in range(0, len(items), window_size):
        chunk = list(items[start : start + window_size])
        rng.shuffle(chunk)
        out.extend(chunk)
    return out


def ref_order(scores: list[float], method: str, **p) -> list[int]:
    """The reference permutation for sorted, folding, zigzag, str and saw."""
    asc = p.get("ascending", True)
    s = ref_sorted(scores, asc)
    if method == "folding":
        s = ref_fold(s, p["folding_layer"])
    elif method == "zigzag":
        s = ref_fold(s, p["zigzag_layer"], zigzag=True)
    elif method in ("str", "saw"):
        s = ref_regions(
            s, p["num_sections"], p["folding_ratio"], p["folding_layer"], method == "saw"
        )
    return ref_window_shuffle(s, p.get("window_size", 0), p.get("seed", 42))
