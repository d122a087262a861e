"""`om_dsl.rules.ops` under its old name, for catalogs compiled before the move:
this module is that one (every name, private ones too)."""

import sys

from om_dsl.rules import ops

sys.modules[__name__] = ops
