"""Retry policies of the order workflow's activities.

The spec's retry policy is timed by the engine core, on Temporal as on the
embedded engine: a call that fails is `failed` with its next retry at a
known time (a durable timer), the operator sees it and may skip it, a
cancellation or an amendment stops it at once, and a `staggered` policy
(a list of delays, which Temporal's own retry policy cannot express) works
like any other. Each attempt is one activity.

Temporal's retry policy covers what the spec's does not: the worker that
made the call died or hung (the activity timed out), or the adapter itself
broke. Such an attempt is tried again with the same idempotency key, as the
embedded runner executes its outbox again after a crash; after
`CALL_RETRY.maximum_attempts` it counts as one failed, retryable attempt.
"""

from __future__ import annotations

import datetime
from typing import Optional

from temporalio.common import RetryPolicy

CALL_RETRY = RetryPolicy(initial_interval=datetime.timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=datetime.timedelta(seconds=30), maximum_attempts=5)

# Notifications and installed-base signals: at least once, tried until delivered.
DELIVERY_RETRY = RetryPolicy(initial_interval=datetime.timedelta(seconds=1), maximum_interval=datetime.timedelta(minutes=5))

DEFAULT_CALL_TIMEOUT_MS = 300_000  # an operation with no timeout of its own
ACK_TIMEOUT_MS = 60_000  # an asynchronous operation's acknowledgement (its answer comes later, by callback)
GRACE_MS = 1_000  # the adapter reports its own timeout first


def call_timeout(timeout_ms: Optional[int], is_async: bool) -> datetime.timedelta:
    """An attempt's start-to-close timeout: the operation's timeout (for an
    asynchronous one, that is the callback's deadline, which the core times:
    the call itself only waits for the acknowledgement)."""
    ms = ACK_TIMEOUT_MS if is_async else (timeout_ms or DEFAULT_CALL_TIMEOUT_MS)
    return datetime.timedelta(milliseconds=ms + GRACE_MS)
