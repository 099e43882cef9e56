"""The lean OTLP path encodes the same spans as the SDK path, and writes the Collector's exact JSON."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags
from opentelemetry.util.types import AttributeValue

from otel_scale import contract
from otel_scale.metadata.ecs import MetadataReading, parse_task_metadata
from otel_scale.otlp import add_startup, request_to_dict, request_to_json
from otel_scale.sinks.otlp_http import decode_json_request
from otel_scale.startup import emit_startup, plan_startup
from tests.conftest import load_sample

T0 = (bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"), bytes.fromhex("00f067aa0ba902b7"))


def broken_plan() -> Any:
    doc = load_sample("fargate-linux") | {"Revision": 5}
    task, problems = parse_task_metadata(doc, doc["Containers"][0])
    reading = MetadataReading(status="error", task=task, problems=tuple(problems))
    started = task.container.started_ns  # type: ignore[union-attr]
    return plan_startup(reading, process_started_ns=started + 10, ready_ns=started + 731_000_001)  # type: ignore[operator]


def test_lean_path_equals_the_sdk_path() -> None:
    plan = broken_plan()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    link = SpanContext(int.from_bytes(T0[0], "big"), int.from_bytes(T0[1], "big"), True, TraceFlags(1))
    emit_startup(provider.get_tracer(contract.SCOPE_NAME), plan, link)
    sdk = {s.name: s for s in exporter.get_finished_spans()}

    request = ExportTraceServiceRequest()
    add_startup(request, plan, {"service.name": "x"}, b"\x01" * 16, [bytes([i]) * 8 for i in range(1, 5)], T0)
    lean = {s.name: s for s in request.resource_spans[0].scope_spans[0].spans}

    assert set(sdk) == set(lean)
    for name, ours in lean.items():
        theirs = sdk[name]
        assert (ours.start_time_unix_nano, ours.end_time_unix_nano) == (theirs.start_time, theirs.end_time)
        assert {kv.key for kv in ours.attributes} == set(theirs.attributes or {})
        assert ours.status.code == theirs.status.status_code.value
        assert ours.status.message == (theirs.status.description or "")
        assert len(ours.links) == len(theirs.links)
        assert ours.kind - 1 == theirs.kind.value  # OTLP enum = SDK enum + 1
    root = lean[contract.SPAN_STARTUP]
    problems = next(kv for kv in root.attributes if kv.key == contract.METADATA_PROBLEMS)
    sdk_attributes = sdk[contract.SPAN_STARTUP].attributes
    assert sdk_attributes is not None
    assert (
        tuple(v.string_value for v in problems.value.array_value.values) == sdk_attributes[contract.METADATA_PROBLEMS]
    )


def test_json_is_the_collector_file_exporter_encoding() -> None:
    plan = broken_plan()
    request = ExportTraceServiceRequest()
    resource: dict[str, AttributeValue] = {"service.name": "probe", "n": 7, "ratio": 0.5, "ok": True, "tags": ["1.2.3"]}
    add_startup(request, plan, resource, bytes(range(16)), [bytes([i]) * 8 for i in range(1, 5)], T0)
    line = request_to_json(request)
    assert b"\n" not in line
    doc = json.loads(line)
    rs = doc["resourceSpans"][0]
    attrs = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
    assert attrs == {
        "service.name": {"stringValue": "probe"},
        "n": {"intValue": "7"},
        "ratio": {"doubleValue": 0.5},
        "ok": {"boolValue": True},
        "tags": {"arrayValue": {"values": [{"stringValue": "1.2.3"}]}},
    }
    scope = rs["scopeSpans"][0]
    assert scope["scope"] == {"name": "otel_scale.startup", "version": "0.1.0"}
    root, *phases = scope["spans"]
    assert root["traceId"] == "000102030405060708090a0b0c0d0e0f"
    assert root["spanId"] == "0101010101010101"
    assert "parentSpanId" not in root
    assert root["kind"] == 1
    assert root["startTimeUnixNano"] == str(plan.root.start_ns)
    assert root["status"] == {"message": plan.error_description, "code": 2}
    assert root["links"] == [{"traceId": T0[0].hex(), "spanId": T0[1].hex()}]
    assert all(p["parentSpanId"] == "0101010101010101" for p in phases)
    assert all(p["status"] == {} for p in phases)
    # ...and it reads back as the same request.
    assert request_to_dict(decode_json_request(line)) == doc
