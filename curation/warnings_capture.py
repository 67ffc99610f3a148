"""Collect the warnings a call raises as plain messages, so each caller logs them its own way."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """``with captured_warnings() as messages:`` -- every warning inside (none filtered out,
    none printed) lands in ``messages`` when the block ends."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield messages
    messages.extend(str(w.message) for w in caught)
