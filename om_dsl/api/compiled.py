"""The official request schemas compiled, once, to Python code by
fastjsonschema: is this body valid? The API asks this first, for every order
it takes; only a body it finds invalid goes to jsonschema
(om_dsl/api/schemas.py), the reference, which names the error and its
pointer and has the last word.

jsonschema walks the schema for every body (each `$ref` resolved again, a
validator object per level): about a tenth of the API's CPU per order, where
fastjsonschema's generated code takes a tenth of jsonschema's time. Compiled
with `use_default=False` (a body is never changed) and `use_formats=False`
(formats unchecked, as the API's jsonschema validator leaves them).
tests/test_api_compiled.py checks that both agree on valid, invalid and
randomly broken bodies.
"""

from __future__ import annotations

from typing import Callable, Optional

import fastjsonschema
from jsonschema import Draft7Validator

Check = Callable[[object], bool]


def compile_check(validator: Draft7Validator) -> Optional[Check]:
    """A check that answers as `validator.is_valid` does; None when fastjsonschema cannot compile the schema (jsonschema alone judges)."""
    if validator.format_checker is not None:  # (formats checked: not compiled)
        return None
    try:
        validate = fastjsonschema.compile(validator.schema, use_default=False, use_formats=False)
    except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError, KeyError, OSError):
        return None

    def check(body) -> bool:
        try:
            validate(body)
        except fastjsonschema.JsonSchemaValueException:
            return False
        except (TypeError, ValueError, RecursionError):  # (a body shaped past what its code expects: jsonschema judges it)
            return False
        return True

    return check
