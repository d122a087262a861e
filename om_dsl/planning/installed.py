"""The installed base: what customers have, as completed orders left it.

Commercial **assets** (one per order item, with its attributes and its
parent asset) and technical **inventory** (one per fulfillment line, with
its final attributes, those fulfillment set included). A line is known by
its key, `SOURCE_ASSET/RULE[#N]` (order-scoped lines: `CUSTOMER/RULE`), the
same in every order that touches it: that is how a modify order finds the
line it changes.

Planning reads the installed base through `InstalledBase`; the store is one
(`StoreInstalledBase`), a dict another (`InstalledBase` itself, made from
plain data by `from_state`). `record_order` applies a completed order to
that plain data: the one rule for both engines (the store's `assetize`
applies it to the rows the order names; the Temporal engine keeps each
customer's installed base that way).
"""

from __future__ import annotations

from typing import Optional

import attrs

from om_dsl.planning import keys
from om_dsl.values import decode_value, encode_value


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
    """The stable key of a line (see the module docstring; the format is engine/keys.py's)."""
    return keys.line_key(source_asset, customer, rule, unit, parent_key)


class InstalledBase:
    """An installed base held in memory (and the interface of the others)."""

    def __init__(self, assets: list = (), lines: list = (), claims: Optional[dict] = None):
        self._assets = {a.id: a for a in assets}
        self._lines = {line.key: line for line in lines}
        self._claims = dict(claims or {})  # asset id -> the unfinished order that changes it

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
        return self._claims.get(asset_id)


EMPTY = InstalledBase()


# ---- the installed base as plain data (the Temporal engine's) ------------------------------------------


def empty_state() -> dict:
    """{"assets": {id: {...}}, "inventory": {line key: {...}}, "claims": {asset id: order id}}; JSON all through."""
    return {"assets": {}, "inventory": {}, "claims": {}}


def changed_assets(run) -> list[str]:
    """The installed assets an order changes (one change in flight per asset)."""
    return sorted({i.asset_id for i in run.items if i.asset_id and i.action != "noChange"})


def record_order(state: dict, run, now: int) -> None:
    """A completed order (an engine `OrderRun`) updates the installed base:
    assets of its items are created, updated or ended; inventory lines
    likewise, by their stable key. Every entry it touches gets the order's
    id and `now`."""
    apply_entries(state, order_entries(run, now))
    release_claims(state, run.id)


def order_entries(run, now: int) -> list[dict]:
    """What a completed order writes, entry by entry ({"kind": "asset" or
    "line", "key": its id or key, ...}, JSON all through), read from the order alone: what
    an entry keeps of the installed base's own (an asset's customer, product
    and parent; a modified line's earlier outputs) is `apply_entries`'. So a
    big order's entries are made outside the installed base and applied in
    slices (the Temporal installed base applies some per workflow task);
    applied twice, they leave what applying them once did."""
    customer = run.fields.get("customer_account")
    asset_of = {item.id: item.asset_id or keys.asset_id(run.id, item.id) for item in run.items}
    out: list = []
    for item in run.items:
        if item.action == "noChange":
            continue
        parent = asset_of.get(item.parent) if item.parent else None
        out.append({"kind": "asset", "key": asset_of[item.id], "action": item.action, "order": run.id, "item": item.id, "customer": customer, "product": item.product, "attributes": encode_value(dict(item.values)), "parent": parent, "at": now})
    given: dict = {}  # line -> the outputs of its tasks' current runs (one walk over the tasks, not one per line)
    for t in run.tasks.values():
        if t.outputs and t.id == f"{t.line}:{t.name}":
            given.setdefault(t.line, {})[t.name] = t.outputs
    for line_id, line in run.lines.items():
        if line.action == "noChange":
            continue
        out.append({
            "kind": "line", "key": line.key or keys.legacy_line_key(run.id, line_id), "action": line.action, "order": run.id, "id": line_id, "customer": customer,
            "asset": asset_of.get(line.bundle) if line.bundle else None, "product": line.product, "attributes": encode_value(dict(line.values)),
            "outputs": encode_value(given.get(line_id, {})), "source_asset": line.source_asset, "rule": line.rule, "at": now,
        })
    return out


def apply_entries(state: dict, entries: list) -> None:
    """`order_entries` into the installed base's plain data, in order."""
    assets, inventory = state["assets"], state["inventory"]
    for e in entries:
        if e["kind"] == "asset":
            asset_id, old = e["key"], assets.get(e["key"])
            if e["action"] == "delete":
                if old is not None:
                    old.update(status="ended", order=e["order"], item=e["item"], updated_at=e["at"])
                continue
            assets[asset_id] = {
                "id": asset_id, "customer": old["customer"] if old else e["customer"], "product": old["product"] if old else e["product"],
                "attributes": e["attributes"], "parent": old["parent"] if old else e["parent"],
                "order": e["order"], "item": e["item"], "status": old["status"] if old else "active", "updated_at": e["at"],
            }
            continue
        key, old = e["key"], inventory.get(e["key"])
        if e["action"] == "delete":
            if old is not None and old["status"] == "active":
                old.update(status="ended", order=e["order"], line=e["id"], updated_at=e["at"])
            continue
        outputs = dict(old["outputs"]) if old is not None and e["action"] == "modify" else {}  # what earlier orders' tasks gave stays, unless redone
        outputs.update(e["outputs"])
        inventory[key] = {
            "key": key, "customer": old["customer"] if old else e["customer"], "asset": old["asset"] if old else e["asset"],
            "product": old["product"] if old else e["product"], "attributes": e["attributes"], "outputs": outputs,
            "order": e["order"], "line": e["id"], "status": "active", "updated_at": e["at"],
            "source_asset": old["source_asset"] if old else e["source_asset"], "rule": old["rule"] if old else e["rule"],
        }


def release_claims(state: dict, order_id: str) -> None:
    """The order changes none of its assets any more."""
    for asset_id in [a for a, order in state["claims"].items() if order == order_id]:
        del state["claims"][asset_id]


def from_state(state: dict) -> InstalledBase:

    assets = [Asset(a["id"], a["customer"], a["product"], decode_value(a["attributes"]), a["parent"], a["status"]) for a in state["assets"].values()]
    lines = [InstalledLine(k, v["product"], decode_value(v["attributes"]), v["source_asset"], v["rule"], v["customer"], v["status"]) for k, v in state["inventory"].items()]
    return InstalledBase(assets, lines, state.get("claims"))
