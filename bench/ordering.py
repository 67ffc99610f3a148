"""Ordering engine benchmark: STR/SAW against the fastest stable sort numpy can do.

Usage: python bench/ordering.py [--sizes 1e6 1e7 1e8] [--quick]

For each size, in one process: (a) the floor, a stable sort of the same float32 scores by
packed uint64 keys (score bits << 32 | index) with numpy's fastest sort, and
``argsort(kind="stable")`` for reference; STR and SAW with the reference defaults;
and at 10^6 (b) the reference algorithm as pure Python loops. Peak memory of one
``order()`` call is measured with tracemalloc (numpy reports its buffers there) against the
bytes of the (int64 id, float32 score) columns. Ratios, not absolute times, are the result:
machines here are noisy.
"""

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.ordering.engine import order  # noqa: E402
from tests.curation.ordering.reference_ordering import ref_order  # noqa: E402


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def packed_sort(scores: np.ndarray) -> np.ndarray:
    """The floor: the identical stable ascending order via unique packed keys and np.sort,
    every step in place (the fastest stable sort numpy can do)."""
    bits = scores.view(np.uint32)
    keys = bits ^ np.where(bits >> 31 == 1, np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    packed = keys.astype(np.uint64)
    del keys
    np.left_shift(packed, np.uint64(32), out=packed)
    np.bitwise_or(packed, np.arange(scores.size, dtype=np.uint64), out=packed)
    packed.sort()
    np.bitwise_and(packed, np.uint64(0xFFFFFFFF), out=packed)
    return packed.view(np.int64)


def peak_bytes(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return peak


def run_size(n: int, repeat: int) -> None:
    scores = np.random.default_rng(0).random(n, dtype=np.float32)
    column_bytes = n * (8 + 4)
    warm = packed_sort(scores)  # untimed first call: page faults and sort dispatch warm-up
    assert np.array_equal(warm, order(scores, "sorted"))
    del warm
    floor = best_of(lambda: packed_sort(scores), repeat)
    argsort = best_of(lambda: np.argsort(scores, kind="stable"), 1 if n >= 10**8 else repeat)
    print(f"\nn = {n:,}  (id+score columns {column_bytes / 2**20:,.0f} MiB)")
    print(f"  floor: packed-key sort      {floor:8.3f} s   1.00x")
    print(f"  argsort(kind='stable')      {argsort:8.3f} s   {argsort / floor:5.2f}x")
    for method in ("sorted", "str", "saw"):
        t = best_of(lambda m=method: order(scores, m), repeat)
        peak = peak_bytes(lambda m=method: order(scores, m))
        print(
            f"  {method:5s} (ours)                {t:8.3f} s   {t / floor:5.2f}x floor   "
            f"peak {peak / 2**20:,.0f} MiB = {peak / column_bytes:4.2f}x columns"
        )
    if n <= 10**6:
        as_list = scores.tolist()
        for method in ("str", "saw"):
            defaults = order(scores[:0], method).metadata["params"]
            t_ref = best_of(lambda m=method, d=defaults: ref_order(as_list, m, **d), 1)
            t = best_of(lambda m=method: order(scores, m), repeat)
            same = ref_order(as_list, method, **defaults) == order(scores, method).tolist()
            print(
                f"  {method:5s} pure-Python reference {t_ref:8.3f} s   ours is "
                f"{t_ref / t:5.1f}x faster; identical permutation: {same}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7, 1e8])
    parser.add_argument("--quick", action="store_true", help="10^5 and 10^6 only")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [1e5, 1e6] if args.quick else args.sizes
    for size in sizes:
        run_size(int(size), args.repeat if size < 1e8 else 2)


if __name__ == "__main__":
    main()
