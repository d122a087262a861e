"""A rejected order as TMF622 Errors (code, reason, message, status), for the API.

Pure. Each problem keeps what it names (the item, om's rule, the JSON
pointer) in `message`; `code` is the rule's family (a catalog rule's kind:
`validation`, `mapping`, ...; else the rule itself), stable for clients to
branch on; `reason` says what kind of problem it is; `status` is the HTTP
status the API answers with. v4 and v5 Errors have the same fields; v5
requires `@type`, which both get.
"""

from __future__ import annotations

from om_dsl.planning.order import Problem, Rejected

BAD_REQUEST, CONFLICT, TOO_LARGE = "400", "409", "413"

# code -> (status, reason). A code not here: 400, "the order breaks a rule of the catalog".
REASONS = {
    "malformed_json": (BAD_REQUEST, "The order is not valid JSON"),
    "not_an_order": (BAD_REQUEST, "The request is not a ProductOrder"),
    "input_limit": (TOO_LARGE, "The order is beyond the service's limits"),
    "too_deep": (TOO_LARGE, "The order is beyond the service's limits"),
    "bad_id": (BAD_REQUEST, "An id cannot be used"),
    "malformed_item": (BAD_REQUEST, "An order item is malformed"),
    "no_items": (BAD_REQUEST, "The order has no items"),
    "order_field": (BAD_REQUEST, "A field of the order has a bad value"),
    "order_id": (BAD_REQUEST, "The order's id cannot be used"),
    "quantity": (BAD_REQUEST, "An item's quantity cannot be ordered"),
    "relationship": (BAD_REQUEST, "An item relationship names no proper item"),
    "relationship_type": (BAD_REQUEST, "An item relationship type is not supported"),
    "unknown_product": (BAD_REQUEST, "The product offering is not in the catalog"),
    "unknown_action": (BAD_REQUEST, "The item action is not supported"),
    "unknown_attribute": (BAD_REQUEST, "A characteristic is not in the catalog"),
    "duplicate_attribute": (BAD_REQUEST, "A characteristic is given twice"),
    "attribute_type": (BAD_REQUEST, "A characteristic value has the wrong type"),
    "allowed_values": (BAD_REQUEST, "A characteristic value is not allowed"),
    "required": (BAD_REQUEST, "A required characteristic is missing"),
    "placement": (BAD_REQUEST, "A product is ordered where it does not belong"),
    "cardinality": (BAD_REQUEST, "A product has too many or too few children"),
    "duplicate_item_id": (BAD_REQUEST, "An item id is used twice"),
    "reserved_item_id": (BAD_REQUEST, "An item id is reserved"),
    "asset_required": (BAD_REQUEST, "A change names no installed product"),
    "asset_on_add": (BAD_REQUEST, "An added item names an installed product"),
    "unknown_asset": (BAD_REQUEST, "The installed product is not known"),
    "asset_of_another_customer": (BAD_REQUEST, "The installed product belongs to another customer"),
    "asset_product": (BAD_REQUEST, "The installed product is another product"),
    "asset_ended": (BAD_REQUEST, "The installed product was ended"),
    "asset_parent": (BAD_REQUEST, "The installed product sits elsewhere"),
    "installed_product": (BAD_REQUEST, "The installed product is no longer in the catalog"),
    "asset_in_flight": (CONFLICT, "The installed product is being changed by another order"),
    "duplicate_order": (CONFLICT, "The order was submitted before"),
    # orders that wait for other orders (orderRelationship)
    "order_relationship": (BAD_REQUEST, "An order relationship cannot be read"),
    "unknown_order": (BAD_REQUEST, "The order depends on an order that is not known"),
    "order_ended": (CONFLICT, "The order depends on an order that ended without completing"),
    "unknown_milestone": (BAD_REQUEST, "The order waits for a milestone the other order does not have"),
    "order_dependency_cycle": (CONFLICT, "The order's dependencies would form a cycle"),
    "revision_of_another_order": (CONFLICT, "The revision names another order"),
    "plan_cycle": (BAD_REQUEST, "The order's tasks would wait for each other"),
    "validation": (BAD_REQUEST, "The order breaks a validation rule of the catalog"),
    "enrichment": (BAD_REQUEST, "An enrichment rule of the catalog cannot be evaluated for the order"),
    "mapping": (BAD_REQUEST, "A decomposition of the catalog gives a bad value for the order"),
}
_OTHER = (BAD_REQUEST, "The order breaks a rule of the catalog")


def code_of(problem: Problem) -> str:
    """`validation:VOICE_LINE.port_in_requires_number` -> `validation`; `cardinality` -> `cardinality`."""
    return problem.rule.split(":", 1)[0]


def error(problem: Problem, version: str = "v4") -> dict:
    """One problem as a TMF622 Error of `version` (v4 or v5)."""
    if version not in ("v4", "v5"):
        raise ValueError(f"TMF622 {version!r}: om speaks v4 and v5")
    code = code_of(problem)
    status, reason = REASONS.get(code, _OTHER)
    return {"@type": "Error", "code": code, "reason": reason, "message": problem.render(), "status": status}


def errors(rejected: Rejected, version: str = "v4") -> list[dict]:
    """Every problem of a rejection, one Error each, in the order found."""
    return [error(p, version) for p in rejected.problems]


def response(rejected: Rejected, version: str = "v4") -> dict:
    """The one Error an API answers a rejected create with: the first problem's
    code and reason, every problem in `message` (one per line), and the
    status: a conflict (409) when any problem is one, else the first's."""
    each = errors(rejected, version)
    if len(each) == 1:
        return each[0]
    statuses = {e["status"] for e in each}
    status = CONFLICT if CONFLICT in statuses else each[0]["status"]
    reason = f"{each[0]['reason']} (and {len(each) - 1} more problem{'s' if len(each) > 2 else ''})"
    return {"@type": "Error", "code": each[0]["code"], "reason": reason, "message": "\n".join(e["message"] for e in each), "status": status}
