"""The order service's statistics (`OrderService.stats()`) as Prometheus
metrics, read at scrape time: gauges of how things stand now (orders, tasks,
the outbox, deliveries) and the counters and latency histogram of the calls
(kept by whoever made them: the embedded store, a Temporal worker).

    om_orders{state}                                     orders by state
    om_orders_in_jeopardy{level}                         unfinished orders with a task at yellow or red
    om_tasks{state,type}                                 the tasks of unfinished orders
    om_orders_unanswered                                 running orders whose tasks were not read (Temporal)
    om_calls_held{system}                                calls held while their system is offline
    om_outbox_depth                                      commands not executed yet (embedded)
    om_event_deliveries{state}                           pending; failing (its last attempt failed)
    om_calls_total{system,operation,outcome}             ok, accepted, error (retried), fatal
    om_call_retries_total{system,operation}              calls that were a retry (attempt > 1)
    om_call_duration_seconds{system,operation}           latency histogram

A metric the engine does not keep (Temporal has no outbox) is left out, not
reported as 0. docs/metrics.md.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from om_dsl.observe.calls import BUCKETS

CONTENT_TYPE = CONTENT_TYPE_LATEST


def families(stats: dict) -> list:
    """The metric families of one `stats()` answer."""
    out = []
    if "orders" in stats:
        out.append(_by_label("om_orders", "Orders by state.", "state", stats["orders"]))
    if "jeopardy" in stats:
        out.append(_by_label("om_orders_in_jeopardy", "Unfinished orders by jeopardy (the worst of their tasks with a due time).", "level", stats["jeopardy"]))
    if "tasks" in stats:
        g = GaugeMetricFamily("om_tasks", "Tasks of unfinished orders by state and type.", labels=["state", "type"])
        for t in stats["tasks"]:
            g.add_metric([t["state"], t["type"]], t["count"])
        out.append(g)
    if "unanswered" in stats:
        out.append(GaugeMetricFamily("om_orders_unanswered", "Running orders whose tasks could not be read at this scrape (Temporal: no worker answered the query).", value=stats["unanswered"]))
    if "held" in stats:
        out.append(_by_label("om_calls_held", "Calls held while their system is offline.", "system", stats["held"]))
    if "outbox" in stats:
        out.append(GaugeMetricFamily("om_outbox_depth", "Commands in the outbox not executed yet.", value=stats["outbox"]))
    if "deliveries" in stats:
        out.append(_by_label("om_event_deliveries", "Deliveries of order events to listeners not made yet: pending (all), failing (the last attempt failed; tried again later).", "state", stats["deliveries"]))
    if "calls" in stats:
        out.extend(call_families(stats["calls"]))
    return out


def _by_label(name: str, help: str, label: str, counts: dict) -> GaugeMetricFamily:
    """A gauge with one sample per key of `counts`, in key order (a None key is the empty label)."""
    g = GaugeMetricFamily(name, help, labels=[label])
    for key, n in sorted(counts.items(), key=lambda kv: kv[0] or ""):
        g.add_metric([key or ""], n)
    return g


def call_families(calls: list) -> list:
    total = CounterMetricFamily("om_calls", "Calls to downstream systems and auto tasks (system auto), by outcome: ok, accepted (answered later by callback), error (retryable), fatal.", labels=["system", "operation", "outcome"])
    retries = CounterMetricFamily("om_call_retries", "Calls that were a retry of an earlier attempt.", labels=["system", "operation"])
    latency = HistogramMetricFamily("om_call_duration_seconds", "How long calls took, the answer included.", labels=["system", "operation"])
    for c in calls:
        labels = [c["system"], c["operation"]]
        for what, n in sorted(c["outcomes"].items()):
            total.add_metric(labels + [what], n)
        retries.add_metric(labels, c["retries"])
        cumulative, buckets = 0, []
        for bound, n in zip([*(format(b, "g") for b in BUCKETS), "+Inf"], c["buckets"]):
            cumulative += n
            buckets.append((bound, cumulative))
        latency.add_metric(labels, buckets, c["sum"])
    return [total, retries, latency]


class _Collector:
    def __init__(self, read: Callable[[], dict]):
        self.read = read

    def collect(self):
        return families(self.read())


def registry(read: Callable[[], dict], process: bool = True) -> CollectorRegistry:
    """A registry that reads `read()` (a service's `stats`) at each scrape; with
    the process's own metrics (CPU, memory, open files; Python's version)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector(read))
    if process:
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
    return reg


def render(reg: CollectorRegistry) -> bytes:
    """The Prometheus text format (0.0.4) of a scrape."""
    return generate_latest(reg)
