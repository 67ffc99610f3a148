"""What changed between two versions: lineage, metrics, rows, ids, positions, score columns."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation import storage
from curation.publish.catalog import open_version
from curation.publish.manifest import PublishedVersion, canonical_json


def _column(pv: PublishedVersion, name: str) -> pa.Array:
    vdir = storage.resolve(pv.uri)
    parts = []
    for s in pv.manifest["shards"]:
        loc = vdir.join(s["name"])
        with loc.fs.open_input_file(loc.path) as f:
            parts.append(pq.read_table(f, columns=[name]).column(0))
    chunks = [c for p in parts for c in p.chunks]
    return pa.chunked_array(chunks, type=parts[0].type).combine_chunks()


def diff_versions(root: str, dataset: str, a: str, b: str) -> dict:
    """What changed from version a to b: lineage, metrics, rows, ids, positions, score columns."""
    va, vb = open_version(root, dataset, a), open_version(root, dataset, b)
    ma, mb = va.manifest, vb.manifest
    ids_a, ids_b = _column(va, "id"), _column(vb, "id")
    where_in_b = pc.index_in(ids_a, value_set=ids_b).to_numpy(zero_copy_only=False)
    common = ~np.isnan(where_in_b.astype(float))
    pos_a = np.flatnonzero(common)
    pos_b = where_in_b[common].astype(np.int64)
    moved = pos_a != pos_b
    only_a = ids_a.filter(pa.array(~common))
    only_b_mask = ~pc.is_in(ids_b, value_set=ids_a).to_numpy(zero_copy_only=False)
    only_b = ids_b.filter(pa.array(only_b_mask))
    return {
        "a": va.version,
        "b": vb.version,
        "lineage": _dict_diff(ma["lineage"], mb["lineage"]),
        "metrics": _dict_diff(ma.get("metrics", {}), mb.get("metrics", {})),
        "rows": {"a": ma["num_rows"], "b": mb["num_rows"]},
        "ids_only_in_a": {"count": len(only_a), "examples": only_a[:10].to_pylist()},
        "ids_only_in_b": {"count": len(only_b), "examples": only_b[:10].to_pylist()},
        "positions": _displacement(pos_a, pos_b, moved, ids_a),
        "scores": _score_diff(va, vb, ma, mb, pos_a, pos_b),
    }


def _dict_diff(a: dict, b: dict) -> dict:
    keys = sorted(set(a) | set(b))
    return {
        k: {"a": a.get(k), "b": b.get(k)}
        for k in keys
        if canonical_json(a.get(k)) != canonical_json(b.get(k))
    }


def _displacement(pos_a, pos_b, moved, ids_a) -> dict:
    delta = np.abs(pos_a - pos_b)
    order = np.argsort(-delta, kind="stable")[:10]
    return {
        "common": int(len(pos_a)),
        "moved": int(moved.sum()),
        "max_displacement": int(delta.max()) if delta.size else 0,
        "mean_abs_displacement": float(delta.mean()) if delta.size else 0.0,
        "largest_moves": [
            {"id": ids_a[int(pos_a[i])].as_py(), "a": int(pos_a[i]), "b": int(pos_b[i])}
            for i in order
            if delta[i] > 0
        ],
    }


def _score_diff(va, vb, ma, mb, pos_a, pos_b) -> dict:
    """Per float column present in both: how many common ids changed value, and by how much."""
    cols = [
        c
        for c, t in ma["columns"].items()
        if t in ("float", "double", "halffloat") and mb["columns"].get(c) == t
    ]
    out = {}
    for c in cols:
        xa = _column(va, c).to_numpy(zero_copy_only=False)[pos_a]
        xb = _column(vb, c).to_numpy(zero_copy_only=False)[pos_b]
        diff = np.abs(xa - xb)
        changed = ~((xa == xb) | (np.isnan(xa) & np.isnan(xb)))
        out[c] = {
            "changed": int(changed.sum()),
            "max_abs_diff": float(np.nanmax(diff)) if changed.any() else 0.0,
        }
    return out
