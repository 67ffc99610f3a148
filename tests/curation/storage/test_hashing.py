"""Row fingerprints equal their definition, computed the slow way (one row at a time)."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.storage.hashing import row_digests

M = 1 << 64
P = 0x100000001B3


def _mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) % M
    return x ^ (x >> 31)


def _definition(values: list[tuple[str | None, str | None]]) -> list[int]:
    """The fingerprint of each row as documented: per column, sum((byte + salt) * P**k)
    over its UTF-8 bytes, then combined with the length and mixed."""
    out = []
    for row in values:
        h = 0
        for salt, value in enumerate(row, start=1):
            data = ("\x00null" if value is None else value).encode()
            total = sum((b + salt) * pow(P, k, M) for k, b in enumerate(data)) % M
            h = _mix((h * P + total + len(data) * salt) % M)
        out.append(h)
    return out


texts = st.one_of(st.none(), st.text(max_size=40))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=30), st.integers(0, 5))
def test_row_digests_equal_their_definition(rows, cut):
    ids = pa.array([r[0] for r in rows], pa.string())
    text = pa.array([r[1] for r in rows], pa.large_string())
    cut = min(cut, len(rows) - 1)  # a sliced array (non-zero offset) as a batch gives one
    got = row_digests(ids.slice(cut), text.slice(cut))
    assert got.dtype == np.uint64
    assert got.tolist() == _definition(rows[cut:])


def test_same_row_same_digest_anywhere_in_a_batch():
    ids = pa.array(["a", "b", "a", "doc-1"])
    text = pa.array(["x" * 1000, "y", "x" * 1000, ""])
    got = row_digests(ids, text)
    assert got[0] == got[2]
    assert len(set(got.tolist())) == 3


def test_row_fingerprints_do_not_depend_on_the_window(monkeypatch):
    """Bytes are hashed a window at a time (bounded work tables), rows cut by window edges
    included: same fingerprints whatever the window and the batch."""
    from curation.storage.hashing import RowHasher

    ids = pa.array([f"doc-{i}" for i in range(1000)])
    texts = pa.array([("word " * (i % 17)) or None for i in range(1000)])
    whole = RowHasher()(ids, texts)
    for window in (7, 64, 1000):
        monkeypatch.setattr(RowHasher, "WINDOW", window)
        assert (RowHasher()(ids, texts) == whole).all()
        assert (RowHasher()(ids.slice(3, 500), texts.slice(3, 500)) == whole[3:503]).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=20), st.integers(1, 9))
def test_small_windows_equal_the_definition(rows, window):
    from curation.storage.hashing import RowHasher

    ids = pa.array([r[0] for r in rows], pa.string())
    text = pa.array([r[1] for r in rows], pa.large_string())
    original = RowHasher.WINDOW
    RowHasher.WINDOW = window
    try:
        got = RowHasher()(ids, text)
    finally:
        RowHasher.WINDOW = original
    assert got.tolist() == _definition(rows)


def test_the_work_tables_do_not_grow_with_a_long_document():
    from curation.storage.hashing import RowHasher

    hasher = RowHasher()
    before = hasher._work.nbytes + hasher._powers.nbytes
    hasher(pa.array(["long"]), pa.array(["x" * (5 * RowHasher.WINDOW + 3)]))
    assert hasher._work.nbytes + hasher._powers.nbytes == before <= 8 * (RowHasher.WINDOW + 1) * 2
