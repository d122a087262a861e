"""The runtime: order intake, the rules (generated or interpreted), decomposition
and per-order planning. Execution of plans comes with the engine."""
