"""The runner lock: one process at a time runs a database's orders (a flock
on DB.lock beside it; a killed runner's lock goes with its process)."""

from __future__ import annotations

import contextlib
import fcntl
import time


class RunnerBusy(Exception):
    pass


@contextlib.contextmanager
def runner_lock(db_path: str, wait_s: float = 30.0):
    """Hold the database's runner lock (a flock on DB.lock)."""
    try:
        f = open(db_path + ".lock", "a+")
    except OSError as exc:
        from om_dsl.embedded.store import StoreUnwritable

        raise StoreUnwritable(f"cannot open the runner lock {db_path}.lock: {exc.strerror or exc}") from None
    with f:
        deadline = time.monotonic() + wait_s
        pause = 0.0005  # short at first: `om serve --workers` processes hand the lock on every few milliseconds
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunnerBusy(f"another om process is running orders on {db_path}") from None
                time.sleep(pause)
                pause = min(pause * 1.5, 0.05)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
