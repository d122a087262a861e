"""The TMF622 Product Ordering API over HTTP (`om serve`), a front end beside
`cli/`: a Starlette app under /tmf-api/productOrderingManagement/v4/ and
/v5/ that talks only to an `OrderService` (docs/api.md).

- `auth`: bearer tokens and roles.
- `errors`: TMF Error bodies and the statuses and codes the API answers.
- `schemas`: the official v4 and v5 documents as request validators.
- `resources`: om's orders, cancellations and subscriptions as TMF622 resources.
- `patch`: JSON merge patch (RFC 7386) and JSON Patch (RFC 6902).
- `app`: the routes; `server`: running it with the work loop beside it.
"""
