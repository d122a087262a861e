"""A worker: runs order workflows and their activities on one task queue.

Start as many as the load needs, on as many machines: Temporal hands each
workflow task and activity to one of them, and a worker that dies loses
nothing (its work is handed to another). Calls and auto tasks run in a
thread pool (the adapters are blocking I/O).

The in-process simulators queue the answers of asynchronous operations;
the worker collects them and signals each to its order (the order id is
the part of the correlation id before the first ':'). Real systems answer
through `om callbacks deliver` or an endpoint that signals the workflow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Optional, Sequence

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from om_dsl.temporal import catalogs, tracing
from om_dsl.temporal.activities import Activities
from om_dsl.temporal.cancellations import CancellationWorkflow
from om_dsl.temporal.client import Unreachable, signal_callback
from om_dsl.temporal.codec import data_converter
from om_dsl.temporal.hub import HubWorkflow
from om_dsl.temporal.installed_base import QUEUE as INSTALLED_BASE_QUEUE
from om_dsl.temporal.installed_base import InstalledBaseWorkflow
from om_dsl.temporal.workflow import OrderWorkflow

# The engine core and its rules are pure and deterministic: the workflows of a
# worker share one copy of them instead of re-importing them per workflow.
PASSTHROUGH = ("om_dsl", "attrs", "lark", "jinja2", "click", "opentelemetry")  # (the tracing interceptor's context: one copy, not the sandbox's)


def _sandbox() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def make_workers(client: Client, task_queue: str, systems, python_tasks, listeners: Sequence[str] = (), max_concurrent_activities: int = 64, stats=None) -> list[Worker]:
    """The orders' worker on `task_queue`, and one for the customers' installed bases on their own queue.
    `stats`: where the calls are counted (om_dsl.observe.calls.CallStats; `om worker --metrics` serves it)."""
    acts = Activities(systems, python_tasks, listeners, client=client, stats=stats)
    orders = Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow, HubWorkflow, CancellationWorkflow],  # (the deployment's hub and cancellation requests live beside its orders)
        activities=[acts.call, acts.notify, acts.deliver, acts.installed_base, acts.order_progress, acts.cancel_order, acts.pass_],
        activity_executor=concurrent.futures.ThreadPoolExecutor(max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        workflow_runner=_sandbox(),
    )
    return [orders, Worker(client, task_queue=INSTALLED_BASE_QUEUE, workflows=[InstalledBaseWorkflow], workflow_runner=_sandbox())]


async def pump_callbacks(client: Client, systems, stop: asyncio.Event, every_s: float = 0.1) -> None:
    """Signal the simulators' queued callbacks to their orders; acknowledge each
    once signalled (or once it is known that no order takes it). A callback
    that could not be signalled stays queued for the next round."""
    import logging

    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            pending = await loop.run_in_executor(None, systems.pending_callbacks)
            for callback_id, key, outputs in pending:
                await signal_callback(client, f"sim:{callback_id}", key, outputs, True, "")  # (no such order: nothing takes it)
                await loop.run_in_executor(None, systems.ack_callback, callback_id)
        except Exception:  # noqa: BLE001 - the server is away for a moment: the next round tries again
            logging.getLogger("om_dsl.worker").warning("callbacks not delivered this round", exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass


class SignalSink:
    """The callback receiver's sink on Temporal: each callback is a signal to
    its order's workflow, sent from the receiver's thread on the worker's loop."""

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop, timeout_s: float = 10.0):
        self.client, self.loop, self.timeout_s = client, loop, timeout_s

    def receive(self, callback_id: str, correlation_id: str, payload: dict) -> bool:
        # An error other than "no such order" reaches the receiver: it answers 503, the system sends it again.
        # No such order (or it finished): like the embedded inbox, taken and dropped.
        signal = signal_callback(self.client, callback_id, correlation_id, payload["outputs"], payload["status"] == "ok", payload["message"])
        asyncio.run_coroutine_threadsafe(signal, self.loop).result(self.timeout_s)
        return True  # the workflow drops a duplicate by its callback id

    def close(self) -> None:
        pass


def sdk_runtime(at: tuple):
    """A runtime whose metrics (task slots, polls, schedule-to-start and
    execution latencies, per namespace, task queue, workflow and activity type)
    temporalio's own exporter serves at `at` (no token: they name no order).
    ValueError when it cannot listen there."""
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{at[0]}:{at[1]}", counters_total_suffix=True, durations_as_seconds=True)))


async def serve(
    address: str, namespace: str, task_queue: str, systems, python_tasks, listeners: Sequence[str] = (), rules: Sequence = (), stop: Optional[asyncio.Event] = None, ready=None, listen: Optional[tuple] = None,
    callback_secret: Optional[str] = None, request_timeout_s: float = 5.0, stats=None, runtime=None,
) -> None:
    """Run a worker until `stop` is set (or the process is stopped). With
    `listen` (host, port) it also receives callbacks over HTTP (POST
    /callbacks/TOKEN), checked with `callback_secret`: the deployment's, the
    same on every worker (a token one worker's call sent is checked by
    whichever worker receives the callback). `runtime`: the SDK's runtime
    (`sdk_runtime`: its metrics served, `om worker --sdk-metrics`)."""
    from om_dsl.rules.generated import sha_of
    from om_dsl.systems.receiver import CallbackReceiver

    for r in rules:  # compiled catalogs serve their own version with their generated modules
        catalogs.register(r, sha_of(r))
        folder = getattr(r, "tasks_folder", None)  # and run their auto tasks from the package copied beside them
        if folder and r.catalog.tasks and hasattr(python_tasks, "add_package"):
            python_tasks.add_package(r.catalog.tasks, folder)
    try:
        client = await Client.connect(address, namespace=namespace, data_converter=data_converter(), interceptors=tracing.interceptors(), runtime=runtime)
    except RuntimeError as exc:
        raise Unreachable(f"cannot reach Temporal at {address}: {exc}") from None
    stop = stop or asyncio.Event()
    orders, installed = make_workers(client, task_queue, systems, python_tasks, listeners, stats=stats)
    receiver = CallbackReceiver(SignalSink(client, asyncio.get_running_loop()), *listen, secret=callback_secret, request_timeout_s=request_timeout_s).start() if listen else None
    try:
        async with orders, installed:
            pump = asyncio.ensure_future(pump_callbacks(client, systems, stop))
            if ready is not None:
                ready(receiver.url if receiver else None) if listen else ready()
            await stop.wait()
            await pump
    finally:
        if receiver is not None:
            await asyncio.get_running_loop().run_in_executor(None, receiver.stop)
