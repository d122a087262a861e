"""The Temporal engine: each order runs as a Temporal workflow.

The workflow (`workflow.py`) drives the same pure engine core as the
embedded runner: events in, commands out. Commands become activities
(`activities.py`): calls to downstream systems, auto tasks, notifications.
Manual completions, operator actions, amendments and cancellation arrive as
updates, asynchronous callbacks as signals; retries, waits, callback
deadlines and jeopardy are durable timers. `client.py` is what the CLI uses
to start orders and act on them; `worker.py` runs a worker.

Needs the `temporalio` package (the `temporal` extra).
"""

DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "om-orders"
WORKFLOW = "Order"
