"""Each customer's installed base on Temporal: an entity workflow.

Workflow `InstalledBase`, id `installed-base:CUSTOMER`, holds the customer's
assets and technical inventory as plain data (om_dsl.planning.installed),
and which unfinished order changes which asset (one change in flight per
asset). The client claims an order's assets before it starts the order (or
applies a revision): `claim`, an update (with start) that refuses an asset
another order has. Order workflows tell it, through an activity, `record`
when the order completes (its assets and lines; starting it the first
time) and `release` when it ends otherwise; `merge` brings in an embedded store's
installed base (`om assets import`). The client reads it (`view`) to plan a
modify or delete order, and `om assets list` shows it. It never ends: it
continues as new, with its state, before its history grows long.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine import state as S
    from om_dsl.planning.installed import empty_state, record_order
    from om_dsl.planning.keys import installed_base_id

WORKFLOW = "InstalledBase"
# Installed bases outlive any one version of the order workers (a new om-dsl runs on a new
# orders queue): every worker also serves this queue, whatever its orders queue.
QUEUE = "om-installed-base"
LONG_HISTORY = 2_000  # events; then continue as new


def workflow_id(customer) -> str:
    """`installed-base:CUSTOMER`, the customer escaped (engine/keys.py)."""
    return installed_base_id(customer)


@workflow.defn(name=WORKFLOW)
class InstalledBaseWorkflow:
    @workflow.init
    def __init__(self, state: dict) -> None:
        self.state = state or empty_state()

    @workflow.run
    async def run(self, state: dict) -> None:
        await workflow.wait_condition(lambda: workflow.info().get_current_history_length() > LONG_HISTORY and workflow.all_handlers_finished())
        workflow.continue_as_new(self.state)

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
        record_order(self.state, S.from_data(run), int(workflow.now().timestamp() * 1000))
        self.release(order)

    @workflow.signal(name="merge")
    def merge(self, state: dict) -> None:
        """Assets and lines from elsewhere (an embedded store moving to Temporal); what is here already stays."""
        for part in ("assets", "inventory"):
            for key, entry in state.get(part, {}).items():
                self.state[part].setdefault(key, entry)

    @workflow.query(name="view")
    def view(self) -> dict:
        return self.state
