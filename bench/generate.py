"""Seeded generator of synthetic catalogs and orders for the benchmarks.

    python bench/generate.py OUT_DIR --lines 10000 [--seed 1] [--per-file 10]
    python bench/generate.py OUT_DIR --order ITEMS   # also writes OUT_DIR/order.json

A catalog is made of "families": a commercial root product with attributes,
a child product, a validation, a lookup table and enrichment, two technical
products (decomposition), a system with five operations, and add and delete
plans whose tasks depend on each other within the bundle and, across
families, on another family's milestone `in order`. One family is about 100
lines; families are spread over files of `per_file` families each. The same
seed always gives the same text. The catalog checks clean (`om check`).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HEADER = """\
catalog synth version "1.0"

retry std = staggered 10s, 1m, 10m
default retry std
default timeout 30s
queue ops "Operations"
"""

FAMILY = """\
# ---- family {i} -------------------------------------------------------------
commercial ROOT_{i} "Root product {i}" root {{
  attr speed: int in {{100, 300, 1000}} = 300
  attr tier: string in {{"basic", "premium"}} = "basic"
  attr site_id: string required
  attr static_ip: bool = false
  attr months: int in {{0, 12, 24}} = {months}
  has CHILD_{i} [0..{children}]
}}

commercial CHILD_{i} "Child product {i}" child {{
  attr model: string in {{"M1", "M2", "M3"}} = "M1"
}}

validate ROOT_{i} premium_speed_{i} {{
  when tier == "premium"
  require speed >= 300
  message "a premium product needs 300 Mbps or more"
}}

table up_{i}: int -> int {{
  100: {u100}
  300: {u300}
  1000: 1000
}}

enrich ROOT_{i} {{
  upload: int = up_{i}[speed]
  tech: string = if speed >= 1000 then "XGS-PON" else "GPON"
}}

technical ACCESS_{i} "Access {i}" cfs {{
  attr down: int required
  attr up: int required
  attr tech: string required
  attr site_id: string required
  attr port_id: string optional
}}

technical DEVICE_{i} "Device {i}" rfs {{
  attr model: string required
  attr shipment_id: string optional
}}

decompose A{i}: ROOT_{i} -> ACCESS_{i} {{
  down = speed
  up = upload
  tech = tech
  site_id = site_id
}}

decompose B{i}: CHILD_{i} -> DEVICE_{i} {{
  model = model
}}

system sys_{i} "System {i}" {{
  operation reserve(site_id: string, down: int) -> (port_id: string)
  operation activate(port_id: string, down: int, up: int, tech: string)
  operation release(port_id: string)
  operation ship(model: string) -> (shipment_id: string)
  operation collect(shipment_id: string)
}}

plan ACCESS_{i} on add {{
  callout reserve = sys_{i}.reserve(site_id, down)
    sets port_id = reserve.port_id
    compensate sys_{i}.release(port_id = reserve.port_id)
  callout activate = sys_{i}.activate(port_id, down, up, tech)
    after reserve, DEVICE_{i}.ship in bundle{cross}
  milestone active
    after activate
}}

plan DEVICE_{i} on add {{
  callout ship = sys_{i}.ship(model)
    sets shipment_id = ship.shipment_id
    compensate sys_{i}.collect(shipment_id = ship.shipment_id)
}}

plan ACCESS_{i} on delete {{
  callout release = sys_{i}.release(port_id)
}}

plan DEVICE_{i} on delete {{
  manual collect "Collect the device {i}" queue ops
}}

"""

FAMILY_LINES = FAMILY.count("\n")


def family(i: int, rng: random.Random) -> str:
    cross = ""
    if i > 0 and rng.random() < 0.5:
        cross = f", ACCESS_{rng.randrange(i)}.active in order"
    return FAMILY.format(i=i, months=rng.choice([0, 12, 24]), children=rng.randint(1, 4), u100=rng.choice([10, 20, 50]), u300=rng.choice([50, 100, 300]), cross=cross)


def catalog_files(lines: int, seed: int = 1, per_file: int = 10) -> dict[str, str]:
    """{relative path: text} of a catalog of about `lines` lines."""
    rng = random.Random(seed)
    n = max(1, round(lines / FAMILY_LINES))
    files = {"catalog.om": HEADER}
    for start in range(0, n, per_file):
        body = "".join(family(i, rng) for i in range(start, min(n, start + per_file)))
        files[f"families_{start // per_file:04d}.om"] = "catalog synth\n\n" + body
    return files


def families_of(files: dict[str, str]) -> int:
    return sum(t.count("commercial ROOT_") for t in files.values())


def write_catalog(out: Path, lines: int, seed: int = 1, per_file: int = 10) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    files = catalog_files(lines, seed, per_file)
    for old in out.glob("*.om"):
        old.unlink()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return files


def synth_order(items: int, families: int, seed: int = 1, order_id: str = "ORD-S") -> dict:
    """A TMF622 order of exactly `items` items (roots with 0..1 children) for a synthetic catalog."""
    rng = random.Random(seed)
    out, n = [], 0
    while n < items:
        f = rng.randrange(families)
        n += 1
        root = {
            "id": str(n),
            "action": "add",
            "productOffering": {"id": f"ROOT_{f}"},
            "product": {"productCharacteristic": [{"name": "speed", "value": rng.choice([100, 300, 1000])}, {"name": "site_id", "value": f"SITE-{n}"}]},
        }
        if n < items:
            n += 1
            root["productOrderItem"] = [{"id": str(n), "action": "add", "productOffering": {"id": f"CHILD_{f}"}, "product": {"productCharacteristic": [{"name": "model", "value": rng.choice(["M1", "M2", "M3"])}]}}]
        out.append(root)
    return {"id": order_id, "relatedParty": [{"id": "ACC-1", "role": "customer"}], "productOrderItem": out}


def acme_order(items: int, order_id: str = "ORD-TV") -> dict:
    """An Acme order of `items` items: one HOME_FIBER with its router, then TV_PACKAGE roots
    (whose IPTV line waits for the fiber line `in order`)."""
    out = [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "HOME_FIBER"},
            "product": {"productCharacteristic": [{"name": "address_id", "value": "ADDR-1"}]},
            "productOrderItem": [{"id": "2", "action": "add", "productOffering": {"id": "WIFI_ROUTER"}}],
        }
    ][: 1 if items >= 2 else 0]
    for n in range(len(out) * 2 + 1, items + 1):
        out.append({"id": str(n), "action": "add", "productOffering": {"id": "TV_PACKAGE"}, "product": {"productCharacteristic": [{"name": "set_top_boxes", "value": 1}]}})
    return {"id": order_id, "relatedParty": [{"id": "ACC-1", "role": "customer"}], "productOrderItem": out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-file", type=int, default=10)
    ap.add_argument("--order", type=int, default=0, help="also write order.json with this many items")
    args = ap.parse_args()
    out = Path(args.out)
    files = write_catalog(out, args.lines, args.seed, args.per_file)
    total = sum(t.count("\n") for t in files.values())
    print(f"{out}: {len(files)} files, {total} lines, {families_of(files)} families")
    if args.order:
        (out / "order.json").write_text(json.dumps(synth_order(args.order, families_of(files), args.seed), indent=1))


if __name__ == "__main__":
    main()
