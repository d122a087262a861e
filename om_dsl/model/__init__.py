"""The plan model: the compiled, versioned form of a catalog.

check (a CatalogScope) -> `om_dsl.lower` -> `Catalog` -> `plan_json` / `loads`.
The model is the plan artifact only: it imports neither lark nor the checker,
so the engine and the Temporal workers that read it do not carry the front end.
"""

from om_dsl.model.canonical import SchemaError, loads, plan_json, sources_json
from om_dsl.model.catalog import SCHEMA, Catalog, ids

__all__ = ["SCHEMA", "Catalog", "SchemaError", "ids", "loads", "plan_json", "sources_json"]
