"""`python -m probe` as a real process against the metadata emulator and real OTLP receivers."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otel_scale import contract as c
from otel_scale.emulator.ecs import EcsMetadataEmulator, EmulatedTask, Fault, TaskKind, default_task
from otel_scale.probe_process import ProbeProcess
from otel_scale.sinks.memory import InMemoryTraceSink, ReceivedSpan
from otel_scale.sinks.otlp_http import OtlpHttpReceiver

pytestmark = pytest.mark.slow

T0_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
T0_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{T0_TRACE}-{T0_SPAN}-01"


def probe_env(receiver_endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_endpoint,
        "OTEL_RESOURCE_ATTRIBUTES": "benchmark.run.id=run-e2e,benchmark.capacity_type=spot",
        "OTEL_BSP_SCHEDULE_DELAY": "5000",
        **extra,
    }


def startup_spans(
    sink: InMemoryTraceSink, marker: tuple[str, str], expected: int, timeout: float = 15
) -> list[ReceivedSpan]:
    key, value = marker

    def mine(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if s.resource.get(key) == value and s.scope_name == c.SCOPE_NAME]

    assert sink.wait_for(lambda spans: len(mine(spans)) >= expected, timeout), [s.name for s in sink.spans]
    return mine(sink.spans)


def get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read()


def by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    named = {s.name: s for s in spans}
    assert len(named) == len(spans), "duplicate span names"
    return named


@pytest.mark.parametrize("kind", ["fargate-linux", "fargate-windows", "ec2-linux"])
def test_startup_trace_matches_the_metadata_exactly(
    emulator: EcsMetadataEmulator, receiver: OtlpHttpReceiver, sink: InMemoryTraceSink, kind: TaskKind
) -> None:
    task = default_task(kind, time.time_ns())
    # Odd fractions: every nanosecond digit must survive metadata -> spans -> OTLP.
    task.pull_started_ns = (task.pull_started_ns or 0) + 123_457
    task.started_ns = (task.started_ns or 0) + 1
    env = probe_env(receiver.endpoint, ECS_CONTAINER_METADATA_URI_V4=emulator.add(task), TRACEPARENT=TRACEPARENT)
    with ProbeProcess(env) as probe:
        port = probe.wait_ready()
        assert get(port, "/healthz") == (200, b"ok\n")
        spans = by_name(startup_spans(sink, (c.AWS_ECS_TASK_ID, task.task_id), 4))
        status, body = get(port, "/")
        record = json.loads(body)
        assert probe.stop() == 0

    assert set(spans) == {c.SPAN_STARTUP, c.SPAN_IMAGE_PULL, c.SPAN_CONTAINER_START, c.SPAN_APP_INIT}
    root, pull, start, init = (
        spans[n] for n in (c.SPAN_STARTUP, c.SPAN_IMAGE_PULL, c.SPAN_CONTAINER_START, c.SPAN_APP_INIT)
    )
    # One trace per container; the phases are the root's children; the root links (not parents) to t0.
    assert len({s.trace_id for s in spans.values()}) == 1
    assert root.trace_id != T0_TRACE
    assert root.parent_span_id == ""
    assert {s.parent_span_id for s in (pull, start, init)} == {root.span_id}
    assert [(link.trace_id.hex(), link.span_id.hex()) for link in root.span.links] == [(T0_TRACE, T0_SPAN)]
    assert all(s.span.kind == Span.SPAN_KIND_INTERNAL for s in spans.values())
    # Exact instants, to the nanosecond.
    assert (pull.span.start_time_unix_nano, pull.span.end_time_unix_nano) == (
        task.pull_started_ns,
        task.pull_stopped_ns,
    )
    assert (start.span.start_time_unix_nano, start.span.end_time_unix_nano) == (
        task.pull_stopped_ns,
        task.started_ns,
    )
    assert init.span.start_time_unix_nano == task.started_ns
    assert root.span.start_time_unix_nano == task.pull_started_ns
    assert root.span.end_time_unix_nano == init.span.end_time_unix_nano
    assert root.span.status.code == Status.STATUS_CODE_UNSET
    # Attributes.
    attrs = root.attributes
    assert attrs[c.METADATA_STATUS] == "ok"
    assert attrs[c.APP_INIT_START_SOURCE] == "container"
    assert (c.CLOCK_ERROR_BOUND_MS in attrs) == (kind != "fargate-windows")
    res = root.resource
    assert res[c.SERVICE_NAME] == "otel-scale-probe"
    assert res[c.BENCHMARK_RUN_ID] == "run-e2e"
    assert res[c.BENCHMARK_CAPACITY_TYPE] == "spot"
    assert res[c.CLOUD_AVAILABILITY_ZONE] == task.availability_zone
    assert res[c.AWS_ECS_LAUNCHTYPE] == ("ec2" if kind == "ec2-linux" else "fargate")
    assert res[c.AWS_ECS_TASK_ARN] == task.task_arn
    assert res[c.CONTAINER_ID] == task.docker_id
    assert res[c.CONTAINER_IMAGE_TAGS] == ["1.0.0"]
    assert res[c.HOST_ARCH] in {"amd64", "arm64"}
    assert res[c.OS_TYPE] == "linux"
    # The record a user can curl agrees with the trace.
    assert status == 200
    assert record["trace_id"] == root.trace_id
    assert record["metadata"]["status"] == "ok"
    assert record["phases"][c.SPAN_IMAGE_PULL]["start_unix_nano"] == task.pull_started_ns
    assert record["linked_to"] == {"trace_id": T0_TRACE, "span_id": T0_SPAN}


def test_without_metadata_app_init_starts_at_process_start(receiver: OtlpHttpReceiver, sink: InMemoryTraceSink) -> None:
    before = time.time_ns()
    with ProbeProcess(probe_env(receiver.endpoint, OTEL_SERVICE_NAME="bare-probe")) as probe:
        probe.wait_ready()
        spans = by_name(startup_spans(sink, (c.SERVICE_NAME, "bare-probe"), 2))
    after = time.time_ns()
    assert set(spans) == {c.SPAN_STARTUP, c.SPAN_APP_INIT}
    root, init = spans[c.SPAN_STARTUP], spans[c.SPAN_APP_INIT]
    assert before - 50_000_000 <= init.span.start_time_unix_nano < init.span.end_time_unix_nano <= after
    assert root.attributes[c.METADATA_STATUS] == "absent"
    assert root.attributes[c.APP_INIT_START_SOURCE] == "process"
    assert root.span.status.code == Status.STATUS_CODE_UNSET
    assert c.CLOUD_PROVIDER not in root.resource
    assert "no ECS task metadata" in probe.output


BROKEN: dict[str, tuple[EmulatedTask, set[str], str]] = {
    "http-500": (EmulatedTask(fault=Fault(status=500)), {c.SPAN_APP_INIT}, "did not answer in time"),
    "http-404": (
        EmulatedTask(fault=Fault(status=404, body=b"404 page not found\n")),
        {c.SPAN_APP_INIT},
        "HTTP 404",
    ),
    "invalid-json": (EmulatedTask(fault=Fault(body=b"{'not': json")), {c.SPAN_APP_INIT}, "invalid JSON"),
    "timeout": (EmulatedTask(fault=Fault(delay_s=3.0)), {c.SPAN_APP_INIT}, "did not answer in time"),
    "wrong-types": (
        EmulatedTask(document_patch={"Revision": 3, "AvailabilityZone": 1, "PullStartedAt": "2024-01-01T00:00:00Z"}),
        {c.SPAN_APP_INIT},
        "'Revision' should be a string",
    ),
    "pull-reversed": (
        EmulatedTask(pull_started_ns=2_000_000_000, pull_stopped_ns=1_000_000_000, started_ns=3_000_000_000),
        {c.SPAN_APP_INIT},
        "is before 'PullStartedAt'",
    ),
    "missing-fields": (
        EmulatedTask(document_patch={"TaskARN": None, "PullStoppedAt": None}),
        {c.SPAN_APP_INIT},
        "'TaskARN' is missing",
    ),
    "own-document-unavailable": (
        EmulatedTask(
            pull_started_ns=1_000_000_000,
            pull_stopped_ns=2_000_000_000,
            started_ns=3_000_000_000,
            fault=Fault(status=404, body=b"404 page not found\n", paths=frozenset({""})),
        ),
        {c.SPAN_IMAGE_PULL, c.SPAN_CONTAINER_START, c.SPAN_APP_INIT},
        "answered HTTP 404",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_metadata_leaves_the_app_serving_and_says_why(
    emulator: EcsMetadataEmulator, receiver: OtlpHttpReceiver, sink: InMemoryTraceSink, case: str
) -> None:
    task, expected_spans, expected_problem = BROKEN[case]
    service = f"broken-{case}"
    env = probe_env(receiver.endpoint, ECS_CONTAINER_METADATA_URI_V4=emulator.add(task), OTEL_SERVICE_NAME=service)
    with ProbeProcess(env) as probe:
        port = probe.wait_ready()
        assert get(port, "/healthz")[0] == 200  # serving before/regardless of the metadata
        spans = by_name(startup_spans(sink, (c.SERVICE_NAME, service), 1 + len(expected_spans)))
        record = json.loads(get(port, "/")[1])
        assert probe.stop() == 0
    assert set(spans) == {c.SPAN_STARTUP} | expected_spans
    root = spans[c.SPAN_STARTUP]
    assert root.span.status.code == Status.STATUS_CODE_ERROR
    problems = root.attributes[c.METADATA_PROBLEMS]
    assert root.span.status.message.startswith(f"task metadata error: {problems[0]}")
    assert root.attributes[c.METADATA_STATUS] == "error"
    assert any(expected_problem in p for p in problems), problems
    assert record["metadata"]["status"] == "error"
    warnings = [line for line in probe.lines if "task metadata problems" in line]
    assert len(warnings) == 1 and expected_problem in warnings[0]  # said once, clearly
    assert "Traceback" not in probe.output


def test_sigterm_flushes_pending_request_spans(receiver: OtlpHttpReceiver, sink: InMemoryTraceSink) -> None:
    env = probe_env(receiver.endpoint, OTEL_SERVICE_NAME="flush-probe", OTEL_BSP_SCHEDULE_DELAY="60000")
    with ProbeProcess(env) as probe:
        port = probe.wait_ready()
        startup_spans(sink, (c.SERVICE_NAME, "flush-probe"), 2)
        assert get(port, "/")[0] == 200  # its span waits in the batch processor (60 s delay)
        began = time.monotonic()
        code = probe.stop()
        elapsed = time.monotonic() - began
    assert code == 0
    assert elapsed < 5.0
    request_spans = [s for s in sink.spans if s.resource.get(c.SERVICE_NAME) == "flush-probe" and s.name == "GET /"]
    assert len(request_spans) == 1
    assert request_spans[0].span.kind == Span.SPAN_KIND_SERVER


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP server that accepts connections and never answers: an exporter's worst case."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_readiness_and_sigterm_do_not_wait_on_a_hung_collector(black_hole: int) -> None:
    env = probe_env(f"http://127.0.0.1:{black_hole}", OTEL_EXPORTER_OTLP_TIMEOUT="30000")
    with ProbeProcess(env) as probe:
        port = probe.wait_ready(timeout=10)
        assert get(port, "/healthz")[0] == 200
        time.sleep(0.5)  # the startup export is now stuck on the black hole
        began = time.monotonic()
        probe.stop(timeout=10)
        elapsed = time.monotonic() - began
    assert elapsed < 5.0
    assert "did not finish within" in probe.output


def test_port_in_use_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with ProbeProcess({"PORT": str(port), "OTEL_TRACES_EXPORTER": "none"}) as probe:
            code = probe.popen.wait(timeout=15)
    probe.stop()
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in probe.output
    assert "Traceback" not in probe.output


class _GrpcTraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: InMemoryTraceSink, metadata: list[Any]) -> None:
        self.sink = sink
        self.metadata = metadata

    def Export(self, request: Any, context: Any) -> Any:
        self.metadata.append(dict(context.invocation_metadata()))
        self.sink.on_traces(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_grpc_export_when_asked(emulator: EcsMetadataEmulator, sink: InMemoryTraceSink) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metadata: list[Any] = []
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_GrpcTraceService(sink, metadata), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        task = default_task("fargate-linux", time.time_ns())
        env = {
            "ECS_CONTAINER_METADATA_URI_V4": emulator.add(task),
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-bench=1",
        }
        with ProbeProcess(env) as probe:
            probe.wait_ready()
            spans = by_name(startup_spans(sink, (c.AWS_ECS_TASK_ID, task.task_id), 4))
            assert probe.stop() == 0
    finally:
        server.stop(grace=None)
    assert spans[c.SPAN_IMAGE_PULL].span.start_time_unix_nano == task.pull_started_ns
    assert metadata[0]["x-bench"] == "1"
