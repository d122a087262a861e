"""om-dsl: an order-management compiler.

The pipeline, one package per stage; data flows one way through it:

    syntax  (grammar, parser, AST with spans)
 -> check   (names, types, graphs, diagnostics)
 -> model, codegen, runtime (later stages)
 -> cli
"""

__version__ = "0.1.0"
