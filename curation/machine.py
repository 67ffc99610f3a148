"""What this process may use and holds: its cores and its resident memory.

One implementation for every stage that honours the run's memory setting or fans out over
cores (scoring, the shard writer, benchmarks, tests that assert a bound).
"""

import ctypes
import ctypes.util
import functools
import os
import sys


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity API (macOS)
        return max(1, os.cpu_count() or 1)


def memory_bytes() -> int | None:
    """What this machine (or the cgroup this process runs in) lets it hold; None when
    unknown. A container's limit is smaller than the host's RAM that /proc/meminfo shows."""
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None


def resident_bytes() -> int:
    """Bytes this process holds now (resident set, /proc/self/statm); where there is no
    /proc (macOS) the peak resident set, the best bound available."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_resident_bytes()


def peak_resident_bytes(children: bool = False) -> int:
    """Peak resident set of this process (or the largest of its waited-for children)."""
    import resource

    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        pass
    return out


def descendants(pid: int) -> list[int]:
    """A process and all its descendants from /proc, each parent before its children
    (reverse it to stop a tree from the leaves up)."""
    out, todo, seen = [], [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        out.append(p)
        todo += _children(p)
    return out


def tree_resident_bytes(pid: int | None = None) -> int:
    """Resident bytes of a process and all its descendants (worker processes included),
    from /proc; 0 for a process that has gone. Shared pages count once per process, so
    this is an upper bound of what the tree holds."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for p in descendants(os.getpid() if pid is None else pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


class ResidentSampler:
    """Samples the resident set of a process tree on a background thread; ``peak`` is the
    largest sum seen and ``samples`` the (wall-clock time, bytes) pairs, at most one per
    ``interval`` seconds (a long run at 0.25 s keeps a few thousand pairs)."""

    def __init__(self, pid: int | None = None, interval: float = 0.25):
        import threading

        self.pid, self.interval = pid, interval
        self.peak, self.samples = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            now = tree_resident_bytes(self.pid)
            self.samples.append((time.time(), now))
            self.peak = max(self.peak, now)
            self._stop.wait(self.interval)

    def __enter__(self) -> "ResidentSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, stop: float) -> int:
        """Largest sample taken in ``[start, stop]`` (seconds since the epoch)."""
        inside = [b for t, b in self.samples if start <= t <= stop]
        return max(inside, default=0)


def release_memory() -> None:
    """Hand freed memory back to the OS: Arrow's pool (mimalloc/jemalloc keep it), and
    glibc's heap, where freed numpy/pandas arrays of a few MB (GX's chunk frames) otherwise
    stay resident and fragment: without it a 10^7-row check grows the process ~100 MB
    per call."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    _malloc_trim()


@functools.cache
def _libc() -> "ctypes.CDLL | None":
    """The C library, looked up once (``find_library`` runs ldconfig: ~1 ms a call)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _malloc_trim() -> None:
    try:
        _libc().malloc_trim(0)
    except AttributeError:  # no libc, or not glibc (musl): nothing to trim
        pass


_MADV_POPULATE_WRITE = 23  # Linux >= 5.14


def prefault(address: int, size: int) -> None:
    """Fault in ``size`` bytes of fresh (shared) memory at ``address`` in one call, before
    they are written: one page fault per 4 KiB page costs more than the copy that fills
    them. A no-op where the kernel or libc cannot (the pages then fault as usual)."""
    libc = _libc()
    if libc is not None and size > 0:
        libc.madvise(ctypes.c_void_p(address), ctypes.c_size_t(size), _MADV_POPULATE_WRITE)
