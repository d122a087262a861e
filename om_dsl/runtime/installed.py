"""The installed base: what customers have, as completed orders left it.

Commercial **assets** (one per order item, with its attributes and its
parent asset) and technical **inventory** (one per fulfillment line, with
its final attributes, those fulfillment set included). A line is known by
its key, `SOURCE_ASSET/RULE[#N]` (order-scoped lines: `CUSTOMER/RULE`), the
same in every order that touches it: that is how a modify order finds the
line it changes.

Planning reads the installed base through `InstalledBase`; the store is one
(`StoreInstalledBase`), a dict in tests another (`InstalledBase` itself).
"""

from __future__ import annotations

from typing import Optional

import attrs


@attrs.frozen
class Asset:
    id: str
    customer: Optional[str]
    product: str
    attributes: dict
    parent: Optional[str]
    status: str  # active or ended


@attrs.frozen
class InstalledLine:
    key: str  # "AST-ORD-1004-1/D1", "AST-ORD-1002-1/D8#2", "ACC-42/D9"
    product: str
    attributes: dict
    source_asset: Optional[str]  # None: order scope
    rule: str
    customer: Optional[str]
    status: str


def line_key(source_asset: Optional[str], customer: Optional[str], rule: str, unit: Optional[int], parent_key: Optional[str] = None) -> str:
    """The stable key of a line (see the module docstring)."""
    base = parent_key if parent_key is not None else (source_asset if source_asset is not None else (customer or "order"))
    return f"{base}/{rule}" + (f"#{unit}" if unit is not None else "")


class InstalledBase:
    """An installed base held in memory (and the interface of the others)."""

    def __init__(self, assets: list = (), lines: list = ()):
        self._assets = {a.id: a for a in assets}
        self._lines = {line.key: line for line in lines}

    def asset(self, asset_id: str) -> Optional[Asset]:
        return self._assets.get(asset_id)

    def children(self, asset_id: str) -> list[Asset]:
        return sorted((a for a in self._assets.values() if a.parent == asset_id and a.status == "active"), key=lambda a: a.id)

    def lines_of(self, source_asset: str) -> list[InstalledLine]:
        """The active lines that come from this asset (and from lines that come from it)."""
        return sorted((line for line in self._lines.values() if line.source_asset == source_asset and line.status == "active"), key=lambda line: line.key)

    def line(self, key: str) -> Optional[InstalledLine]:
        found = self._lines.get(key)
        return found if found is not None and found.status == "active" else None

    def in_flight(self, asset_id: str) -> Optional[str]:
        """The order, still in progress, that changes this asset (None: no such order)."""
        return None


EMPTY = InstalledBase()
