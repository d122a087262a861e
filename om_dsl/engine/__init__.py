"""The orchestration engine: a pure core (`core`), the state it works on
(`state`), and the retry arithmetic (`retry`). Storage, adapters and
threads live outside, in the runner."""
