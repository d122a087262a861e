"""Read by `om check` (never imported) for the E522 and E523 cases."""


def to_e164(phone_number, country="31"):
    return {"e164": "+" + country + phone_number.lstrip("0")}
