"""An embedded OTLP/HTTP trace receiver: `POST /v1/traces`, protobuf or JSON, optionally gzip-compressed.

Follows the OTLP/HTTP specification: `application/x-protobuf` and `application/json` request bodies (JSON in
OTLP's JSON protobuf encoding: hex ids, integer enums), the response in the request's encoding, 400 for a body
that does not decode, 413 for one over the size limit, 415 for other media types or encodings. A bad request
never affects other requests. Each decoded `ExportTraceServiceRequest` goes to the `on_traces` callback.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import zlib
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otel_scale.httpservice import HTTPService

log = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
DEFAULT_MAX_BODY = 32 * 1024 * 1024  # decompressed bytes; a Collector batch is far smaller

TraceHandler = Callable[[ExportTraceServiceRequest], None]


class BadRequest(ValueError):
    """The body is not an OTLP trace export request."""


def decode_json_request(body: bytes) -> ExportTraceServiceRequest:
    """Decode OTLP JSON (hex trace/span ids, integer or named enums, string or number int64s)."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadRequest("an OTLP JSON request must be a JSON object")
    try:
        for resource_spans in doc.get("resourceSpans") or []:
            for scope_spans in resource_spans.get("scopeSpans") or []:
                for span in scope_spans.get("spans") or []:
                    _hex_ids_to_base64(span, ("traceId", "spanId", "parentSpanId"))
                    for link in span.get("links") or []:
                        _hex_ids_to_base64(link, ("traceId", "spanId"))
        request = ExportTraceServiceRequest()
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, AttributeError, TypeError, ValueError) as exc:
        raise BadRequest(f"not an OTLP trace request: {exc}") from None
    return request


def _hex_ids_to_base64(obj: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = obj.get(key)
        if value:
            try:
                raw = bytes.fromhex(value)
            except (TypeError, ValueError):
                raise BadRequest(f"{key} must be a hex string, got {value!r:.60}") from None
            obj[key] = base64.b64encode(raw).decode()


class OtlpHttpReceiver(HTTPService):
    """Receives OTLP/HTTP traces on `host:port` (port 0 = any free port) until `stop()`; a context manager."""

    thread_name = "otlp-http"

    def __init__(
        self,
        on_traces: TraceHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.on_traces = on_traces
        self.max_body_bytes = max_body_bytes
        self.rejected = 0  # requests answered 4xx/5xx, for completeness reports
        self._count_lock = threading.Lock()
        super().__init__(self._handler_class(), host, port)

    @property
    def endpoint(self) -> str:
        """Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the SDK appends /v1/traces)."""
        return self.base_url

    def _reject(self) -> None:
        with self._count_lock:
            self.rejected += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as exporters expect

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != TRACES_PATH:
                    return self._fail(HTTPStatus.NOT_FOUND, f"only {TRACES_PATH} is served", drain=True)
                media = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
                if media not in ("application/x-protobuf", "application/json"):
                    return self._fail(
                        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {media!r}", drain=True
                    )
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    return self._fail(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required", close=True)
                if length > receiver.max_body_bytes:
                    return self._fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large", close=True)
                body = self.rfile.read(length)
                encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
                try:
                    body = _decompress(body, encoding, receiver.max_body_bytes)
                except _TooLarge:
                    return self._fail(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "decompressed body too large")
                except _Unsupported:
                    return self._fail(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Encoding {encoding!r}")
                except (OSError, EOFError, zlib.error) as exc:
                    return self._fail(HTTPStatus.BAD_REQUEST, f"corrupt {encoding} body: {exc}")
                try:
                    if media == "application/json":
                        request = decode_json_request(body)
                    else:
                        request = ExportTraceServiceRequest()
                        request.ParseFromString(body)
                except (BadRequest, DecodeError) as exc:
                    return self._fail(HTTPStatus.BAD_REQUEST, f"cannot decode OTLP request: {exc}", media=media)
                try:
                    receiver.on_traces(request)
                except Exception:
                    log.exception("trace handler failed")
                    return self._fail(
                        HTTPStatus.SERVICE_UNAVAILABLE, "the receiver could not store the spans", media=media
                    )
                response = ExportTraceServiceResponse()
                if media == "application/json":
                    self._send(HTTPStatus.OK, b"{}", "application/json")
                else:
                    self._send(HTTPStatus.OK, response.SerializeToString(), "application/x-protobuf")

            def _fail(
                self,
                status: int,
                message: str,
                *,
                media: str = "application/json",
                drain: bool = False,
                close: bool = False,
            ) -> None:
                receiver._reject()
                if drain:  # read the body so the connection stays usable
                    try:
                        length = int(self.headers.get("Content-Length", "0"))
                    except ValueError:
                        length, close = 0, True
                    if length > receiver.max_body_bytes:
                        close = True
                    else:
                        self.rfile.read(length)
                if close:
                    self.close_connection = True
                # google.rpc.Status as the OTLP spec asks, JSON-encoded (a protobuf client ignores the body).
                body = json.dumps({"code": 3 if status == 400 else 0, "message": message}).encode()
                self._send(status, body, "application/json", close=close)

            def _send(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class _TooLarge(Exception):
    pass


class _Unsupported(Exception):
    pass


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    else:
        raise _Unsupported(encoding)
    out = decoder.decompress(body, limit + 1)
    if len(out) > limit:
        raise _TooLarge()
    if not decoder.eof:
        raise EOFError("truncated compressed body")
    return out


__all__ = ["BadRequest", "OtlpHttpReceiver", "decode_json_request"]
