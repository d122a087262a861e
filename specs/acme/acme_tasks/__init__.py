"""Acme's own auto tasks, named in specs/acme/plans_add.om (`python "acme_tasks.numbers:to_e164"`).

The catalog declares this package (`tasks "acme_tasks"` in specs/acme/catalog.om):
`om check` reads it, `om compile` copies it beside the compiled catalog."""
