"""The embedded store: one SQLite file per deployment, split by concern.

Every state change of an order commits in one transaction with the history
it records and the commands it produces (the outbox), so a crash can never
separate them. The database itself (opening, the om mark, errors,
migrations) is database.py and schema.py; each other module holds the
queries of one concern, and Store is all of them over one connection. No
SQL of the store's tables lives outside this package."""

from __future__ import annotations

from om_dsl.embedded.store.assets import Assets, StoreInstalledBase
from om_dsl.embedded.store.database import (
    APPLICATION_ID,
    DB_ENV,
    DEFAULT_DB,
    MAX_PAGES_ENV,
    Database,
    StoreDamaged,
    StoreError,
    StoreUnwritable,
    check_location,
    default_path,
    store_error,
)
from om_dsl.embedded.store.hub import Hub
from om_dsl.embedded.store.inbox import Inbox
from om_dsl.embedded.store.meta import Meta
from om_dsl.embedded.store.orders import Orders
from om_dsl.embedded.store.outbox import Outbox
from om_dsl.embedded.store.schema import MIGRATIONS
from om_dsl.embedded.store.stats import Stats
from om_dsl.embedded.store.systems import Systems
from om_dsl.embedded.store.tasks import Tasks
from om_dsl.embedded.store.waits import Waits


class Store(Database, Meta, Orders, Tasks, Outbox, Inbox, Hub, Systems, Assets, Waits, Stats):
    """One om database and every query om makes of it."""


__all__ = [
    "APPLICATION_ID", "DB_ENV", "DEFAULT_DB", "MAX_PAGES_ENV", "MIGRATIONS",
    "Store", "StoreDamaged", "StoreError", "StoreInstalledBase", "StoreUnwritable",
    "check_location", "default_path", "store_error",
]
