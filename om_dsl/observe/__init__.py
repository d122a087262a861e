"""What the operations team watches: call statistics, Prometheus metrics and
OpenTelemetry traces, for both engines (docs/metrics.md)."""
