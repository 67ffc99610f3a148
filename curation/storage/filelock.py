"""A blocking, process-wide exclusive lock on a local directory (``flock``).

For set-up that two processes may race on and that must happen once: creating or migrating
an instance's databases. Unlike the run lock (which refuses a second run), this one waits:
the second process then finds the work done. The kernel drops the lock when its holder dies.
"""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager


class LockTimeout(TimeoutError):
    """The lock was held longer than the caller would wait."""


@contextmanager
def directory_lock(
    directory: str | os.PathLike, name: str = ".setup.lock", timeout: float = 120.0
) -> Iterator[None]:
    """Hold ``<directory>/<name>`` exclusively for the block; waits up to ``timeout`` s."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"{path} held for more than {timeout:.0f} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock
