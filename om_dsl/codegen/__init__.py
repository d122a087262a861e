"""Codegen: the plan model -> plan.json and generated Python runtime modules."""

from om_dsl.codegen.emit import generate

__all__ = ["generate"]
