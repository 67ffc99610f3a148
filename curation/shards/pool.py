"""Running units of work side by side: threads, since pyarrow releases the GIL while it
reads, sorts, compresses and writes."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def run_units(fn: Callable, items: list, workers: int, progress: bool, desc: str) -> list:
    """Map ``fn`` over items in order with a thread pool (pyarrow releases the GIL while it
    reads, sorts and encodes), with an optional progress bar."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=desc, unit=desc.rstrip("s"))
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(fn, items):
            results.append(result)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return results
