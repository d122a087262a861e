"""OpenTelemetry traces, when the `otel` extra is installed (`pip install
'om-dsl[otel]'`) and switched on by the standard variables
(OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, ...):
without them every function here does nothing, and costs a flag test.

One trace per order. Its ids are derived from the order id, so that every
process that touches the order (`om run`, `om serve`, an `om tasks complete`
days later) puts its spans in the same trace without storing a thing:

- the order's span (`order`), emitted when the order ends, from its creation;
- a span per task (`task NAME`), emitted when the task ends, from its start,
  a child of the order's;
- a span per call (`call SYSTEM.OPERATION`, `auto TARGET`), live around the
  call, a child of its task's (derived from the task's call key): a
  downstream HTTP call carries it as `traceparent` (om_dsl.systems.http).

The engines' clocks give the order's and the tasks' times (a simulated clock's
on a demo); calls are timed by the machine's. On Temporal the workflow does no
I/O, so the order is traced by Temporal's own interceptor (its workflow and
activity spans) and each call's span is a child of its activity's.

Spans of chosen ids need the id generator here (`OrderIds`), so om sets the
SDK up itself (`configure`) rather than through `opentelemetry-instrument`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from typing import Optional

EXPORTER_ENV = "OTEL_TRACES_EXPORTER"
_provider = None  # the TracerProvider `configure` made: None, nothing is traced
_tracer = None  # ... and its tracer
_ids: contextvars.ContextVar = contextvars.ContextVar("om_span_ids", default=None)  # (trace id, span id) the next span takes


def active() -> bool:
    return _provider is not None


def configure(exporter=None, env: Optional[dict] = None, batch: bool = True) -> Optional[str]:
    """Set traces up: with `exporter` (tests), or the one OTEL_TRACES_EXPORTER
    names (an entry point of `opentelemetry_traces_exporter`: console, otlp...
    as the SDK's own configuration finds them). Nothing when the variable is
    unset or `none`, or OTEL_SDK_DISABLED is true. Returns a warning for the
    operator when traces were asked for and cannot be had (nothing fails)."""
    global _provider, _tracer
    env = os.environ if env is None else env
    names = [n.strip() for n in env.get(EXPORTER_ENV, "").split(",") if n.strip() and n.strip() != "none"]
    if exporter is None and (not names or env.get("OTEL_SDK_DISABLED", "").lower() == "true"):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        return f"{EXPORTER_ENV} is set, and the OpenTelemetry SDK is not installed (pip install 'om-dsl[otel]'): no traces"
    exporters = [exporter] if exporter is not None else []
    if exporter is None:
        from importlib.metadata import entry_points

        for name in names:
            found = list(entry_points(group="opentelemetry_traces_exporter", name=name))
            if not found:
                return f"{EXPORTER_ENV}={name}: no such exporter is installed (otlp: pip install opentelemetry-exporter-otlp): no traces"
            try:
                exporters.append(found[0].load()())
            except Exception as exc:  # noqa: BLE001 - its own settings (OTEL_EXPORTER_*) do not hold: said, and no traces
                return f"{EXPORTER_ENV}={name}: the exporter cannot start ({type(exc).__name__}: {str(exc)[:200]}): no traces"
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES ...
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):  # neither names the service
        resource = resource.merge(Resource({"service.name": "om"}))
    provider = TracerProvider(resource=resource, id_generator=_order_ids())
    for e in exporters:
        provider.add_span_processor(BatchSpanProcessor(e) if batch else SimpleSpanProcessor(e))
    shutdown()
    _provider, _tracer = provider, provider.get_tracer("om_dsl")  # (not the global provider's: `configure` may be called again)
    return None


def shutdown() -> None:
    """Send what is buffered and stop (a process that ends without its atexit hooks calls it first)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


def tracer():
    return _tracer


def _order_ids():
    from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

    class OrderIds(IdGenerator):
        """Random ids, save for the spans whose ids are derived (`_ids`)."""

        random = RandomIdGenerator()

        def generate_span_id(self) -> int:
            chosen = _ids.get()
            return chosen[1] if chosen else self.random.generate_span_id()

        def generate_trace_id(self) -> int:
            chosen = _ids.get()
            return chosen[0] if chosen else self.random.generate_trace_id()

    return OrderIds()


# ---- ids ---------------------------------------------------------------------------------------------


def _hash(text: str, nbytes: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:nbytes], "big") or 1  # (0 is not a valid id)


def trace_id(order_id: str) -> int:
    return _hash("om order trace " + order_id, 16)


def order_span_id(order_id: str) -> int:
    return _hash("om order span " + order_id, 8)


def task_span_id(order_id: str, task_key: str) -> int:
    """A task's span: by the key of its calls (one per run of the task), or its id and generation when it makes none."""
    return _hash(f"om task span {order_id} {task_key}", 8)


def task_key(task) -> str:
    return task.key or f"{task.id}@{task.generation}"


def _context(order_id: str, span_id: int):
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    parent = SpanContext(trace_id(order_id), span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def _emit(name: str, ids: tuple, parent, start_ms: int, end_ms: int, attributes: dict, error: Optional[str] = None) -> None:
    from opentelemetry.trace import SpanKind, Status, StatusCode

    token = _ids.set(ids)
    try:
        span = tracer().start_span(name, context=parent, kind=SpanKind.INTERNAL, start_time=start_ms * 1_000_000, attributes=attributes)
    finally:
        _ids.reset(token)
    if error:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=max(end_ms, start_ms) * 1_000_000)


# ---- what the drivers call ---------------------------------------------------------------------------

TASK_ENDS = ("completed", "skipped", "cancelled")  # a task's span ends with its run (a fatal failure may still be retried)


def ended(run, history: list) -> None:
    """After a step committed: spans of the tasks it ended and, when it ended the order, the order's."""
    if _provider is None or run is None:
        return
    from opentelemetry.context import Context

    for line in history:
        task = run.tasks.get(line["subject"])
        if task is not None and line["to"] in TASK_ENDS and line["from"] not in TASK_ENDS:
            start = task.started_at if task.started_at is not None else line["at"]
            attributes = {"om.order": run.id, "om.task": task.id, "om.task.type": task.type, "om.task.status": task.status, "om.task.attempts": task.attempts}
            if task.system:
                attributes["om.system"] = task.system
            _emit(f"task {task.name}", (trace_id(run.id), task_span_id(run.id, task_key(task))), _context(run.id, order_span_id(run.id)), start, line["at"], attributes)
    if run.status in _FINAL and any(line["subject"] == "order" and line["to"] == run.status for line in history):
        attributes = {"om.order": run.id, "om.order.status": run.status, "om.catalog": run.catalog}
        _emit("order", (trace_id(run.id), order_span_id(run.id)), Context(), run.created_at, history[-1]["at"], attributes, None if run.status == "completed" else f"the order ended {run.status}")


_FINAL = ("completed", "failed", "partial", "cancelled")


class _NoSpan:
    def done(self, result) -> None:
        pass


@contextlib.contextmanager
def call_span(cmd, parent: str = "task"):
    """A call's span, current while the call is made (so an HTTP call sends it
    as `traceparent`). `parent`: "task" (the embedded runner: its task's span)
    or "current" (a Temporal activity: the interceptor's span). `.done(result)`
    records the answer."""
    if _provider is None:
        yield _NoSpan()
        return
    from opentelemetry.trace import SpanKind

    system = getattr(cmd, "system", None)
    name = f"call {system}.{cmd.operation}" if system is not None else f"auto {cmd.target}"
    context = _context(cmd.order, task_span_id(cmd.order, cmd.key)) if parent == "task" else None
    attributes = {"om.order": cmd.order, "om.task": cmd.task, "om.attempt": cmd.attempt}
    if system is not None:
        attributes.update({"om.system": system, "om.operation": cmd.operation})
    with tracer().start_as_current_span(name, context=context, kind=SpanKind.CLIENT, attributes=attributes) as span:
        yield _Span(span)


class _Span:
    def __init__(self, span):
        self.span = span

    def done(self, result) -> None:
        from opentelemetry.trace import Status, StatusCode

        self.span.set_attribute("om.outcome", result.status)
        if result.status == "error":
            self.span.set_status(Status(StatusCode.ERROR, (result.message or "")[:200]))


def submitted(headers, order_id: str, start_ns: int) -> None:
    """An order that came in over the API: a span in the caller's trace (its
    `traceparent`, when it sent one) from the request to the order's
    acceptance, linked to the order's own trace."""
    if _provider is None:
        return
    from opentelemetry import propagate
    from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

    order = SpanContext(trace_id(order_id), order_span_id(order_id), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    span = _tracer.start_span("submit order", context=propagate.extract(dict(headers)), kind=SpanKind.SERVER, start_time=start_ns, links=[Link(order)], attributes={"om.order": order_id})
    span.end()


def inject(headers: dict) -> None:
    """The current span as `traceparent` (and `tracestate`) in outgoing headers (the propagators OTEL_PROPAGATORS names)."""
    if _provider is not None:
        from opentelemetry import propagate

        propagate.inject(headers)
