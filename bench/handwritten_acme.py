"""The Acme Fiber catalog planned by hand: the baseline of the planning benchmark.

Intake, validation, enrichment, decomposition and plan instantiation of
`specs/acme` (action add only), hard-coded in plain Python, as a developer
would write it without the DSL. `plan(doc)` returns the fulfillment lines
and the plan items; `from_planned(data)` extracts the same shape from
`om_dsl.planning.report.planned_data` so that the two can be compared.
"""

from __future__ import annotations

import heapq


class Rejected(Exception):
    pass


# product -> {attr: (type, allowed or range, default, required)}; _REQ: no default, required
_REQ = object()
ATTRS = {
    "HOME_FIBER": {"speed_mbps": (int, {100, 300, 1000}, 300), "static_ip": (bool, None, False), "address_id": (str, None, _REQ), "contract_months": (int, {0, 12, 24}, 12)},
    "WIFI_ROUTER": {"model": (str, {"AX3000", "AX6000"}, "AX3000"), "delivery": (str, {"courier", "technician"}, "technician")},
    "MESH_EXTENDER": {},
    "VOICE_LINE": {"phone_number": (str, None, None), "port_in": (bool, None, False)},
    "TV_PACKAGE": {"package": (str, {"basic", "premium"}, "basic"), "set_top_boxes": (int, range(1, 5), 1)},
}
ROOTS = {"HOME_FIBER", "TV_PACKAGE"}
CHILDREN = {"HOME_FIBER": {"WIFI_ROUTER": (1, 1), "MESH_EXTENDER": (0, 3), "VOICE_LINE": (0, 2)}}
UPLOAD = {100: 20, 300: 100, 1000: 1000}


def _intake(doc: dict):
    problems = []
    items = []  # (id, product, values, parent id, root id), depth first

    def read(raw_items, parent, root):
        counts = {}
        for raw in raw_items:
            iid, product = str(raw["id"]), raw.get("productOffering", {}).get("id")
            if raw.get("action", "add") != "add":
                problems.append(f"{iid}: only add is supported by the hand-written planner")
            spec = ATTRS.get(product)
            if spec is None:
                problems.append(f"{iid}: unknown product {product}")
                continue
            if (parent is None) != (product in ROOTS):
                problems.append(f"{iid}: {product} cannot be placed here")
            values = {}
            for ch in raw.get("product", {}).get("productCharacteristic", ()):
                name, value = ch["name"], ch["value"]
                a = spec.get(name)
                if a is None:
                    problems.append(f"{iid}: unknown characteristic {name}")
                elif type(value) is not a[0]:
                    problems.append(f"{iid}: {name} has the wrong type")
                elif a[1] is not None and value not in a[1]:
                    problems.append(f"{iid}: {name} = {value!r} is not allowed")
                else:
                    values[name] = value
            for name, a in spec.items():
                if name not in values:
                    if a[2] is _REQ:
                        problems.append(f"{iid}: {name} is required")
                    values[name] = None if a[2] is _REQ else a[2]
            if product == "VOICE_LINE" and values["port_in"] and values["phone_number"] is None:
                problems.append(f"{iid}: a phone line with port_in = true needs the phone_number to port in")
            items.append((iid, product, values, parent, root or iid))
            counts[product] = counts.get(product, 0) + 1
            read(raw.get("productOrderItem", ()), iid, root or iid)
        if parent is not None:
            parent_product = next(p for i, p, *_ in reversed(items) if i == parent)
            for child, (low, high) in CHILDREN.get(parent_product, {}).items():
                if not low <= counts.get(child, 0) <= high:
                    problems.append(f"{parent}: {counts.get(child, 0)} {child}, allowed {low}..{high}")

    read(doc.get("productOrderItem", ()), None, None)
    for iid, product, *_ in items:
        if product in CHILDREN and not any(p == iid for _, _, _, p, _ in items):
            for child, (low, _high) in CHILDREN[product].items():
                if low > 0:
                    problems.append(f"{iid}: 0 {child}, allowed at least {low}")
    if problems:
        raise Rejected(problems)
    return items


def plan(doc: dict) -> dict:
    items = _intake(doc)
    account = next((p["id"] for p in doc.get("relatedParty", ()) if p.get("role") == "customer"), None)
    start_date = doc.get("requestedStartDate")

    # enrich
    for _iid, product, v, _p, _r in items:
        if product == "HOME_FIBER":
            v["technology"] = "XGS-PON" if v["speed_mbps"] >= 1000 else "GPON"
            v["upload_mbps"] = UPLOAD[v["speed_mbps"]]
        elif product == "VOICE_LINE":
            v["number_source"] = "port" if v["port_in"] else "customer" if v["phone_number"] is not None else "assign"

    # decompose: (line id, product, values, bundle)
    lines = []
    for iid, product, v, _parent, root in items:
        if product == "HOME_FIBER":
            lines.append((f"{iid}/D1", "FIBER_ACCESS_CFS", {"address_id": v["address_id"], "down_mbps": v["speed_mbps"], "port_id": None, "technology": v["technology"], "up_mbps": v["upload_mbps"]}, root))
            lines.append((f"{iid}/D2", "ONT_RFS", {"ont_model": {"XGS-PON": "XS-2426G", "GPON": "G-2425G"}.get(v["technology"]), "shipment_id": None}, root))
            if v["static_ip"]:
                lines.append((f"{iid}/D3", "STATIC_IP_RFS", {"ip_address": None, "ip_version": "v4"}, root))
        elif product == "WIFI_ROUTER":
            lines.append((f"{iid}/D4", "CPE_RFS", {"device_model": v["model"], "shipment_id": None, "shipping": v["delivery"]}, root))
        elif product == "MESH_EXTENDER":
            lines.append((f"{iid}/D5", "CPE_RFS", {"device_model": "MESH-1", "shipment_id": None, "shipping": "courier"}, root))
        elif product == "VOICE_LINE":
            lines.append((f"{iid}/D6", "VOICE_CFS", {"number_source": v["number_source"], "phone_number": v["phone_number"]}, root))
        elif product == "TV_PACKAGE":
            lines.append((f"{iid}/D7", "IPTV_CFS", {"channel_package": v["package"], "stb_count": v["set_top_boxes"]}, root))
            for n in range(1, v["set_top_boxes"] + 1):
                lines.append((f"{iid}/D8#{n}", "CPE_RFS", {"device_model": "STB-4K", "shipment_id": None, "shipping": "courier"}, root))
    if any(p is None for _, _, _, p, _ in items):
        if account is None:
            raise Rejected(["D9: the order has no customer account"])
        lines.append(("order/D9", "BILLING_RFS", {"account_id": account}, None))

    # plan: task id -> [depends on]; tasks in line order
    deps: dict[str, list] = {}
    line_of: dict[str, int] = {}
    fiber_active_in_bundle, ont_in_bundle, fiber_active_all = {}, {}, []
    for line_id, product, _v, bundle in lines:
        if product == "FIBER_ACCESS_CFS":
            fiber_active_in_bundle.setdefault(bundle, []).append(f"{line_id}:line_active")
            fiber_active_all.append(f"{line_id}:line_active")
        elif product == "ONT_RFS":
            ont_in_bundle.setdefault(bundle, []).append(f"{line_id}:ship_ont")
    for n, (line_id, product, v, bundle) in enumerate(lines):
        t = {}
        if product == "FIBER_ACCESS_CFS":
            t["check_address"] = []
            t["reserve_port"] = [f"{line_id}:check_address"]
            t["install_visit"] = [f"{line_id}:reserve_port", *ont_in_bundle.get(bundle, ())]
            t["activate_line"] = [f"{line_id}:install_visit"]
            t["line_active"] = [f"{line_id}:activate_line"]
        elif product == "ONT_RFS":
            t["ship_ont"] = []
        elif product == "CPE_RFS":
            t["ship_device"] = []
        elif product == "STATIC_IP_RFS":
            t["assign_ip"] = list(fiber_active_in_bundle.get(bundle, ()))
        elif product == "VOICE_CFS":
            source = v["number_source"]
            after = list(fiber_active_in_bundle.get(bundle, ()))
            if source != "assign":
                t["normalize_number"] = []
                after.append(f"{line_id}:normalize_number")
            if source == "port":
                t["port_number"] = [f"{line_id}:normalize_number"]
                after.append(f"{line_id}:port_number")
            if source == "assign":
                t["assign_number"] = []
                after.append(f"{line_id}:assign_number")
            t["activate_voice"] = after
        elif product == "IPTV_CFS":
            t["activate_iptv"] = list(fiber_active_all)
        elif product == "BILLING_RFS":
            every = [task for task in deps if not task.startswith(line_id + ":")]
            if start_date is not None:
                t["requested_start"] = []
                every.append(f"{line_id}:requested_start")
            t["start_billing"] = every
        for name, on in t.items():
            deps[f"{line_id}:{name}"] = sorted(set(on))
            line_of[f"{line_id}:{name}"] = n

    # dependency order: ready tasks by (line position, id)
    waiting = {i: len(on) for i, on in deps.items()}
    users: dict[str, list] = {i: [] for i in deps}
    for i, on in deps.items():
        for o in on:
            users[o].append(i)
    ready = [(line_of[i], i) for i, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, i = heapq.heappop(ready)
        ordered.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, (line_of[u], u))
    return {
        "lines": [{"id": l, "product": p, "action": "add", "attributes": v} for l, p, v, _b in lines],
        "items": [{"id": i, "depends_on": deps[i]} for i in ordered],
    }


def from_planned(data: dict) -> dict:
    """The same shape, from om_dsl.planning.report.planned_data of the real planner."""
    return {
        "lines": [{"id": l["id"], "product": l["product"], "action": l["action"], "attributes": l["attributes"]} for fr in data["fulfillment_requests"] for l in fr["lines"]],
        "items": [{"id": it["id"], "depends_on": it["depends_on"]} for it in data["plan"]["items"]],
    }
