"""Kept for catalogs compiled before the runtime was laid out by stage: their
generated modules import `om_dsl.runtime.ops`. Nothing else lives here; new
code imports `om_dsl.rules.ops`."""
