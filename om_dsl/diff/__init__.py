"""`om diff`: compare two versions of a catalog semantically.

    load_side(path)         specs, a plan.json or a compiled folder -> a Side
    diff(old, new, orders)  -> a DiffResult: the model changes (with the
                            breaking ones and why), and optionally how each
                            example order's plan changes
    to_text / to_json       the two output forms

See docs/diff.md.
"""

from __future__ import annotations

from typing import Optional

import attrs

from om_dsl.diff.catalogs import (
    ADDED,
    CHANGED,
    REMOVED,
    SECTIONS,
    Change,
    Field,
    compare,
)
from om_dsl.diff.load import LoadError, Side, SpecErrors, load_side
from om_dsl.diff.orders import OrderDiff, compare_orders
from om_dsl.diff.render import to_data, to_json, to_text


@attrs.frozen
class DiffResult:
    old: Side
    new: Side
    changes: list  # [Change]
    orders: Optional[list] = None  # [OrderDiff], with --orders
    orders_dir: Optional[str] = None

    @property
    def breaking(self) -> list:
        return [c for c in self.changes if c.breaking]

    @property
    def now_rejected(self) -> list:
        return [o for o in (self.orders or []) if o.change == "now rejected"]

    @property
    def is_breaking(self) -> bool:
        """A breaking model change, or an example order the new catalog rejects."""
        return bool(self.breaking or self.now_rejected)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or any(o.changed for o in self.orders or []))


def diff(old: Side, new: Side, orders_dir: Optional[str] = None) -> DiffResult:
    orders = compare_orders(old.catalog, new.catalog, orders_dir) if orders_dir is not None else None
    return DiffResult(old, new, compare(old.catalog, new.catalog), orders, orders_dir)


__all__ = [
    "ADDED",
    "CHANGED",
    "REMOVED",
    "SECTIONS",
    "Change",
    "DiffResult",
    "Field",
    "LoadError",
    "OrderDiff",
    "Side",
    "SpecErrors",
    "diff",
    "load_side",
    "to_data",
    "to_json",
    "to_text",
]
