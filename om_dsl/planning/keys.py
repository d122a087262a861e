"""The keys and ids om builds from ids it was given: idempotency keys, event
ids, asset ids, installed-line keys, installed-base workflow ids.

Order ids, item ids and customer ids are free text: they may hold the very
characters these formats join their parts with (an order `X:9` with item `1`
and an order `X` with item `9:1` once made the same call key, and shared one
port reservation). So each free part is written with `escape`: `%` and the
separators of its format become `%XX` (UTF-8, as in a URL). An escaped part
holds none of its format's separators, which makes each format injective by
construction: the parts can be read back by splitting at a known separator.
Order and item ids also have anything but printable ASCII escaped (white
space, control characters, other scripts): a key then travels as it is in an
HTTP header (`Idempotency-Key`), where a line break or a non-Latin-1 letter
cannot go. An id of printable ASCII without those characters (`ORD-1004`,
item `1`, `ACC-42`) is written as it is, so every key and id made before this
module keeps its form.

Formats (E: escaped; the separators each part is escaped for):

- line id (decompose): `E(item)/RULE[#N]/RULE[#N]...`, item escaped for
  `/ : # @`. Rule names are identifiers, so the first `/` ends the item, and
  a line id holds no `:` and no `@`: a task id `LINE:TASK` has exactly one
  `:` (undo task ids add `:undo[N]`, superseded runs `@N`, never a plan's).
- call key: `E(order):TASK_ID:GENERATION`, order escaped for `:`. The first
  `:` ends the order, the last begins the generation; what lies between is
  the task id, which has one `:`. Undo key: `E(order):TASK_ID:undo:GENERATION`,
  two `:` between: never a call key. Event id: `E(order):event:N`, none
  between: never either. (The same order id is the Temporal workflow id:
  `order_of_key` reads it back from a callback's correlation id.)
- asset id: `AST-E(order)-E(item)`, the item escaped for `-`, so the last
  `-` splits order from item; both escaped for `/` and `#`, so an asset id
  holds no `/` (it begins a line key) and, being printable ASCII, no space
  (an order's changed assets are stored as " A B ").
- installed-line key: `BASE/RULE[#N]`, where BASE is the line's asset id (no
  `/`: see above), its parent line's key, or for order-scoped lines the
  customer escaped for `/` (no customer, or an empty one: `order`; a
  customer named `order` is written `%6Frder`). The first `/` ends the
  base; a rule is either order-scoped or of a product, so an asset and a
  customer never share keys.
- installed-base workflow (Temporal): `installed-base:E(customer)`, no
  customer (or an empty one) `-`, a customer named `-` is written `%2D`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional
from urllib.parse import unquote

NO_CUSTOMER = "order"  # the base of order-scoped lines of an order with no customer
NO_CUSTOMER_BASE = "-"  # the installed-base workflow of orders with no customer

_ITEM_IN_LINE = "/:#@"
_ORDER_IN_KEY = ":"
_IN_ASSET = "/#"


@lru_cache(maxsize=1024)
def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))  # (JSON can carry a lone surrogate)


def _plain(c: str) -> bool:
    return "!" <= c <= "~"  # printable ASCII, no space


def escape(text: str, separators: str, ascii_only: bool = False) -> str:
    """`text` with `%` and each separator (and, with `ascii_only`, anything but
    printable ASCII: white space, control characters, non-ASCII letters)
    percent-encoded; anything else as it is."""
    text = str(text)
    if _untouched(separators, ascii_only).fullmatch(text):
        return text  # the usual case: an ordinary id stays as it is
    return _escaped(separators, ascii_only).sub(_pct_of, text)  # (one match per character to escape, not a loop over all)


def _pct_of(m: re.Match) -> str:
    return _pct(m.group())


@lru_cache(maxsize=None)
def _escaped(separators: str, ascii_only: bool) -> re.Pattern:
    """One character escape encodes: `%`, a separator (and, with ascii_only, anything but printable ASCII)."""
    banned = "[" + re.escape("%" + separators) + "]"
    return re.compile(f"{banned}|[^!-~]" if ascii_only else banned)


@lru_cache(maxsize=None)
def _untouched(separators: str, ascii_only: bool) -> re.Pattern:
    """Text escape leaves as it is: no `%`, no separator (and, with ascii_only, printable ASCII only)."""
    banned = "%" + separators
    if ascii_only:
        return re.compile("[" + "".join(re.escape(chr(c)) for c in range(0x21, 0x7F) if chr(c) not in banned) + "]*")
    return re.compile(f"[^{re.escape(banned)}]*", re.DOTALL)


_PLAIN_ITEM_IN_LINE = _untouched(_ITEM_IN_LINE, True).fullmatch
_PLAIN_ITEM_IN_ASSET = _untouched(_IN_ASSET + "-", True).fullmatch


def _reserved(encoded: str, word: str) -> str:
    """An encoded part that would read as `word` (which stands for "none") gets its first character encoded."""
    return _pct(encoded[0]) + encoded[1:] if encoded == word else encoded


# ---- orchestration ------------------------------------------------------------------------------------


def line_prefix(item_id: str) -> str:
    """The item part of its lines' ids (and so of its tasks' ids)."""
    if type(item_id) is str and _PLAIN_ITEM_IN_LINE(item_id):
        return item_id  # escape would leave it as it is (planning asks once per item)
    return escape(item_id, _ITEM_IN_LINE, ascii_only=True)


def call_key(order_id: str, task_id: str, generation: int = 1) -> str:
    """The idempotency key of a task's calls, the same on every retry of one run."""
    return f"{escape(order_id, _ORDER_IN_KEY, ascii_only=True)}:{task_id}:{generation}"


def undo_key(order_id: str, task_id: str, generation: int) -> str:
    """The idempotency key of the compensation of a task's run `generation`."""
    return f"{escape(order_id, _ORDER_IN_KEY, ascii_only=True)}:{task_id}:undo:{generation}"


def event_id(order_id: str, n: int) -> str:
    """The id of an order's n-th event (and the idempotency key of its delivery)."""
    return f"{escape(order_id, _ORDER_IN_KEY, ascii_only=True)}:event:{n}"


def order_of_key(key: str) -> str:
    """The order a call key, undo key or event id belongs to."""
    return unquote(key.split(":", 1)[0])


# ---- the installed base -------------------------------------------------------------------------------


def asset_id(order_id: str, item_id: str) -> str:
    """The id of the asset an order item adds."""
    return f"AST-{escape(order_id, _IN_ASSET, ascii_only=True)}-{escape(item_id, _IN_ASSET + '-', ascii_only=True)}"


def asset_ids(order_id: str):
    """`asset_id` for the items of one order: its part of the id escaped once."""
    head = f"AST-{escape(order_id, _IN_ASSET, ascii_only=True)}-"

    def of(item_id: str) -> str:
        if type(item_id) is str and _PLAIN_ITEM_IN_ASSET(item_id):
            return head + item_id
        return head + escape(item_id, _IN_ASSET + "-", ascii_only=True)

    return of


_PLAIN_ITEM = _untouched(_ITEM_IN_LINE + _IN_ASSET + "-", True).fullmatch  # an item id both formats take as it is


_PLAIN_ORDER_IN_ASSET = _untouched(_IN_ASSET, True).fullmatch
_PLAIN_IN_BASE = _untouched("/", False).fullmatch


def plain_item(item_id) -> bool:
    """An item id that line_prefix and asset_id take as it is (letters and digits: with no match)."""
    return type(item_id) is str and (item_id.isalnum() and item_id.isascii() or _PLAIN_ITEM(item_id) is not None)


def asset_head(order_id: str) -> str:
    """What the asset ids of one order's items begin with: asset_id(order_id, item) is it + the item, escaped."""
    plain = type(order_id) is str and _PLAIN_ORDER_IN_ASSET(order_id)
    return f"AST-{order_id if plain else escape(order_id, _IN_ASSET, ascii_only=True)}-"


def line_key(source_asset: Optional[str], customer: Optional[str], rule: str, unit: Optional[int], parent_key: Optional[str] = None) -> str:
    """The stable key of an installed line (see installed.py)."""
    if parent_key is not None:
        base = parent_key
    elif source_asset is not None:
        base = source_asset
    else:
        base = order_base(customer)
    return f"{base}/{rule}" + (f"#{unit}" if unit is not None else "")


def order_base(customer: Optional[str]) -> str:
    """The base of an order-scoped line's key: its customer, escaped for `/`, or `order`."""
    if type(customer) is str and customer and customer != NO_CUSTOMER and _PLAIN_IN_BASE(customer):
        return customer  # (escape and _reserved would leave it as it is: planning asks once per order)
    return _reserved(escape(customer, "/"), NO_CUSTOMER) if customer else NO_CUSTOMER


def legacy_line_key(order_id: str, line_id: str) -> str:
    """The key of a line planned before lines had keys (state from older versions)."""
    return f"{escape(order_id, '/')}/{line_id}"


def installed_base_id(customer: Optional[str]) -> str:
    """The Temporal workflow id of a customer's installed base."""
    return "installed-base:" + (_reserved(escape(customer, ""), NO_CUSTOMER_BASE) if customer else NO_CUSTOMER_BASE)


def customer_of_installed_base(workflow_id: str) -> Optional[str]:
    """The customer an installed-base workflow id names (None: orders without one)."""
    part = workflow_id.split(":", 1)[1]
    return None if part == NO_CUSTOMER_BASE else unquote(part)
