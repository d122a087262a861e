"""Each customer's installed base on Temporal: an entity workflow.

Workflow `InstalledBase`, id `installed-base:CUSTOMER`, holds the customer's
assets and technical inventory as plain data (om_dsl.planning.installed),
and which unfinished order changes which asset (one change in flight per
asset). The client claims an order's assets before it starts the order (or
applies a revision): `claim`, an update (with start) that refuses an asset
another order has. Order workflows tell it, through an activity, when the
order completes: what it writes, entry by entry (an asset per item, a line
per fulfillment line), made by the activity and sent in parts
(`record_entries`, starting it the first time), applied a few parts per
workflow task, so a 10,000-item order costs no workflow task more than a
small one; `release` when it ends otherwise. (`record`, the whole order at
once, is how workers before the parts told it.) `merge` brings in an embedded store's
installed base (`om assets import`). The client reads it (`view`) to plan a
modify or delete order, and `om assets list` shows it. It never ends: it
continues as new, with its state, before its history grows long.
"""

from __future__ import annotations

import asyncio
import collections

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine import state as S
    from om_dsl.planning.installed import apply_entries, empty_state, record_order, release_claims
    from om_dsl.planning.keys import installed_base_id

WORKFLOW = "InstalledBase"
# Installed bases outlive any one version of the order workers (a new om-dsl runs on a new
# orders queue): every worker also serves this queue, whatever its orders queue.
QUEUE = "om-installed-base"
LONG_HISTORY = 2_000  # events; then continue as new
# A completed order's entries (planning/installed.py `order_entries`: an asset per item, a line per
# fulfillment line) come ENTRIES_PER_PART to a `record_entries` signal, and PARTS_PER_TASK parts are
# read and applied per workflow task: recording a 10,000-item order (30,000 entries) at once took
# about 1 s of one workflow task, and Temporal fails one that runs 2 s.
ENTRIES_PER_PART = 1_000
PARTS_PER_TASK = 2


def workflow_id(customer) -> str:
    """`installed-base:CUSTOMER`, the customer escaped (engine/keys.py)."""
    return installed_base_id(customer)


@workflow.defn(name=WORKFLOW)
class InstalledBaseWorkflow:
    @workflow.init
    def __init__(self, state: dict) -> None:
        self.state = state or empty_state()
        self.todo: collections.deque = collections.deque()  # `record_entries` parts not applied yet, as they came (undecoded)

    @workflow.run
    async def run(self, state: dict) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.todo) or (workflow.info().get_current_history_length() > LONG_HISTORY and workflow.all_handlers_finished()))
            if not self.todo:
                break
            for _ in range(min(PARTS_PER_TASK, len(self.todo))):
                self._apply(self.todo.popleft())
            if self.todo:  # the next parts in a workflow task of their own
                await asyncio.sleep(0.001)
        workflow.continue_as_new(self.state)  # (nothing waits in `todo`: every part came in this run, and is applied)

    def _apply(self, raw: RawValue) -> None:
        part = workflow.payload_converter().from_payload(raw.payload, dict)  # (decoded now: parts that came together cost a workflow task each)
        apply_entries(self.state, part["entries"])
        if part["last"]:  # the order's whole: its assets are free for the next order to change
            release_claims(self.state, part["order"])

    @workflow.update(name="claim")
    def claim(self, request: dict) -> dict:
        """An order is about to change these assets: refused (nothing claimed)
        when another unfinished order changes one of them."""
        order, assets = request["order"], request["assets"]
        for asset in assets:
            busy = self.state["claims"].get(asset)
            if busy is not None and busy != order:
                raise ApplicationError(f"`{asset}` is being changed by order {busy}, still in progress: amend that order, or wait for it", asset, busy, type="AssetInFlight", non_retryable=True)
        for asset in assets:
            self.state["claims"][asset] = order
        return {"claimed": list(assets)}

    @workflow.signal(name="release")
    def release(self, order: str) -> None:
        self.state["claims"] = {a: o for a, o in self.state["claims"].items() if o != order}

    @workflow.signal(name="record")
    def record(self, order: str, run: dict) -> None:
        """A completed order, whole, applied at once (as workers before `record_entries` sent it)."""
        record_order(self.state, S.from_data(run), int(workflow.now().timestamp() * 1000))
        self.release(order)

    @workflow.signal(name="record_entries")
    def record_entries(self, part: RawValue) -> None:
        """{"order", "entries" (at most ENTRIES_PER_PART of `order_entries`), "last"}: applied in turn by the run;
        the order's claims are released with its last part. Sent again (an activity retried), the same
        entries leave the same installed base."""
        self.todo.append(part)

    @workflow.signal(name="merge")
    def merge(self, state: dict) -> None:
        """Assets and lines from elsewhere (an embedded store moving to Temporal); what is here already stays."""
        for part in ("assets", "inventory"):
            for key, entry in state.get(part, {}).items():
                self.state[part].setdefault(key, entry)

    @workflow.query(name="view")
    def view(self) -> dict:
        return self.state
