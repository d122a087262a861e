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


def failure_matches(kind: str, failure: Optional[str]) -> bool:
    """Does a failure (an HTTP status "409", "timeout", "unreachable", "error")
    belong to a class a policy names (`409`, `4xx`, `timeout`, ...)?"""
    if failure is None:
        return False
    if kind == failure:
        return True
    return len(kind) == 3 and kind.endswith("xx") and failure.isdigit() and len(failure) == 3 and failure[0] == kind[0]


def retry_verdict(policy: Optional[RetryPolicyDef], failure: Optional[str], retryable: bool) -> tuple[bool, Optional[str]]:
    """Is this failure retried, by the failure classes the policy names? The
    system's word (`retryable`) stands unless the policy says: `fatal` classes
    fail at once; with `for`, only those classes are retried. (retried?, why not)."""
    if policy is None:
        return retryable, None
    shown = f"`{failure}`" if failure else "a failure of no class"
    if any(failure_matches(k, failure) for k in policy.fatal_on):
        return False, f"{shown} is fatal for its retry policy"
    if policy.retry_on is not None:
        if any(failure_matches(k, failure) for k in policy.retry_on):
            return True, None
        return False, f"its retry policy retries only {', '.join(policy.retry_on)}, not {shown}"
    return retryable, None
