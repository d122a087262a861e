"""Phone numbers, for the voice lines of Acme Fiber (the Netherlands, +31)."""

from __future__ import annotations

import re

COUNTRY = "31"


def to_e164(phone_number: str | None) -> dict:
    """A number as the customer wrote it -> E.164: `020 555 0101` -> `+31205550101`."""
    if phone_number is None:
        raise ValueError("no phone number to normalize")
    digits = re.sub(r"[^\d+]", "", phone_number)
    if digits.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = "+" + digits[2:]
    elif digits.startswith("0"):
        number = "+" + COUNTRY + digits[1:]
    else:
        number = "+" + COUNTRY + digits
    if not re.fullmatch(r"\+\d{8,15}", number):
        raise ValueError(f"{phone_number!r} is not a phone number")
    return {"e164": number}
