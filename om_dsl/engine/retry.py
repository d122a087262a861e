"""When to retry a failed task, by its retry policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from om_dsl.model.catalog import RetryPolicyDef


def retry_delay(policy: Optional[RetryPolicyDef], retry: int) -> Optional[int]:
    """The delay in ms before retry number `retry` (1 = the first retry), or
    None when the policy allows no more retries."""
    if policy is None or policy.kind == "none" or retry < 1:
        return None
    if policy.kind == "fixed":
        if policy.count is not None and retry > policy.count:
            return None
        return policy.delays_ms[0]
    if policy.kind == "staggered":
        return policy.delays_ms[retry - 1] if retry <= len(policy.delays_ms) else None
    if policy.kind == "exponential":
        if retry > (policy.count or 0):
            return None
        delay = Decimal(policy.delays_ms[0]) * Decimal(policy.factor or "2") ** (retry - 1)
        return int(min(delay, Decimal(policy.cap_ms if policy.cap_ms is not None else delay)))
    return None
