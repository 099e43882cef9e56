"""The otel-scale probe: a Flask hello-world that reports its own startup as OpenTelemetry spans."""
