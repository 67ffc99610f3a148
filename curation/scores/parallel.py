"""Scoring on every core: batches go to worker processes, scores come back in corpus order.

Built-in scorers are Python loops over documents (one zlib call each, word look-ups), so
threads would serialise on the interpreter lock; processes do not. Each worker receives the
fitted scorers once, then batches as two flat numpy buffers (UTF-8 offsets and bytes: one
copy, no per-document objects). At most ``2 * workers`` batches are in flight, so memory
stays bounded by the batch size whatever the corpus size. Workers start from a fork server
that has already imported numpy and pyarrow, so a worker costs milliseconds, not an import.
As with any multiprocessing code, the caller's main script must be importable (its work under
an ``if __name__ == "__main__":`` guard): workers import it as ``__mp_main__``.
"""

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pyarrow as pa

from curation.machine import available_cores
from curation.scores.text import utf8_buffers

#: Resident set a worker process adds (interpreter, numpy, pyarrow, scorer state, batches).
WORKER_BYTES = 192 << 20
#: Below this much corpus on disk one process is faster than starting workers.
MIN_PARALLEL_BYTES = 16 << 20

_scorers: list = []


def choose_workers(
    workers: int | None, corpus_bytes: int, memory_limit_bytes: int | None, resident: int
) -> int:
    """``workers`` if given, else every core, fewer when the corpus is small or when the
    memory limit (less what this process already holds) fits fewer worker processes."""
    if workers is not None:
        return max(1, int(workers))
    if corpus_bytes < MIN_PARALLEL_BYTES:
        return 1
    n = available_cores()
    if memory_limit_bytes is not None:
        n = min(n, int((memory_limit_bytes - resident) // WORKER_BYTES))
    return max(1, n)


def pack(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A text batch as (offsets from 0, UTF-8 bytes), copied out of the batch's buffers."""
    offsets, data = utf8_buffers(text)
    return offsets.copy(), data.copy()


def unpack(payload: tuple[np.ndarray, np.ndarray]) -> pa.Array:
    offsets, data = payload
    return pa.LargeStringArray.from_buffers(
        offsets.size - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )


def _init(scorers: list) -> None:
    global _scorers
    _scorers = scorers


def _score_packed(payload: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    text = unpack(payload)
    return [np.asarray(s.score(text), np.float64) for s in _scorers]


def _score_unit(read: Callable[[Any], Iterable[pa.Array]], unit: Any) -> list[np.ndarray]:
    """Read one unit here, in the worker, and score it batch by batch."""
    parts: list[list[np.ndarray]] = [[] for _ in _scorers]
    for text in read(unit):
        for part, scorer in zip(parts, _scorers, strict=True):
            part.append(np.asarray(scorer.score(text), np.float64))
    return [np.concatenate(p) if p else np.zeros(0) for p in parts]


def score_batches(
    texts: Iterable[pa.Array],
    scorers: Sequence,
    workers: int,
    on_batch: Callable[[int], None] = lambda n: None,
) -> Iterator[list[np.ndarray]]:
    """Per batch, in input order, one float64 array per scorer. ``on_batch`` is called
    with each finished batch's length (for a progress bar). This process reads every
    batch and ships it to the workers: for sources that workers can read themselves, use
    :func:`score_units`, which keeps this process out of the loop."""
    if workers <= 1:
        for text in texts:
            yield [np.asarray(s.score(text), np.float64) for s in scorers]
            on_batch(len(text))
        return
    tasks = ((len(text), (_score_packed, pack(text))) for text in texts)
    yield from _in_order(tasks, scorers, workers, on_batch)


def score_units(
    units: Sequence[Any],
    read: Callable[[Any], Iterable[pa.Array]],
    scorers: Sequence,
    workers: int,
    sizes: Sequence[int],
    on_batch: Callable[[int], None] = lambda n: None,
) -> Iterator[list[np.ndarray]]:
    """Per unit (e.g. a parquet row group), in order, one float64 array per scorer; each
    worker reads its units itself with ``read`` (a module-level function), so this process
    only collects scores: on 2 cores the readers no longer share a core with the parent."""
    tasks = ((n, (_score_unit, read, unit)) for unit, n in zip(units, sizes, strict=True))
    yield from _in_order(tasks, scorers, max(1, workers), on_batch)


def _in_order(
    tasks: Iterable[tuple[int, tuple]],
    scorers: Sequence,
    workers: int,
    on_batch: Callable[[int], None],
) -> Iterator[list[np.ndarray]]:
    """Run ``(size, (fn, *args))`` tasks on worker processes, results in task order, at
    most ``2 * workers`` in flight (memory bounded by the task size)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["curation.scores.parallel"])
    pending: deque[tuple[int, Future]] = deque()
    try:
        with ProcessPoolExecutor(
            workers, ctx, initializer=_init, initargs=(list(scorers),)
        ) as pool:
            for n, (fn, *args) in tasks:
                pending.append((n, pool.submit(fn, *args)))
                if len(pending) >= 2 * workers:
                    n, future = pending.popleft()
                    yield future.result()
                    on_batch(n)
            while pending:
                n, future = pending.popleft()
                yield future.result()
                on_batch(n)
    except BrokenProcessPool as exc:
        raise RuntimeError(
            f"a scoring worker process died ({exc}); if the main script cannot be imported "
            "by workers, guard it with `if __name__ == '__main__':`, or score with workers=1"
        ) from exc
