"""syrupy extensions for planned orders: one reviewable text file per snapshot.

    from om_dsl.testing import OmPlanExtension

    def test_example(om_plan, snapshot):
        assert om_plan("orders/example.json") == snapshot(extension_class=OmPlanExtension)

writes `__snapshots__/<test file>/test_example.plan`: what `om plan` prints
for the order (the fulfillment requests, then the plan in dependency order).
A rejection (om_rejection's problems, or a Rejected) snapshots as the text
`om plan` prints for a rejected order.

OmPlanJSONExtension writes `.plan.json` files instead: every detail of the
planned order as `om plan --format json` prints it.
"""

from __future__ import annotations

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from om_dsl.testing import plan_text


class OmPlanExtension(SingleFileSnapshotExtension):
    """A planned order (or a rejection) as `om plan` text, in a `.plan` file."""

    file_extension = "plan"
    _write_mode = WriteMode.TEXT

    def serialize(self, data, *, exclude=None, include=None, matcher=None) -> str:
        return plan_text(data)


class OmPlanJSONExtension(SingleFileSnapshotExtension):
    """A planned order (or a rejection) as `om plan --format json` prints it, in a `.plan.json` file."""

    file_extension = "plan.json"
    _write_mode = WriteMode.TEXT

    def serialize(self, data, *, exclude=None, include=None, matcher=None) -> str:
        from om_dsl.planning import report
        from om_dsl.planning.order import Problem, Rejected
        from om_dsl.planning.pipeline import PlannedOrder

        if isinstance(data, PlannedOrder):
            return report.to_json(report.planned_data(data))
        if isinstance(data, (list, tuple)) and all(isinstance(p, Problem) for p in data):
            data = Rejected(list(data))
        if isinstance(data, Rejected):
            return report.to_json(report.rejected_data(data))
        if isinstance(data, dict):
            return report.to_json(data)
        raise TypeError(f"a .plan.json snapshot holds a planned order or a rejection, not {type(data).__name__}")
