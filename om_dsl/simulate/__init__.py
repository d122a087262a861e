"""Simulated downstream systems with their own state (`simulators`), and the
same served over HTTP (`server`, `om simulate serve`): test tools."""
