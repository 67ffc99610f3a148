"""The one rule for ids: strings or integers, one Arrow type per kind, nothing converted.

Every stage (corpus reader, score importer, coverage, checks) compares ids. They agree only
if each normalises the same way: integers of any width to int64 (refusing uint64 values
that int64 cannot hold, rather than wrapping them), strings to ``string``, dictionaries
decoded. Int and string ids are different kinds and never equal each other: ``7`` is not
``"007"``.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curation.storage.hashing import RowHasher

_INT64_MAX = np.iinfo(np.int64).max


class IdTypeError(ValueError):
    """An id column of a type that is not strings or integers, or one that int64 cannot hold."""


def as_arrow(values: Any) -> pa.Array:
    """One contiguous Arrow array from Arrow, numpy or a Python sequence (no Python loop)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, from_pandas=True)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return values


def id_kind(values: pa.Array | pa.ChunkedArray) -> str | None:
    """``"int"``, ``"str"`` or None (not an id type)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "str"
    return None


def normalize_ids(values: Any, column: str = "id") -> pa.Array:
    """Ids as int64 or string; anything else (or a uint64 above 2^63-1) raises IdTypeError.

    The error names ``column`` and, for overflow, the first offending value.
    """
    array = as_arrow(values)
    kind = id_kind(array)
    if kind is None:
        raise IdTypeError(
            f"id column {column!r} has type {array.type}; ids must be strings or integers"
        )
    if kind == "str":
        return array.cast(pa.string())
    if pa.types.is_uint64(array.type) and len(array) - array.null_count:
        big = pc.greater(array, pa.scalar(_INT64_MAX, pa.uint64()))
        if pc.any(big).as_py():
            first = array.filter(big)[0].as_py()
            count = pc.sum(big).as_py()
            raise IdTypeError(
                f"id column {column!r} holds {count} uint64 value(s) above the int64 maximum "
                f"(first: {first}); ids must fit int64, or be stored as strings"
            )
    return array.cast(pa.int64())


def _coded(values: Any) -> pa.Array:
    """Ids under the rule above; columns of other types (floats) are coded as they are and
    simply never match ids."""
    array = as_arrow(values)
    return normalize_ids(array) if id_kind(array) is not None else array


def _code_type(n: int) -> type:
    """int32 codes while they fit (half the memory of int64 at 10^8 rows), else int64."""
    return np.int32 if n < np.iinfo(np.int32).max // 2 else np.int64


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
    return indices.to_numpy(zero_copy_only=False).astype(_code_type(len(joined)))  # writable


#: positions whose ids are compared with their code's first id at a time
VERIFY_ROWS = 1 << 16


def _keys(arrays: list[pa.Array]) -> np.ndarray | None:
    """One 64-bit key per id across the arrays (int64 ids as themselves, strings hashed),
    or None when they are not all of one id type without nulls (the dictionary path)."""
    types = {a.type for a in arrays}
    if len(types) != 1 or any(a.null_count for a in arrays):
        return None
    kind = types.pop()
    if kind == pa.int64():
        return np.concatenate([a.to_numpy(zero_copy_only=False) for a in arrays]).view(np.uint64)
    if kind != pa.string():
        return None
    hasher = RowHasher()
    return np.concatenate([hasher.column(a) for a in arrays])


def _take_joined(arrays: list[pa.Array], starts: np.ndarray, rows: np.ndarray) -> pa.Array:
    """Values at global ``rows`` of the arrays' concatenation, without concatenating them."""
    part = np.searchsorted(starts, rows, side="right") - 1
    order = np.argsort(part, kind="stable")
    pieces = [arrays[k].take(pa.array(rows[part == k] - starts[k])) for k in np.unique(part)]
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return pa.concat_arrays(pieces).take(pa.array(back))


def _one_id_per_code(arrays: list[pa.Array], codes: np.ndarray) -> bool:
    """Every row's id equals the first id of its code: no two different ids share a key
    (compared a chunk at a time; a 64-bit key collision sends the caller to the
    dictionary path, so codes stay exact)."""
    first = np.empty(int(codes.max(initial=-1)) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    starts = np.cumsum([0] + [len(a) for a in arrays[:-1]])
    for lo in range(0, codes.size, VERIFY_ROWS):
        rep = first[codes[lo : lo + VERIFY_ROWS]]
        rows = np.flatnonzero(rep != np.arange(lo, lo + rep.size)) + lo
        if not rows.size:
            continue
        same = pc.equal(
            _take_joined(arrays, starts, rows), _take_joined(arrays, starts, first[codes[rows]])
        )
        if not pc.all(same).as_py():
            return False
    return True


def _key_codes(arrays: list[pa.Array]) -> np.ndarray | None:
    """Codes by first appearance from 64-bit keys (what a dictionary encode of the
    concatenation gives, without holding the ids twice), or None (the dictionary path)."""
    keys = _keys(arrays)
    if keys is None:
        return None
    codes = pd.factorize(keys)[0]
    del keys
    if arrays[0].type == pa.string() and not _one_id_per_code(arrays, codes):
        return None
    return codes.astype(_code_type(codes.size), copy=False)


def shared_codes(*arrays: Any) -> list[np.ndarray]:
    """Integer codes shared by all arrays: equal ids, equal codes; every null id gets its
    own negative code, so nulls are never equal to anything (nor to each other).

    Ids of one type without nulls are coded from 64-bit keys (16 bytes a row, whatever the
    ids' length), each code checked to stand for one id; otherwise, and after a key
    collision, by one dictionary encode of their concatenation (the ids twice over)."""
    if all(isinstance(a, np.ndarray) and a.dtype.kind == "i" for a in arrays):
        joined = np.concatenate([a.astype(np.int64, copy=False) for a in arrays])
        codes = pd.factorize(joined)[0].astype(_code_type(len(joined)), copy=False)
    else:
        coded = [_coded(a) for a in arrays]
        codes = _key_codes(coded)
        if codes is None:
            codes = _dense_codes(coded)
    nulls = np.flatnonzero(codes < 0)
    codes[nulls] = -(nulls + 1)
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1])


def present(codes: np.ndarray, size: int) -> np.ndarray:
    """Boolean table over ``range(size)``: which (non-null) codes occur."""
    mask = np.zeros(size, dtype=bool)
    mask[codes[codes >= 0]] = True
    return mask


@dataclass(frozen=True)
class IdMatch:
    """How score-table ids meet corpus ids: the one join behind every coverage consumer.

    ``known[i]``: score row i names a (non-null) corpus id. ``score_row[j]``: the score row
    holding corpus row j's id (-1 when none; the last one when repeated). ``repeated[i]``:
    score row i's id occurs more than once in the score table.
    """

    score_codes: np.ndarray
    corpus_codes: np.ndarray
    known: np.ndarray
    score_row: np.ndarray
    repeated: np.ndarray

    @property
    def missing_rows(self) -> np.ndarray:
        """Corpus rows (non-null ids) that no score row names."""
        return np.flatnonzero((self.score_row < 0) & (self.corpus_codes >= 0))


def match_ids(corpus_ids: Any, score_ids: Any) -> IdMatch:
    """Join score ids to corpus ids through shared codes (one hash pass, numpy after it).

    Ids of different kinds (int vs string) never match. Raises IdTypeError for ids that
    break the rule (e.g. uint64 beyond int64).
    """
    score_codes, corpus_codes = shared_codes(score_ids, corpus_ids)
    size = int(max(score_codes.max(initial=-1), corpus_codes.max(initial=-1))) + 1
    valid = score_codes >= 0
    known = valid & present(corpus_codes, size)[np.maximum(score_codes, 0)]
    row_of_code = np.full(size, -1, dtype=np.int64)
    row_of_code[score_codes[valid]] = np.flatnonzero(valid)
    score_row = np.where(corpus_codes >= 0, row_of_code[np.maximum(corpus_codes, 0)], -1)
    counts = np.bincount(score_codes[valid], minlength=size)
    repeated = valid & (counts[np.maximum(score_codes, 0)] > 1)
    return IdMatch(score_codes, corpus_codes, known, score_row, repeated)
