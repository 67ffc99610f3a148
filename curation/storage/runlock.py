"""One pipeline run per storage root at a time: a second run stops at once, naming the first.

Two runs on one root share work directories (plans, spills, caches); rather than let them
race, a run takes ``<root>/.locks/<name>.lock`` with an atomic create-if-absent and holds
it until it ends. The file names its holder (owner, host, pid, start time). A lock whose
holder process is gone (same host, dead pid: a SIGKILLed run) is taken over, so a crash
never blocks later runs. Local roots only: on S3 there is no atomic create-if-absent.
"""

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from curation import storage
from curation.storage import DamagedFile


class RunLocked(RuntimeError):
    """Another live run holds the lock; the message names it."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: str) -> dict | None:
    try:
        value = storage.read_json(storage.resolve(path))
    except FileNotFoundError:
        return None
    except DamagedFile:
        return {}  # cut short by a crash between create and write: stale
    return value


def _stale(holder: dict) -> bool:
    pid = holder.get("pid")
    return holder == {} or (
        holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid)
    )


@contextmanager
def run_lock(root: str, owner: str, name: str = "pipeline") -> Iterator[dict]:
    """Hold the run lock of ``root`` for the block; RunLocked at once if a live run has it."""
    loc = storage.resolve(root).join(".locks", f"{name}.lock")
    os.makedirs(os.path.dirname(loc.path), exist_ok=True)
    me = {"owner": owner, "host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
    for _ in range(3):
        try:
            fd = os.open(loc.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(loc.path)
            if holder is not None and not _stale(holder):
                raise RunLocked(
                    f"another run holds {loc.uri}: {holder.get('owner')!r} (pid "
                    f"{holder.get('pid')} on {holder.get('host')}, since "
                    f"{time.strftime('%H:%M:%S', time.gmtime(holder.get('since', 0)))} UTC); "
                    "wait for it to finish"
                ) from None
            try:
                os.unlink(loc.path)  # stale: its holder is gone
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise RunLocked(f"could not take {loc.uri}: it keeps being recreated")
    try:
        yield me
    finally:
        if _holder(loc.path) == me:
            os.unlink(loc.path)
