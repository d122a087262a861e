"""Planning, pure: a TMF622 order document -> a planned order.

intake (read and check the order) -> the catalog's rules -> decompose into
fulfillment requests and lines -> tasks (instantiate the orchestration plan)
-> pipeline (the whole, `plan_order`); the installed base's rules
(`installed`), the keys and ids derived from orders (`keys`), and what
`om plan` prints (`report`). No I/O."""
