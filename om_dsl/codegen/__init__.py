"""Codegen: the plan model -> plan.json and generated Python runtime modules."""


def generate(catalog):
    """Every file of one compiled catalog: {path relative to its folder: text} (codegen.emit.generate).
    The code generator (Jinja2 and its templates) is loaded on first use: a compile whose
    catalogs are all found in the compile cache never loads it."""
    from om_dsl.codegen.emit import generate as generate_

    return generate_(catalog)


__all__ = ["generate"]
