"""OTLP encodings: startup plans straight to protobuf, and protobuf to the Collector's OTLP JSON lines.

`add_startup` is the lean path for simulated fleets: the same `StartupPlan` the probe emits through the SDK,
encoded without building SDK spans (10 times faster; one `TracerProvider` per container would be needed for
per-container resources). `request_to_json` writes exactly what the Collector's file exporter writes
(OTLP JSON protobuf encoding: lowercase hex ids, integer enums, 64-bit integers as decimal strings,
lowerCamelCase keys, default values omitted, `"status":{}` for an unset status).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status
from opentelemetry.util.types import AttributeValue

from otel_scale import __version__, contract
from otel_scale.startup import StartupPlan


def set_value(target: AnyValue, value: AttributeValue | Mapping[str, Any]) -> None:
    """Set an OTLP AnyValue from an attribute value (str, bool, int, float, or a sequence of them)."""
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            kv = target.kvlist_value.values.add()
            kv.key = key
            set_value(kv.value, item)
    elif value is not None:
        array = target.array_value
        array.SetInParent()
        for item in value:
            set_value(array.values.add(), item)


def add_attributes(target: Any, attributes: Mapping[str, AttributeValue]) -> None:
    for key, value in attributes.items():
        kv: KeyValue = target.add()
        kv.key = key
        set_value(kv.value, value)


def add_startup(
    request: ExportTraceServiceRequest,
    plan: StartupPlan,
    resource: Mapping[str, AttributeValue],
    trace_id: bytes,
    span_ids: Sequence[bytes],
    link: tuple[bytes, bytes] | None = None,
) -> ResourceSpans:
    """Append one container's startup trace (its own resource) to `request`.

    `span_ids` holds one 8-byte id for the root and one for each phase, in plan order. `link` is the
    (trace id, span id) of the scale run's t0 span.
    """
    resource_spans = request.resource_spans.add()
    add_attributes(resource_spans.resource.attributes, resource)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = contract.SCOPE_NAME
    scope_spans.scope.version = __version__
    root = scope_spans.spans.add()
    root.trace_id = trace_id
    root.span_id = span_ids[0]
    root.name = plan.root.name
    root.kind = Span.SPAN_KIND_INTERNAL
    root.start_time_unix_nano = plan.root.start_ns
    root.end_time_unix_nano = plan.root.end_ns
    add_attributes(root.attributes, plan.root.attributes)
    if link is not None:
        span_link = root.links.add()
        span_link.trace_id, span_link.span_id = link
    description = plan.error_description
    if description is not None:
        root.status.code = Status.STATUS_CODE_ERROR
        root.status.message = description
    for phase, span_id in zip(plan.phases, span_ids[1:], strict=True):
        span = scope_spans.spans.add()
        span.trace_id = trace_id
        span.span_id = span_id
        span.parent_span_id = span_ids[0]
        span.name = phase.name
        span.kind = Span.SPAN_KIND_INTERNAL
        span.start_time_unix_nano = phase.start_ns
        span.end_time_unix_nano = phase.end_ns
        if phase.attributes:
            add_attributes(span.attributes, phase.attributes)
    return resource_spans


# --- protobuf -> OTLP JSON (the Collector file exporter's format) ------------------------------------------


def _value_json(value: AnyValue) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"stringValue": value.string_value}
    if kind == "int_value":
        return {"intValue": str(value.int_value)}
    if kind == "bool_value":
        return {"boolValue": value.bool_value}
    if kind == "double_value":
        return {"doubleValue": value.double_value}
    if kind == "array_value":
        return {"arrayValue": {"values": [_value_json(v) for v in value.array_value.values]}}
    if kind == "kvlist_value":
        return {"kvlistValue": {"values": _attributes_json(value.kvlist_value.values)}}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode()}
    return {}


def _attributes_json(attributes: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _value_json(kv.value)} for kv in attributes]


def _with_attributes(out: dict[str, Any], message: Any) -> dict[str, Any]:
    if len(message.attributes):
        out["attributes"] = _attributes_json(message.attributes)
    if message.dropped_attributes_count:
        out["droppedAttributesCount"] = message.dropped_attributes_count
    return out


def _span_json(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": span.trace_id.hex(), "spanId": span.span_id.hex()}
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id.hex()
    if span.flags:
        out["flags"] = span.flags
    out["name"] = span.name
    if span.kind:
        out["kind"] = span.kind
    if span.start_time_unix_nano:
        out["startTimeUnixNano"] = str(span.start_time_unix_nano)
    if span.end_time_unix_nano:
        out["endTimeUnixNano"] = str(span.end_time_unix_nano)
    _with_attributes(out, span)
    if span.events:
        out["events"] = [
            _with_attributes(
                {"timeUnixNano": str(e.time_unix_nano), "name": e.name} if e.time_unix_nano else {"name": e.name}, e
            )
            for e in span.events
        ]
    if span.dropped_events_count:
        out["droppedEventsCount"] = span.dropped_events_count
    if span.links:
        links = []
        for link in span.links:
            item: dict[str, Any] = {"traceId": link.trace_id.hex(), "spanId": link.span_id.hex()}
            if link.trace_state:
                item["traceState"] = link.trace_state
            _with_attributes(item, link)
            if link.flags:
                item["flags"] = link.flags
            links.append(item)
        out["links"] = links
    if span.dropped_links_count:
        out["droppedLinksCount"] = span.dropped_links_count
    status: dict[str, Any] = {}
    if span.status.message:
        status["message"] = span.status.message
    if span.status.code:
        status["code"] = span.status.code
    out["status"] = status
    return out


def request_to_dict(request: ExportTraceServiceRequest) -> dict[str, Any]:
    resource_spans_out = []
    for resource_spans in request.resource_spans:
        rs: dict[str, Any] = {"resource": _with_attributes({}, resource_spans.resource)}
        scopes = []
        for scope_spans in resource_spans.scope_spans:
            scope: dict[str, Any] = {}
            if scope_spans.scope.name:
                scope["name"] = scope_spans.scope.name
            if scope_spans.scope.version:
                scope["version"] = scope_spans.scope.version
            _with_attributes(scope, scope_spans.scope)
            ss: dict[str, Any] = {"scope": scope, "spans": [_span_json(s) for s in scope_spans.spans]}
            if scope_spans.schema_url:
                ss["schemaUrl"] = scope_spans.schema_url
            scopes.append(ss)
        rs["scopeSpans"] = scopes
        if resource_spans.schema_url:
            rs["schemaUrl"] = resource_spans.schema_url
        resource_spans_out.append(rs)
    return {"resourceSpans": resource_spans_out}


def request_to_json(request: ExportTraceServiceRequest) -> bytes:
    """One line of a Collector file-exporter file (without the trailing newline)."""
    return orjson.dumps(request_to_dict(request))
