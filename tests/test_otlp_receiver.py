"""The embedded OTLP/HTTP receiver: protobuf and JSON per the spec, clear refusals, no collateral damage."""

from __future__ import annotations

import gzip
import http.client
import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_scale.sinks.memory import InMemoryTraceSink
from otel_scale.sinks.otlp_http import OtlpHttpReceiver, decode_json_request

# The shape of a line the Collector's file exporter writes (shared/reference/apis.md section 7).
COLLECTOR_LINE = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
            "scopeSpans": [
                {
                    "scope": {"name": "my.library", "version": "1.0.0"},
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "parentSpanId": "eee19b7ec3c1b173",
                            "name": "I'm a server span",
                            "kind": 2,
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": 1544712661000000000,
                            "attributes": [
                                {"key": "my.span.attr", "value": {"stringValue": "some value"}},
                                {"key": "n", "value": {"intValue": "7"}},
                                {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
                            ],
                            "links": [{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7"}],
                            "status": {},
                        }
                    ],
                }
            ],
        }
    ]
}


def post(
    receiver: OtlpHttpReceiver, body: bytes, headers: dict[str, str], path: str = "/v1/traces"
) -> tuple[int, bytes]:
    host, port = receiver.endpoint.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def protobuf_request() -> bytes:
    return decode_json_request(json.dumps(COLLECTOR_LINE).encode()).SerializeToString()


def test_json_decoding_follows_the_otlp_json_encoding() -> None:
    request = decode_json_request(json.dumps(COLLECTOR_LINE).encode())
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.parent_span_id.hex() == "eee19b7ec3c1b173"
    assert span.kind == 2
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.end_time_unix_nano == 1544712661000000000
    assert span.attributes[1].value.int_value == 7
    assert span.links[0].span_id.hex() == "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("media", "body", "encoding"),
    [
        ("application/x-protobuf", protobuf_request(), None),
        ("application/json", json.dumps(COLLECTOR_LINE).encode(), None),
        ("application/x-protobuf", gzip.compress(protobuf_request()), "gzip"),
        ("application/json; charset=utf-8", gzip.compress(json.dumps(COLLECTOR_LINE).encode()), "gzip"),
    ],
)
def test_accepts_protobuf_and_json(
    receiver: OtlpHttpReceiver, sink: InMemoryTraceSink, media: str, body: bytes, encoding: str | None
) -> None:
    headers = {"Content-Type": media} | ({"Content-Encoding": encoding} if encoding else {})
    status, _ = post(receiver, body, headers)
    assert status == 200
    [span] = sink.spans
    assert span.name == "I'm a server span"
    assert span.resource == {"service.name": "my.service"}
    assert span.attributes == {"my.span.attr": "some value", "n": 7, "tags": ["a"]}


BAD: list[tuple[str, bytes, dict[str, str], int]] = [
    ("garbage protobuf", b"\xff\xff\xff\xff", {"Content-Type": "application/x-protobuf"}, 400),
    ("invalid json", b'{"resourceSpans": [', {"Content-Type": "application/json"}, 400),
    ("json not an object", b"[1, 2]", {"Content-Type": "application/json"}, 400),
    (
        "json base64 ids",
        json.dumps(
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "W47/95gDgQPSabYzgT/GDA=="}]}]}]}
        ).encode(),
        {"Content-Type": "application/json"},
        400,
    ),
    (
        "wrong field type",
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}).encode(),
        {"Content-Type": "application/json"},
        400,
    ),
    (
        "corrupt gzip",
        b"\x1f\x8b\x08\x00nonsense",
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        400,
    ),
    ("unknown encoding", b"x", {"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, 415),
    ("unknown media type", b"x", {"Content-Type": "text/plain"}, 415),
]


@pytest.mark.parametrize(("label", "body", "headers", "status"), BAD, ids=[b[0] for b in BAD])
def test_bad_requests_are_refused_and_others_unaffected(
    receiver: OtlpHttpReceiver,
    sink: InMemoryTraceSink,
    label: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    got, response = post(receiver, body, headers)
    assert got == status, label
    assert json.loads(response)["message"]
    assert post(receiver, protobuf_request(), {"Content-Type": "application/x-protobuf"})[0] == 200
    assert len(sink.spans) == 1
    assert receiver.rejected == 1


def test_oversized_requests_get_413(sink: InMemoryTraceSink) -> None:
    with OtlpHttpReceiver(sink.on_traces, max_body_bytes=1000) as small:
        assert post(small, b"\x00" * 5000, {"Content-Type": "application/x-protobuf"})[0] == 413
        bomb = gzip.compress(b"\x00" * 100_000)  # small on the wire, large decompressed
        assert len(bomb) < 1000
        assert post(small, bomb, {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})[0] == 413
        assert post(small, protobuf_request(), {"Content-Type": "application/x-protobuf"})[0] == 200
    assert len(sink.spans) == 1


def test_other_paths_are_404(receiver: OtlpHttpReceiver) -> None:
    assert post(receiver, b"", {"Content-Type": "application/x-protobuf"}, path="/v1/metrics")[0] == 404


def test_a_failing_handler_is_503_not_a_crash() -> None:
    def broken(request: ExportTraceServiceRequest) -> Any:
        raise OSError("disk full")

    with OtlpHttpReceiver(broken) as receiver:
        assert post(receiver, protobuf_request(), {"Content-Type": "application/x-protobuf"})[0] == 503
