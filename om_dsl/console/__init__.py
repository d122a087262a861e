"""The operator console: orders, fallout and manual work in a browser
(docs/console.md). A front end beside `api`: server-rendered pages over the
order service, mounted by `om serve` under /console on both engines; a
session from an API token, CSRF on every form."""

from om_dsl.console.app import build
from om_dsl.console.session import Sessions

__all__ = ["build", "Sessions"]
