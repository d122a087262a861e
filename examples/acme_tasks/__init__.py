"""Acme's own auto tasks, named in specs/acme/plans_add.om (`python "acme_tasks.numbers:to_e164"`).

`om run --tasks-path examples` makes this package importable."""
