"""I/O to downstream systems for both engines: the deployment's configuration
(`om.toml`), adapters (HTTP, Python auto tasks, simulators), the HTTP client,
the callback receiver with its tokens, and the bounded HTTP server it runs on."""
