"""Shared id codes: 64-bit keys where they are exact, the dictionary path where not."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.corpus import ids as ids_module
from curation.corpus.ids import _dense_codes, match_ids, shared_codes
from curation.storage.hashing import RowHasher


def _dictionary_codes(*arrays):
    return np.split(
        _dense_codes([pa.array(a) for a in arrays]), np.cumsum([len(a) for a in arrays])[:-1]
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(max_size=6), max_size=30),
    st.lists(st.text(max_size=6), max_size=30),
)
def test_key_codes_equal_a_dictionary_encode_of_the_concatenation(a, b):
    got = shared_codes(pa.array(a, pa.string()), pa.array(b, pa.string()))
    want = _dictionary_codes(pa.array(a, pa.string()), pa.array(b, pa.string()))
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30), st.lists(st.integers(0, 9)))
def test_int_ids_are_their_own_keys(a, b):
    got = shared_codes(pa.array(a, pa.int64()), pa.array(b, pa.int64()))
    want = _dictionary_codes(pa.array(a, pa.int64()), pa.array(b, pa.int64()))
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


def test_a_key_collision_falls_back_to_exact_codes(monkeypatch):
    """Every string id hashed to one key: the check sees different ids under one code and
    the codes come from the dictionary path, still exact."""
    monkeypatch.setattr(RowHasher, "column", lambda self, v: np.zeros(len(v), np.uint64))
    corpus = pa.array(["a", "b", "c", "d"])
    scores = pa.array(["d", "a", "x", "a"])
    match = match_ids(corpus, scores)
    assert match.known.tolist() == [True, True, False, True]
    assert match.repeated.tolist() == [False, True, False, True]
    assert match.score_row.tolist() == [3, -1, -1, 0]


def test_ids_are_compared_a_chunk_at_a_time(monkeypatch):
    monkeypatch.setattr(ids_module, "VERIFY_ROWS", 3)
    corpus = pa.array([f"doc-{i}" for i in range(50)])
    scores = pa.array([f"doc-{i}" for i in range(49, -1, -1)])
    match = match_ids(corpus, scores)
    assert match.score_row.tolist() == list(range(49, -1, -1))
    assert match.known.all() and not match.repeated.any()
