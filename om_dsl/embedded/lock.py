"""The runner lock: one process at a time runs a database's orders (a flock
on DB.lock beside it; a killed runner's lock goes with its process).

A process waiting for it holds a shared flock on DB.lock.wait meanwhile, so
that `om serve`'s work loop, which takes the lock again a moment after each
step, can see that another process waits (`others_waiting`) and let it in
first: `om serve --workers` processes are not starved by the loop."""

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
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with _waiting(db_path):
                _wait(f, db_path, time.monotonic() + wait_s)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _wait(f, db_path: str, deadline: float) -> None:
    pause = 0.0005  # short at first: `om serve --workers` processes hand the lock on every few milliseconds
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RunnerBusy(f"another om process is running orders on {db_path}") from None
            time.sleep(pause)
            pause = min(pause * 1.5, 0.002)  # (a few hundred polls a second cost little; a late one costs a whole commit)


@contextlib.contextmanager
def _waiting(db_path: str):
    try:
        f = open(db_path + ".lock.wait", "a+")
    except OSError:  # (a folder that cannot be written: nobody sees this waiter, which then just waits)
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # (someone is looking right now: go on without the sign)
            pass
        yield


def others_waiting(db_path: str) -> bool:
    """Another process is waiting for the runner lock."""
    try:
        f = open(db_path + ".lock.wait", "a+")
    except OSError:
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False
