"""The embedded engine: the pure core driven over SQLite on one machine.
The store (WAL, outbox, inbox, migrations), the runner that executes
commands and applies their events, and the clocks."""
