"""Downstream systems, their operations, retry policies and queues."""

from __future__ import annotations

from om_dsl.check.products import check_type_name
from om_dsl.check.scope import CatalogScope
from om_dsl.check.suggest import did_you_mean
from om_dsl.diagnostics.diagnostic import Diagnostic, error
from om_dsl.syntax import ast

FAILURE_WORDS = {"timeout": "no answer in time", "unreachable": "the system could not be reached", "error": "an auto task raised, or a failure of no other class"}


def _failure_class(c: ast.FailureClass, diagnostics: list[Diagnostic]) -> bool:
    text = c.text
    if text in FAILURE_WORDS or (len(text) == 3 and text[0] in "45" and text[1:] == "xx"):
        return True
    if text.isdigit() and 400 <= int(text) <= 599:
        return True
    diagnostics.append(
        error(
            "E509",
            f"`{text}` is not a kind of failure",
            c.span,
            "not a failure class",
            help=did_you_mean(text, FAILURE_WORDS) or "failures are `timeout`, `unreachable`, `error`, an error status (`409`) or a class of them (`4xx`, `5xx`)",
        )
    )
    return False


def _check_filter(spec: ast.RetryFiltered, diagnostics: list[Diagnostic]) -> None:
    retried = {c.text: c for c in spec.retried or ()}
    for group in (spec.retried or (), spec.fatal):
        seen: set[str] = set()
        for c in group:
            if _failure_class(c, diagnostics) and c.text in seen:
                diagnostics.append(error("E509", f"the failure `{c.text}` is named twice", c.span, "named again here"))
            seen.add(c.text)
    for c in spec.fatal:
        if c.text in retried:
            diagnostics.append(error("E509", f"`{c.text}` is both retried and fatal", c.span, "fatal here", secondary=[(retried[c.text].span, "retried here")], help="say it once: `for` retries it, `fatal` fails at once"))
    if isinstance(spec.spec, ast.RetryNone):
        diagnostics.append(error("E509", "a policy that never retries has no failures to choose", spec.span, "`none` with `for` or `fatal`", help="give delays (`staggered 10s, 1m`), or write `none` alone"))


def check_retry(spec, scope: CatalogScope, diagnostics: list[Diagnostic], used_policies: set[str]) -> None:
    if isinstance(spec, ast.RetryFiltered):
        _check_filter(spec, diagnostics)
        spec = spec.spec
    if isinstance(spec, ast.RetryRef):
        name = spec.name.value
        if name in scope.retry_policies:
            used_policies.add(name)
        else:
            diagnostics.append(
                error("E109", f"unknown retry policy `{name}`", spec.name.span, "no retry policy of that name", help=did_you_mean(name, scope.retry_policies) or "define it with `retry NAME = staggered 10s, 60s`")
            )
    elif isinstance(spec, ast.RetryFixed):
        if spec.count is not None and spec.count < 1:
            diagnostics.append(error("E509", "a fixed retry policy needs at least 1 retry", spec.span, "0 retries", help="write `retry none` for no retries"))
        check_positive(spec.interval, diagnostics)
    elif isinstance(spec, ast.RetryStaggered):
        for delay in spec.delays:
            check_positive(delay, diagnostics)
    elif isinstance(spec, ast.RetryExponential):
        if spec.count < 1:
            diagnostics.append(error("E509", "an exponential retry policy needs at least 1 retry", spec.span, "0 retries", help="write `retry none` for no retries"))
        check_positive(spec.initial, diagnostics)
        if spec.factor is not None and spec.factor.value <= 1:
            diagnostics.append(error("E509", "the factor of an exponential retry policy must be above 1", spec.factor.span, "the delays would not grow"))
        if spec.cap.value < spec.initial.value:
            diagnostics.append(error("E509", "the cap of an exponential retry policy is below its first delay", spec.cap.span, f"the cap, {spec.cap.text}", secondary=[(spec.initial.span, f"the first delay, {spec.initial.text}")]))


def _plain(spec):
    """A policy without its failure classes."""
    return spec.spec if isinstance(spec, ast.RetryFiltered) else spec


def check_positive(duration: ast.Literal | None, diagnostics: list[Diagnostic]) -> None:
    if duration is not None and duration.value <= 0:
        diagnostics.append(error("E509", f"the duration {duration.text} is zero", duration.span, "must be longer than zero"))


def check_systems(scope: CatalogScope, diagnostics: list[Diagnostic], used_policies: set[str]) -> None:
    for policy in scope.retry_policies.values():
        chain = [policy.name.value]
        spec = _plain(policy.spec)
        while isinstance(spec, ast.RetryRef) and spec.name.value in scope.retry_policies and spec.name.value not in chain:
            chain.append(spec.name.value)
            spec = _plain(scope.retry_policies[spec.name.value].spec)
        if isinstance(spec, ast.RetryRef) and spec.name.value in chain:
            circle = chain[chain.index(spec.name.value) :]
            if policy.name.value != min(circle):
                continue  # one diagnostic per circle, on its first policy by name
            path = " --> ".join(circle + [circle[0]])
            diagnostics.append(error("E509", f"the retry policy `{policy.name.value}` is defined in a circle: {path}", policy.spec.span, "never reaches an actual policy"))
            continue
        check_retry(policy.spec, scope, diagnostics, used_policies)
    if scope.default_retry is not None:
        check_retry(scope.default_retry.policy, scope, diagnostics, used_policies)
    if scope.default_timeout is not None:
        check_positive(scope.default_timeout.duration, diagnostics)
    for system in scope.systems.values():
        if system.retry is not None:
            check_retry(system.retry, scope, diagnostics, used_policies)
        check_positive(system.timeout, diagnostics)
        seen: dict[str, ast.Operation] = {}
        for op in system.operations:
            if op.name.value in seen:
                diagnostics.append(
                    error("E120", f"the operation `{system.name.value}.{op.name.value}` is defined twice", op.name.span, "defined again here", secondary=[(seen[op.name.value].name.span, "first defined here")])
                )
                continue
            seen[op.name.value] = op
            for side, params in (("input", op.inputs), ("output", op.outputs)):
                check_params(params, side, diagnostics)
            if op.retry is not None:
                check_retry(op.retry, scope, diagnostics, used_policies)
            check_positive(op.timeout, diagnostics)


def check_params(params, side: str, diagnostics: list[Diagnostic]) -> None:
    """Types known, and each name declared once."""
    seen: dict[str, ast.Param] = {}
    for p in params:
        check_type_name(p.type, diagnostics, f"operation {side}")
        if p.name.value in seen:
            diagnostics.append(error("E120", f"the {side} `{p.name.value}` is declared twice", p.name.span, "declared again here", secondary=[(seen[p.name.value].name.span, "first declared here")]))
        seen.setdefault(p.name.value, p)


def find_operation(scope: CatalogScope, call: ast.OperationCall, diagnostics: list[Diagnostic]) -> ast.Operation | None:
    system = scope.systems.get(call.system.value)
    if system is None:
        if call.system.value in scope.queues:
            diagnostics.append(
                error("E104", f"`{call.system.value}` is a queue, not a system", call.system.span, "a queue of people", help="work for a queue is a manual task: `manual NAME queue QUEUE`")
            )
        else:
            diagnostics.append(error("E104", f"unknown system `{call.system.value}`", call.system.span, "no system of that name", help=did_you_mean(call.system.value, scope.systems)))
        return None
    op = next((o for o in system.operations if o.name.value == call.operation.value), None)
    if op is None:
        ops = [o.name.value for o in system.operations]
        diagnostics.append(
            error(
                "E105",
                f"`{call.system.value}` has no operation `{call.operation.value}`",
                call.operation.span,
                "unknown operation",
                secondary=[(system.name.span, f"`{call.system.value}` defined here")],
                help=did_you_mean(call.operation.value, ops) or (f"its operations are {', '.join(f'`{o}`' for o in ops)}" if ops else ""),
            )
        )
    return op
