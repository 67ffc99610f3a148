"""The reference code's selection rules restated as the plain Python it runs.

Written from the reference code's ``data_selection/`` rules: rows are dicts, the
two top rules sort the whole list with Python's stable ``sorted`` (ascending) and keep a
tail slice, ``threshold`` filters with a comprehension. Together with
:mod:`tests.curation.ordering.reference_ordering` it is the oracle for selection followed by
ordering.
"""

from tests.curation.ordering.reference_ordering import ref_order


def ref_top_k(records: list[dict], k: int, field: str = "score") -> list[dict]:
    """Ascending stable sort, then the last ``k`` (every row when ``k`` >= the length)."""
    count = int(max(0, k))
    ranked = sorted(records, key=lambda rec: rec[field])
    return ranked[-count:] if count < len(ranked) else ranked


def ref_top_r(records: list[dict], r: float, field: str = "score") -> list[dict]:
    """``top_k`` with k = int(n * r), r clipped at 0 (k = 0 slices ``[-0:]``: everything)."""
    count = int(len(records) * float(max(0, r)))
    ranked = sorted(records, key=lambda rec: rec[field])
    return ranked[-count:] if count < len(ranked) else ranked


def ref_threshold(records: list[dict], t: float, field: str = "score") -> list[dict]:
    """Rows whose score is strictly above ``t``, in input order."""
    return [rec for rec in records if rec[field] > t]


def ref_select_then_order(
    select_scores: list[float],
    order_scores: list[float],
    rule: str,
    value: float,
    method: str,
    **params,
) -> list[int]:
    """Corpus rows in training order: the rule's output list, then the reference ordering
    of that list (its order decides ties and JIT windows)."""
    records = [
        {"row": i, "select": s, "score": o}
        for i, (s, o) in enumerate(zip(select_scores, order_scores, strict=True))
    ]
    rules = {"top_k": ref_top_k, "top_fraction": ref_top_r, "threshold": ref_threshold}
    kept = rules[rule](records, value, field="select")
    positions = ref_order([rec["score"] for rec in kept], method, **params)
    return [kept[p]["row"] for p in positions]
