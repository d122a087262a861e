"""Temporal's own OpenTelemetry interceptor (`temporalio.contrib.opentelemetry`),
on every client and worker of om's while om traces (om_dsl.observe.tracing):
spans of starting a workflow, its signals, updates and queries, and of each
activity, the context carried across in the workflow's headers. Without the
`otel` extra, or with traces off: no interceptor."""

from __future__ import annotations

from om_dsl.observe import tracing


def interceptors() -> list:
    if not tracing.active():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(tracing.tracer())]
