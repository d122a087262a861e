"""The installed base: assets and inventory lines, written when an order completes, read by planning."""

from __future__ import annotations

import json
from typing import Optional

from om_dsl.embedded.store.database import _filtered, _json
from om_dsl.engine import state as S

_sorted_json = json.JSONEncoder(sort_keys=True, check_circular=False).encode  # json.dumps(..., sort_keys=True)


class Assets:
    """(A part of Store: see __init__.py.)"""

    def assetize(self, db, run: S.OrderRun, now: int) -> None:
        """A completed order updates the customer's installed base: assets of
        its items are created (add), updated (modify) or ended (delete);
        inventory lines likewise, by their stable key. What changes is
        `installed.record_order`'s, the same rule the Temporal engine keeps
        its installed bases by; the store writes back what it touched.
        Inside `batched`, with the batch's other writes (the orders completed
        in one transaction read and write the installed base together)."""
        if self._batch is not None:
            self._batch.completed.append((run, now))
            return
        self.assetize_all(db, [(run, now)])

    def assetize_all(self, db, completed: list) -> None:
        """`assetize` of each (order, now), in order: a statement per table for all of them."""
        from om_dsl.planning.installed import record_order
        from om_dsl.planning.keys import asset_id, legacy_line_key

        asset_ids = list(dict.fromkeys(item.asset_id or asset_id(run.id, item.id) for run, _ in completed for item in run.items))
        keys = list(dict.fromkeys(line.key or legacy_line_key(run.id, line_id) for run, _ in completed for line_id, line in run.lines.items()))
        state = self._installed_part(db, asset_ids, keys)  # only what the orders can touch: not the customers' whole bases
        for run, now in completed:  # (one after the other, as if each were alone: a later one sees what an earlier one changed)
            record_order(state, run, now)
        touched = {(run.id, now) for run, now in completed}
        db.executemany(  # (a statement for all the assets, one for all the lines)
            "INSERT INTO assets (id, customer, product, attributes, parent, order_id, item_id, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, order_id = excluded.order_id, item_id = excluded.item_id, status = excluded.status, updated_at = excluded.updated_at",
            [
                (a["id"], a["customer"], a["product"], _sorted_json(a["attributes"]), a["parent"], a["order"], a["item"], a["status"], a["updated_at"])
                for a in state["assets"].values() if (a["order"], a["updated_at"]) in touched
            ],
        )
        db.executemany(
            "INSERT INTO inventory (id, customer, asset_id, product, attributes, outputs, order_id, line, status, updated_at, line_key, source_asset, rule) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, outputs = excluded.outputs, order_id = excluded.order_id, line = excluded.line, "
            "status = excluded.status, updated_at = excluded.updated_at",
            [
                (f"INV-{key}", v["customer"], v["asset"], v["product"], _sorted_json(v["attributes"]), _sorted_json(v["outputs"]), v["order"], v["line"], v["status"], v["updated_at"], key, v["source_asset"], v["rule"])
                for key, v in state["inventory"].items() if (v["order"], v["updated_at"]) in touched
            ],
        )

    def assets(self, customer: Optional[str] = None) -> list:
        return _filtered(self.db, "SELECT id, customer, product, attributes, parent, order_id, status FROM assets", "id", customer=customer)

    def installed_states(self) -> dict:
        """Each customer's installed base as plain data (om_dsl.planning.installed), to move it to Temporal."""
        states: dict = {}
        self._read_installed(self.db, lambda customer: states.setdefault(customer, _empty_state()))
        return states

    def _installed_part(self, db, asset_ids: list, keys: list) -> dict:
        """These assets and inventory lines (those that exist) as plain data."""
        state = _empty_state()
        for n in range(0, max(len(asset_ids), len(keys)), 500):  # (SQLite's bound on parameters)
            a, k = tuple(asset_ids[n : n + 500]), tuple(f"INV-{key}" for key in keys[n : n + 500])
            self._read_installed(db, lambda _: state, (f" WHERE id IN ({','.join('?' * len(a)) or 'NULL'})", a), (f" WHERE id IN ({','.join('?' * len(k)) or 'NULL'})", k))
        return state

    @staticmethod
    def _read_installed(db, state_of, assets: tuple = ("", ()), inventory: tuple = ("", ())) -> None:
        """Rows of assets and inventory (each a WHERE clause and its arguments) into `state_of(customer)`."""
        where, args = assets
        for id_, cust, product, attributes, parent, order_id, item_id, status, at in db.execute(
            f"SELECT id, customer, product, attributes, parent, order_id, item_id, status, updated_at FROM assets{where} ORDER BY id", args
        ):
            state_of(cust)["assets"][id_] = {
                "id": id_, "customer": cust, "product": product, "attributes": _json(db, attributes, f"asset {id_!r}"), "parent": parent, "order": order_id, "item": item_id, "status": status, "updated_at": at,
            }
        where, args = inventory
        for id_, key, cust, asset, product, attributes, outputs, order_id, line, status, at, source_asset, rule in db.execute(
            f"SELECT id, line_key, customer, asset_id, product, attributes, outputs, order_id, line, status, updated_at, source_asset, rule FROM inventory{where} ORDER BY id", args
        ):
            key = key or id_.removeprefix("INV-")  # (rows from before line keys were stored)
            state_of(cust)["inventory"][key] = {
                "key": key, "customer": cust, "asset": asset, "product": product, "attributes": _json(db, attributes, f"inventory line {id_!r}"), "outputs": _json(db, outputs, f"inventory line {id_!r}"),
                "order": order_id, "line": line, "status": status, "updated_at": at, "source_asset": source_asset, "rule": rule,
            }

    def inventory(self, customer: Optional[str] = None) -> list:
        query = "SELECT id, customer, asset_id, product, attributes, outputs, order_id, line, status FROM inventory"
        return _filtered(self.db, query, "id", customer=customer)


def _empty_state() -> dict:
    from om_dsl.planning.installed import empty_state

    return empty_state()


class StoreInstalledBase:
    """The installed base as the store holds it (see om_dsl.planning.installed)."""

    def __init__(self, store):  # a Store
        self.store = store

    def asset(self, asset_id: str):
        from om_dsl.planning.installed import Asset

        row = self.store.db.execute("SELECT id, customer, product, attributes, parent, status FROM assets WHERE id = ?", (asset_id,)).fetchone()
        return Asset(row[0], row[1], row[2], S.decode_value(self.store.decode(row[3], f"asset {asset_id!r}")), row[4], row[5]) if row else None

    def children(self, asset_id: str) -> list:
        from om_dsl.planning.installed import Asset

        rows = self.store.db.execute("SELECT id, customer, product, attributes, parent, status FROM assets WHERE parent = ? AND status = 'active' ORDER BY id", (asset_id,))
        return [Asset(r[0], r[1], r[2], S.decode_value(self.store.decode(r[3], f"asset {r[0]!r}")), r[4], r[5]) for r in rows]

    def _lines(self, where: str, args: tuple) -> list:
        from om_dsl.planning.installed import InstalledLine

        rows = self.store.db.execute(f"SELECT line_key, product, attributes, source_asset, rule, customer, status FROM inventory WHERE {where} AND status = 'active' ORDER BY line_key", args)
        return [InstalledLine(r[0], r[1], S.decode_value(self.store.decode(r[2], f"inventory line {r[0]!r}")), r[3], r[4], r[5], r[6]) for r in rows]

    def lines_of(self, source_asset: str) -> list:
        return self._lines("source_asset = ?", (source_asset,))

    def in_flight(self, asset_id: str):
        """An unfinished order whose items change this asset."""
        finals = ",".join("?" * len(S.FINAL))
        row = self.store.db.execute(
            f"SELECT id FROM orders WHERE status NOT IN ({finals}) AND instr(changes, ' ' || ? || ' ') > 0 ORDER BY created_at, id", (*S.FINAL, asset_id)
        ).fetchone()
        return row[0] if row else None

    def line(self, key: str):
        found = self._lines("line_key = ?", (key,))
        return found[0] if found else None
