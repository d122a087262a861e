"""The order's own fields in a TMF622 request (v4 or v5), as `order.FIELD`
and what the engine reads: the customer party, the external id, the billing
account, the dates, the priority, the initial state.

Each bad value is a problem with its JSON pointer (through `problem`, the
intake's); the field is then left out, and the order is rejected.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re
from decimal import Decimal

from om_dsl.limits import InputLimit, check_id, plain_id

# A TMF622 date-time (or a plain date): the calendar day is what plans read.
DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
PRIORITIES = ("0", "1", "2", "3", "4")  # TMF622: 0 is the highest, 4 the lowest
INITIAL_STATES = ("acknowledged", "draft")  # v5 requestedInitialState


def show_raw(raw) -> str:
    shown = json.dumps(raw, default=str) if not isinstance(raw, Decimal) else str(raw)
    return shown if len(shown) <= 80 else shown[:60] + f"... ({len(shown)} characters)"


def id_problem(value, what: str) -> str | None:
    """Why an id (or a field shown like one) cannot be taken: too long, or a control character; None when it can."""
    if type(value) is str and plain_id(value):
        return None  # the usual id, in one match
    try:
        check_id(value, what)
    except InputLimit as exc:
        return str(exc)
    return None


def document_id(doc: dict) -> str:
    """The order's id: its own, or one derived from its content (deterministic)."""
    given = doc.get("id")
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given)
    if isinstance(given, str) and given:
        return given
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    return "ORD-" + digest[:10].upper()


def customer_of(doc: dict) -> str | None:
    """The id of the order's customer party, if it names one (intake reports what is wrong with it)."""
    parties = doc.get("relatedParty")
    n = customer_party(parties if isinstance(parties, list) else [])
    return None if n is None else _party_id(parties[n])


def external_id_of(doc: dict) -> str | None:
    """The order's external id as a rejected order is filed under: v4's
    string, or the `id` of v5's first ExternalIdentifier (None when neither reads)."""
    v = doc.get("externalId")
    if isinstance(v, list) and v and isinstance(v[0], dict):
        v = v[0].get("id")
    return v if isinstance(v, str) and v and id_problem(v, "the external id") is None else None


def customer_party(parties: list) -> int | None:
    """Which related party is the customer: the first whose `role` is
    customer; else, among those without a role, the first that refers to a
    Customer (`@referredType`: TMF622 v4 on the party, v5 on its
    `partyOrPartyRole`)."""
    for n, party in enumerate(parties):
        if isinstance(party, dict) and str(party.get("role", "")).lower() == "customer":
            return n
    for n, party in enumerate(parties):
        if isinstance(party, dict) and party.get("role") is None:
            ref = party.get("partyOrPartyRole")
            referred = (ref.get("@referredType") if isinstance(ref, dict) else None) or party.get("@referredType")
            if str(referred or "").lower() == "customer":
                return n
    return None


def _party_id(party: dict) -> str | None:
    pid = party.get("id")
    if pid is None and isinstance(party.get("partyOrPartyRole"), dict):  # TMF622 v5
        pid = party["partyOrPartyRole"].get("id")
    return pid if isinstance(pid, str) and pid else None


def due_instant(text: str) -> int | None:
    """A TMF622 date-time as ms since the epoch (UTC when it names no offset);
    a plain date is due at the end of that day. None: not a date-time."""
    m = DATE_TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    try:
        if m.group(0) == m.group(1):
            day = datetime.date.fromisoformat(m.group(1)) + datetime.timedelta(days=1)
            at = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)
        else:
            at = datetime.datetime.fromisoformat(m.group(0).strip().replace(" ", "T"))
            if at.tzinfo is None:
                at = at.replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return int(at.timestamp() * 1000)


def _text(doc: dict, problem, key: str, value=None, where=None):
    v = doc.get(key) if value is None else value
    if v is None:
        return None
    if type(v) is str and plain_id(v):
        return v  # the usual value, in one match
    where = where or f"/{key}"
    if not isinstance(v, (str, int)) or isinstance(v, bool):
        problem("order_field", f"`{key}` must be a string", path=where)
        return None
    why = id_problem(str(v), f"`{key}`")
    if why:
        problem("bad_id" if key == "externalId" else "order_field", why, path=where)
        return None
    return str(v)


@functools.lru_cache(maxsize=1024)
def _day(text: str):
    """The calendar day of a TMF622 date or date-time, or None. (Orders name the same few
    days again and again: remembered, the match and the parse are made once per text.)"""
    m = DATE_TIME.fullmatch(text.strip())
    if m:
        try:
            return datetime.date.fromisoformat(m.group(1))
        except ValueError:
            pass
    return None


def _date(doc: dict, problem, key: str):
    v = doc.get(key)
    if v is None:
        return None
    # TMF622 dates are date-times; the calendar day is what plans use.
    day = _day(v) if isinstance(v, str) else None
    if day is not None:
        return day
    problem("order_field", f"`{key}` must be a date (YYYY-MM-DD or a date-time), not {show_raw(v)}", path=f"/{key}")
    return None


def _external_id(doc: dict, problem):
    v = doc.get("externalId")
    if not isinstance(v, list):  # v4: a string
        return _text(doc, problem, "externalId")
    # v5: a list of ExternalIdentifier; the first names the order for om
    for n, ext in enumerate(v):
        if not isinstance(ext, dict) or not isinstance(ext.get("id"), str) or not ext["id"]:
            problem("order_field", "an ExternalIdentifier of `externalId` must be an object with an `id` string", path=f"/externalId/{n}")
            return None
    return _text(doc, problem, "externalId", v[0]["id"], "/externalId/0/id") if v else None


def _billing_account(doc: dict, problem):
    v = doc.get("billingAccount")
    if v is None:
        return None
    if not isinstance(v, dict) or not isinstance(v.get("id"), str) or not v["id"]:
        problem("order_field", "`billingAccount` must be a BillingAccountRef: an object with an `id` string", path="/billingAccount")
        return None
    return _text(doc, problem, "billingAccount", v["id"], "/billingAccount/id")


def _choice(doc: dict, problem, key: str, allowed: tuple):
    v = doc.get(key)
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if v not in allowed:
        problem("order_field", f"`{key}` must be one of {', '.join(json.dumps(a) for a in allowed)}, not {show_raw(v)}", path=f"/{key}")
        return None
    return v


def _customer_account(doc: dict, problem):
    parties = doc.get("relatedParty")
    if parties is None:
        return None
    if not isinstance(parties, list):
        problem("order_field", "`relatedParty` must be a list", path="/relatedParty")
        return None
    n = customer_party(parties)
    if n is None:
        return None
    party = parties[n]
    pid = _party_id(party)
    if pid is None:
        problem("order_field", "the related party that is the customer has no id", path=f"/relatedParty/{n}")
    elif why := id_problem(pid, "the customer's id"):
        where = f"/relatedParty/{n}/id" if party.get("id") is not None else f"/relatedParty/{n}/partyOrPartyRole/id"
        problem("bad_id", why, path=where)
    else:
        return pid
    return None


def order_fields(doc: dict, problem) -> dict:
    """The order's fields (`order.FIELD`, and `due_at`, `initial_state` for the engine), but its id.
    (Module-level helpers, not closures: planning reads an order's fields once per order.)"""
    given = doc.get  # (a field not given is None without a call: most orders give few)
    account = _customer_account(doc, problem)
    completion = _date(doc, problem, "requestedCompletionDate") if given("requestedCompletionDate") is not None else None
    return {
        "external_id": _external_id(doc, problem) if given("externalId") is not None else None,
        "category": _text(doc, problem, "category"),
        "priority": _choice(doc, problem, "priority", PRIORITIES),
        "customer_account": account,
        "billing_account": _billing_account(doc, problem) if given("billingAccount") is not None else None,
        "requested_start_date": _date(doc, problem, "requestedStartDate"),
        "requested_completion_date": completion,
        # For the engine, not for rules: the due instant (ms), and draft or not.
        "due_at": due_instant(doc["requestedCompletionDate"]) if completion is not None else None,
        "initial_state": (_choice(doc, problem, "requestedInitialState", INITIAL_STATES) if given("requestedInitialState") is not None else None) or "acknowledged",
    }
