"""The schema of the embedded store: each migration, in order."""

from __future__ import annotations

import re

# Each migration takes the schema from version N-1 to N, as a list of
# statements. Never edit one that has shipped: add the next.
MIGRATIONS = [
    [
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE catalog_versions (
            sha TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            plan_json TEXT NOT NULL,
            sources_json TEXT,
            first_used_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            catalog_sha TEXT REFERENCES catalog_versions(sha),
            status TEXT NOT NULL,
            customer TEXT,
            external_id TEXT,
            document TEXT NOT NULL,
            state TEXT,
            problems TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE tasks (
            order_id TEXT NOT NULL REFERENCES orders(id),
            item_id TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            product TEXT NOT NULL,
            status TEXT NOT NULL,
            queue TEXT,
            attempts INTEGER NOT NULL,
            next_at INTEGER,
            call_key TEXT,
            PRIMARY KEY (order_id, item_id)
        )
        """,
        """
        CREATE INDEX tasks_by_status ON tasks(status, queue)
        """,
        """
        CREATE INDEX tasks_by_key ON tasks(call_key)
        """,
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id TEXT NOT NULL REFERENCES orders(id),
            at INTEGER NOT NULL,
            subject TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT,
            cause TEXT NOT NULL
        )
        """,
        """
        CREATE INDEX events_by_order ON events(order_id, seq)
        """,
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id TEXT NOT NULL REFERENCES orders(id),
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            done_at INTEGER
        )
        """,
        """
        CREATE INDEX outbox_pending ON outbox(done, seq)
        """,
        """
        CREATE TABLE assets (
            id TEXT PRIMARY KEY,
            customer TEXT,
            product TEXT NOT NULL,
            attributes TEXT NOT NULL,
            parent TEXT,
            order_id TEXT NOT NULL REFERENCES orders(id),
            item_id TEXT NOT NULL,
            status TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE inventory (
            id TEXT PRIMARY KEY,
            customer TEXT,
            asset_id TEXT,
            product TEXT NOT NULL,
            attributes TEXT NOT NULL,
            outputs TEXT NOT NULL,
            order_id TEXT NOT NULL REFERENCES orders(id),
            line TEXT NOT NULL,
            status TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
    ],
    [
        # Jeopardy and wake-up times; offline systems; the hub of listeners,
        # deliveries of order events to them; callbacks received.
        "ALTER TABLE tasks ADD COLUMN wake_at INTEGER",
        "ALTER TABLE tasks ADD COLUMN jeopardy TEXT",
        "ALTER TABLE tasks ADD COLUMN system TEXT",
        "CREATE INDEX tasks_by_wake ON tasks(wake_at)",
        "ALTER TABLE orders ADD COLUMN jeopardy TEXT",
        """
        CREATE TABLE systems (
            name TEXT PRIMARY KEY,
            offline INTEGER NOT NULL,
            changed_at INTEGER NOT NULL,
            changed_by TEXT
        )
        """,
        """
        CREATE TABLE hub (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            callback TEXT NOT NULL UNIQUE,
            registered_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL,
            order_id TEXT NOT NULL REFERENCES orders(id),
            listener TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try_at INTEGER NOT NULL,
            last_error TEXT,
            delivered_at INTEGER,
            UNIQUE (event_id, listener)
        )
        """,
        "CREATE INDEX deliveries_pending ON deliveries(status, next_try_at)",
        """
        CREATE TABLE inbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            callback_id TEXT NOT NULL UNIQUE,
            correlation_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            times INTEGER NOT NULL DEFAULT 1,
            applied INTEGER NOT NULL DEFAULT 0
        )
        """,
    ],
    [
        # Lines are known across orders by a stable key; assets end.
        "ALTER TABLE inventory ADD COLUMN line_key TEXT",
        "ALTER TABLE inventory ADD COLUMN source_asset TEXT",
        "ALTER TABLE inventory ADD COLUMN rule TEXT",
        "CREATE INDEX inventory_by_asset ON inventory(source_asset, status)",
        "CREATE INDEX inventory_by_key ON inventory(line_key)",
        "CREATE INDEX assets_by_parent ON assets(parent, status)",
    ],
    [
        # Every revision of an order (supplemental orders), applied or refused.
        """
        CREATE TABLE revisions (
            order_id TEXT NOT NULL REFERENCES orders(id),
            revision INTEGER NOT NULL,
            document TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            by TEXT,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (order_id, revision)
        )
        """,
    ],
    [
        # The installed assets an order changes, " A B ": one change in flight per asset.
        "ALTER TABLE orders ADD COLUMN changes TEXT",
    ],
    [
        # The tasks table indexes each order's tasks: before this version a
        # task an amendment dropped kept its row (a manual task stayed open, a
        # timer kept waking its order). Rows of tasks the state no longer has go.
        "DELETE FROM tasks WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = tasks.order_id AND json_type(o.state, '$.tasks.' || json_quote(tasks.item_id)) IS NOT NULL)",
    ],
    [
        # 7: an order's state in parts, so that an event writes what it changed:
        # a row per part, "head" (the order's scalars), "t:" + a task id,
        # "l:" + a line id; `orders.state` keeps the fields, the items and the
        # plan order of tasks and lines ({"format": 2, ...}). An order written
        # before keeps its whole state in `orders.state` until its next event.
        # (IF NOT EXISTS: a database marked older than it is may run it again.)
        """
        CREATE TABLE IF NOT EXISTS order_state (
            order_id TEXT NOT NULL REFERENCES orders(id),
            part TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (order_id, part)
        )
        """,
    ],
    [
        # 8: orders waiting for other orders (engine/waits.py): who waits for whom,
        # for which milestones (a JSON list; empty: its completion), and the
        # last event of the other order the waiting one has heard of.
        """
        CREATE TABLE IF NOT EXISTS waits (
            order_id TEXT NOT NULL REFERENCES orders(id),
            other TEXT NOT NULL,
            milestones TEXT NOT NULL DEFAULT '[]',
            seen_seq INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (order_id, other)
        )
        """,
        "CREATE INDEX IF NOT EXISTS waits_by_other ON waits(other)",
    ],
    [
        # 9: the TMF622 API: who submitted an order (a submitter
        # token sees its own); hub subscriptions with a query and an owner
        # (a subscription's id is the hub's row id); cancellation requests.
        "ALTER TABLE orders ADD COLUMN submitted_by TEXT",
        "ALTER TABLE hub ADD COLUMN query TEXT",
        "ALTER TABLE hub ADD COLUMN owner TEXT",
        """
        CREATE TABLE cancellations (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(id),
            state TEXT NOT NULL,
            reason TEXT,
            by TEXT NOT NULL,
            message TEXT,
            requested_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX cancellations_by_order ON cancellations(order_id)",
    ],
]

# The oldest schema a command that only reads opens as it is: the migrations
# after it add only what the rows written before them do not use (7: the
# order_state table, read only for orders written in parts; 8: the waits
# table, read only by the runner). 9's columns (submitted_by, the hub's query
# and owner) are read by every listing, so a database older than 9 is brought
# up to date by a command that writes first.
READABLE_FROM = 9

# Every table of the current schema (a missing one means a damaged database).
_TABLES = {"schema_version"} | {m[1] for step in MIGRATIONS for statement in step for m in [re.match(r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", statement)] if m}
