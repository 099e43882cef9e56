"""The probe demo: real probes, emulated ECS metadata, an embedded OTLP receiver, all on loopback."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_scale import contract
from otel_scale.emulator.ecs import EcsMetadataEmulator, TaskKind, default_task
from otel_scale.probe_process import ProbeProcess
from otel_scale.sinks.memory import InMemoryTraceSink, ReceivedSpan
from otel_scale.sinks.otlp_http import OtlpHttpReceiver

DEMO_KINDS: tuple[TaskKind, ...] = ("fargate-linux", "fargate-windows", "ec2-linux")


@dataclass
class DemoResult:
    run_id: str
    traces: dict[str, list[ReceivedSpan]] = field(default_factory=dict)  # task id -> its spans
    missing: list[str] = field(default_factory=list)  # task ids whose startup trace did not arrive
    record: dict[str, object] = field(default_factory=dict)  # one probe's GET / answer


def run_probe_demo(timeout_s: float = 30.0, echo: Callable[[str], None] = print) -> DemoResult:
    run_id = f"demo-{secrets.token_hex(4)}"
    sink = InMemoryTraceSink()
    now = time.time_ns()
    tasks = [default_task(kind, now, i) for i, kind in enumerate(DEMO_KINDS)]
    result = DemoResult(run_id)
    with OtlpHttpReceiver(sink.on_traces) as receiver, EcsMetadataEmulator(tasks) as emulator:
        # t0: a real scale.scenario span; each probe's root links to it through TRACEPARENT.
        provider = TracerProvider(
            resource=Resource.create({contract.SERVICE_NAME: "otel-scale", contract.BENCHMARK_RUN_ID: run_id}),
            shutdown_on_exit=False,
        )
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")))
        # The emulated tasks were "asked for" 5 s before the earliest of their pulls began; app.init is real.
        t0_ns = min(t.pull_started_ns or now for t in tasks) - 5_000_000_000
        scenario = provider.get_tracer(contract.SCENARIO_SCOPE_NAME).start_span(
            contract.SPAN_SCENARIO,
            attributes={"scale.platform": "local-demo", "scale.to": len(tasks)},
            start_time=t0_ns,
        )
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(scenario))
        echo(f"run {run_id}: {len(tasks)} probes; metadata emulator {emulator.base_url}")
        echo(f"OTLP receiver {receiver.endpoint}")
        echo(
            "Each probe is a real process reading emulated ECS metadata (pull and start instants as AWS would "
            "publish them, t0 = the emulated scale-out request); its app.init is measured for real."
        )
        probes: list[ProbeProcess] = []
        try:
            for task in tasks:
                env = {
                    "ECS_CONTAINER_METADATA_URI_V4": emulator.uri_for(task),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_RESOURCE_ATTRIBUTES": f"{contract.BENCHMARK_RUN_ID}={run_id}",
                    "TRACEPARENT": carrier["traceparent"],
                }
                probes.append(ProbeProcess(env))
            ports = [p.wait_ready() for p in probes]
            wanted = {t.task_id for t in tasks}

            def arrived(spans: list[ReceivedSpan]) -> bool:
                roots = {s.resource.get(contract.AWS_ECS_TASK_ID) for s in spans if s.name == contract.SPAN_STARTUP}
                return wanted <= roots

            sink.wait_for(arrived, timeout_s)
            with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/", timeout=5) as response:
                result.record = json.loads(response.read())
        finally:
            for probe in probes:
                probe.stop()
            scenario.end()
            provider.shutdown()

    by_trace: dict[str, list[ReceivedSpan]] = {}
    for span in sink.spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    for task in tasks:
        found = next(
            (
                spans
                for spans in by_trace.values()
                if any(
                    s.name == contract.SPAN_STARTUP and s.resource.get(contract.AWS_ECS_TASK_ID) == task.task_id
                    for s in spans
                )
            ),
            None,
        )
        if found is None:
            result.missing.append(task.task_id)
            continue
        result.traces[task.task_id] = found
        echo("")
        echo(format_trace(task.kind, found, t0_ns=t0_ns))
    echo("")
    echo(
        f"GET / of the first probe (the startup record a user can curl):\n{json.dumps(result.record, indent=2)[:1500]}"
    )
    return result


def format_trace(label: str, spans: list[ReceivedSpan], t0_ns: int) -> str:
    """A startup trace as an indented tree with seconds relative to `t0_ns`."""
    root = next(s for s in spans if s.name == contract.SPAN_STARTUP)
    res = root.resource
    lines = [
        f"{label}  {res.get(contract.CLOUD_AVAILABILITY_ZONE, '?')}  {res.get(contract.AWS_ECS_LAUNCHTYPE, '?')}  "
        f"{res.get(contract.OS_TYPE)}/{res.get(contract.HOST_ARCH)}  trace {root.trace_id}"
    ]
    children = sorted((s for s in spans if s.parent_span_id == root.span_id), key=lambda s: s.span.start_time_unix_nano)
    ordered = [root, *children]
    for s in ordered:
        indent = "  " if s is root else "    "
        start = (s.span.start_time_unix_nano - t0_ns) / 1e9
        end = (s.span.end_time_unix_nano - t0_ns) / 1e9
        lines.append(
            f"{indent}{s.name:<{20 - len(indent) + 2}} {start:9.3f} s -> {end:9.3f} s   ({end - start:8.3f} s)"
        )
    status = root.attributes.get(contract.METADATA_STATUS)
    links = len(root.span.links)
    lines.append(f"  metadata: {status}; linked to t0: {'yes' if links else 'no'}")
    return "\n".join(lines)
