"""Read by `om check` (never imported) for the E532 and E533 cases."""


def to_e164(phone_number, country="31"):
    return {"e164": "+" + country + phone_number.lstrip("0")}
