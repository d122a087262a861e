"""`om lsp`: a language server for .om specs (docs/editor.md).

`analysis` is the editor-independent part (checking a workspace with unsaved
texts over the disk, a symbol index of definitions and references, hover,
completion, symbols); `server` wires it to the Language Server Protocol with
pygls, over stdio.
"""
