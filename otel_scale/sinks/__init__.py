"""Where spans arrive: the embedded OTLP/HTTP receiver and what it hands them to."""
