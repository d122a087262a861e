"""A catalog's rules (validation, enrichment, decomposition, plans), shared by
the generated modules and the interpreter: the operations both call (`ops`),
the interpreter over the plan model (`interpreter`), and the loader of
compiled catalogs (`generated`)."""
