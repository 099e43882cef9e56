"""The probe's tracer provider and exporter, configured by the standard `OTEL_*` environment variables.

- `OTEL_TRACES_EXPORTER`: `otlp` (default), `console`, or `none`.
- `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (default) or `grpc`.
- Endpoint, headers, timeout, compression, certificates: the exporters read their own `OTEL_EXPORTER_OTLP_*`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger("otel_scale.probe")

SUPPORTED_PROTOCOLS = ("http/protobuf", "grpc")


def make_exporter(environ: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The span exporter the environment asks for; None when traces are turned off."""
    env = os.environ if environ is None else environ
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if kind != "otlp":
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported by the probe; using otlp", kind)
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol != "http/protobuf":
        log.warning(
            "OTLP protocol %r is not supported by the Python SDK's exporters; using http/protobuf (supported: %s)",
            protocol,
            ", ".join(SUPPORTED_PROTOCOLS),
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()


def make_provider(resource: Resource, exporter: SpanExporter | None) -> TracerProvider:
    # The probe shuts the provider down itself, within its SIGTERM budget; no atexit hook that could hang.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
