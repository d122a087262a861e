"""What operators and other orders read of an order workflow: its queries
(order, resource, progress, state, request, history, plan). A mixin of
`OrderWorkflow` (om_dsl/temporal/workflow.py), which owns the fields they read;
queries change nothing, so they live apart from what drives the order."""

from __future__ import annotations

from typing import Optional

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from om_dsl.engine import state as S
    from om_dsl.engine import waits as W
    from om_dsl.engine.instants import show_instant
    from om_dsl.engine.view import catalog_version, revision_state, task_entries, wait_entries


class OrderQueries:
    # ---- what operators read ----------------------------------------------------------------------

    @workflow.query(name="order")
    def order(self) -> dict:
        if self.rejected is not None:
            return self._rejected_view()
        r = self.run_state
        if r is None:  # its parts are being read: what is known already
            head = self.loader.head or {}
            return {
                "id": self.start["order"], "status": head.get("status", S.ACKNOWLEDGED), "customer": None, "external_id": head.get("external_id"), "created_at": None, "updated_at": None,
                "catalog": self.start["catalog"], "jeopardy": head.get("jeopardy"), "revision": head.get("revision", 1), "tasks": [], "note": f"loading: {self.loader.progress()}",
            }
        out = {
            "id": r.id, "status": r.status, "customer": r.fields.get("customer_account"), "external_id": r.external_id,
            "created_at": show_instant(r.created_at), "updated_at": show_instant(r.updated_at), "catalog": r.catalog, "jeopardy": r.jeopardy, "revision": r.revision,
            "catalog_version": catalog_version(self.engine), "tasks": S.encode_value(task_entries(self.engine, r)),
        }
        if self.start.get("submitted_by"):
            out["submitted_by"] = self.start["submitted_by"]
        if r.waits_for:
            out["waits_for"] = wait_entries(r)
        if self.revisions:
            out["revisions"] = [
                {"revision": v["revision"], "status": revision_state(r, v["revision"], v["status"]), **({"reason": v["why"]} if v["why"] else {}), "by": v["by"], "received_at": show_instant(v["at"])}
                for v in self.revisions
            ]
        return out

    def _rejected_view(self) -> dict:
        """A rejected order as the embedded store shows one: its problems, no tasks."""
        at, rejected = show_instant(self.created_at), self.rejected
        out = {"id": self.start["order"], "status": S.REJECTED, "customer": rejected.get("customer"), "external_id": rejected.get("external_id"), "created_at": at, "updated_at": at}
        if self.start.get("submitted_by"):
            out["submitted_by"] = self.start["submitted_by"]
        return {**out, "problems": rejected["problems"], "tasks": []}

    @workflow.query(name="resource")
    def resource(self) -> dict:
        """What its TMF622 resource is made of (one query): the core's state (or,
        rejected, its facts: rejected_at, external_id) and the request in force."""
        if self.rejected is not None:
            return {"rejected": {"at": self.created_at, "external_id": self.rejected.get("external_id")}, "request": self.start.get("request")}
        return {"state": S.to_data(self.run_state), "request": self.request()}

    @workflow.query(name="progress")
    def progress(self) -> dict:
        """How the order stands for those that wait for it (engine/waits.py):
        its status, the milestones it reached, all its milestones, and the orders it waits for."""
        if self.rejected is not None:
            return {"status": S.REJECTED, "milestones": [], "all_milestones": [], "waits": []}
        r = self._read_state()
        return {**W.progress(r), "all_milestones": W.milestones(r), "waits": W.open_waits(r)}

    @workflow.query(name="state")
    def state(self) -> dict:
        """The core's state of the order, as the embedded store keeps it."""
        return S.to_data(self._read_state())

    @workflow.query(name="request")
    def request(self) -> Optional[dict]:
        """The request document of the revision in force, as the client submitted it."""
        if self.rejected is not None:
            return self.start.get("request")
        return self.requests.get(self.run_state.revision if self.run_state else (self.loader.head or {}).get("revision", 1))

    @workflow.query(name="history")
    def events(self) -> list:
        return [] if self.rejected is not None else self.history.all()

    def _read_state(self) -> S.OrderRun:
        if self.run_state is None:  # (the caller asks again: a second or so)
            raise ApplicationError(f"order {self.start['order']} is being loaded ({self.loader.progress()}): ask again", type="Loading")
        return self.run_state

    @workflow.query(name="plan")
    def plan(self) -> dict:
        """The catalog version the order runs on: an amendment is planned on it."""
        if self.rejected is not None:
            return {"rejected": True}
        return {"catalog": self.start["catalog"], "plan": self.start["plan"], "sources": self.start.get("sources")}
