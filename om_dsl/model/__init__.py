"""The plan model: the compiled, versioned form of a catalog.

check (a CatalogScope) -> `lower` -> `Catalog` -> `plan_json` / `loads`.
"""

from om_dsl.model.canonical import SchemaError, loads, plan_json, sources_json
from om_dsl.model.catalog import SCHEMA, Catalog, ids
from om_dsl.model.lower import lower

__all__ = ["SCHEMA", "Catalog", "SchemaError", "ids", "loads", "lower", "plan_json", "sources_json"]
