"""om-dsl: an order-management compiler.

The pipeline, one package per stage; data flows one way through it:

    syntax  (grammar, parser, AST with spans)
 -> check   (names, types, graphs, diagnostics)
 -> model, lower, codegen (the compiler), then rules -> planning -> engine
 -> the drivers (embedded, temporal) -> cli

docs/architecture.md says which stage may import which.
"""

__version__ = "0.1.0"
