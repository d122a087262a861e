"""The spec's retry policies as Temporal activity retry policies.

Temporal retries an activity by itself, without a workflow event per
attempt, when the policy is one it can express: none, fixed (a constant
interval) and exponential (a coefficient, a cap). A staggered policy (a list
of delays) it cannot express: such calls are tried once per activity, and
the engine core times the retries with durable timers, as it does on the
embedded engine. Either way the core learns how many attempts were made,
so "no retry left after N attempts" reads the same on both engines.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Optional

from temporalio.common import RetryPolicy

from om_dsl.model.catalog import RetryPolicyDef


def activity_retry(policy: Optional[RetryPolicyDef]) -> RetryPolicy:
    """The activity retry policy of a call under the spec's `policy`."""
    once = RetryPolicy(maximum_attempts=1)
    if policy is None or policy.kind == "none":
        return once
    first = datetime.timedelta(milliseconds=policy.delays_ms[0])
    if policy.kind == "fixed":
        return RetryPolicy(initial_interval=first, backoff_coefficient=1.0, maximum_attempts=policy.count + 1 if policy.count is not None else 0)
    if policy.kind == "exponential":
        factor = Decimal(policy.factor or "2")
        if factor < 1:
            return once
        # Temporal caps at 100x the first interval unless told: no cap means the longest the policy reaches.
        cap_ms = policy.cap_ms if policy.cap_ms is not None else int(policy.delays_ms[0] * factor ** max(policy.count or 0, 1))
        cap = datetime.timedelta(milliseconds=max(cap_ms, policy.delays_ms[0]))
        return RetryPolicy(initial_interval=first, backoff_coefficient=float(factor), maximum_interval=cap, maximum_attempts=(policy.count or 0) + 1)
    return once  # staggered: the core retries


def retried_by_temporal(policy: Optional[RetryPolicyDef]) -> bool:
    return activity_retry(policy).maximum_attempts != 1
