"""Send prebuilt OTLP trace requests over HTTP/protobuf, with retries: how the simulator exports.

Follows the OTLP/HTTP exporter's rules: POST `<endpoint>/v1/traces` (or a full traces URL), retry 429, 502,
503, 504 and connection failures with exponential backoff (honouring `Retry-After`), give up on other 4xx.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
from collections.abc import Mapping

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

RETRYABLE = {429, 502, 503, 504}


class ExportError(RuntimeError):
    """The endpoint refused the spans for good, or did not take them within the retry budget."""


def traces_url(endpoint: str) -> str:
    """A base endpoint gets `/v1/traces` appended (as OTEL_EXPORTER_OTLP_ENDPOINT); a full URL is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


class OtlpHttpSender:
    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        retry_budget_s: float = 60.0,
    ) -> None:
        self.url = urllib.parse.urlsplit(traces_url(endpoint))
        if self.url.scheme not in ("http", "https") or not self.url.hostname:
            raise ValueError(f"not an http(s) OTLP endpoint: {endpoint!r}")
        self.headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        self.timeout_s = timeout_s
        self.retry_budget_s = retry_budget_s
        self._conn: http.client.HTTPConnection | None = None
        self.sent_requests = 0
        self.retries = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self.url.hostname or "", self.url.port, timeout=self.timeout_s)
        return self._conn

    def send(self, request: ExportTraceServiceRequest) -> None:
        body = request.SerializeToString()
        deadline = time.monotonic() + self.retry_budget_s
        delay = 0.1
        path = self.url.path or "/v1/traces"
        while True:
            try:
                conn = self._connection()
                conn.request("POST", path, body=body, headers=self.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                retry_after = response.getheader("Retry-After")
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                status, retry_after, failure = 0, None, f"{type(exc).__name__}: {exc}"
            else:
                failure = f"HTTP {status}"
                if 200 <= status < 300:
                    self.sent_requests += 1
                    return
                if status not in RETRYABLE:
                    raise ExportError(f"{self.url.geturl()} refused {len(body)} bytes of spans: {failure}")
            wait = delay
            if retry_after and retry_after.isdigit():
                wait = max(wait, float(retry_after))
            if time.monotonic() + wait > deadline:
                raise ExportError(
                    f"{self.url.geturl()} did not take the spans within {self.retry_budget_s:.0f} s: {failure}"
                )
            self.retries += 1
            time.sleep(wait)
            delay = min(delay * 2, 5.0)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def parse_headers(text: str) -> dict[str, str]:
    """`OTEL_EXPORTER_OTLP_HEADERS` syntax: comma-separated `key=value`, URL-encoded values."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            headers[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return headers
