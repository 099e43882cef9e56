"""The probe: a Flask hello-world that reports its own startup as an OpenTelemetry trace.

Order of events, chosen so that readiness never waits on anything but the app itself:
1. the task metadata is read in a background thread (bounded: 2 s at most);
2. the Flask app is built and its port bound: that instant is "ready";
3. a background thread then waits for the metadata, builds the resource and the startup spans
   (`otel_scale.startup`), and flushes them at once; the app has been serving all along.
SIGTERM/SIGINT stop serving, flush what is pending, and exit within 5 s.

Environment: `PORT` (8080; 0 = any free port), `PROBE_HOST` (127.0.0.1; the images set 0.0.0.0),
`ECS_CONTAINER_METADATA_URI_V4`, `TRACEPARENT`, and the standard `OTEL_*` variables (probe/telemetry.py).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import Future
from types import FrameType
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from werkzeug.serving import BaseWSGIServer, make_server

from otel_scale import __version__, contract
from otel_scale.metadata.ecs import MetadataReading
from otel_scale.metadata.fetch import read_ecs_metadata
from otel_scale.timefmt import format_rfc3339_ns
from probe.clock import process_start_ns

if TYPE_CHECKING:
    from otel_scale.startup import StartupPlan

log = logging.getLogger("otel_scale.probe")

SHUTDOWN_BUDGET_S = 4.5  # SIGTERM -> exit, leaving margin under the 5 s promise


class Probe:
    def __init__(self, process_started_ns: int, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.process_started_ns = process_started_ns
        self.ready_ns: int | None = None
        self._metadata: Future[MetadataReading] = Future()
        self._record_lock = threading.Lock()
        self._record: dict[str, Any] = {
            "service": self.environ.get("OTEL_SERVICE_NAME") or contract.DEFAULT_SERVICE_NAME,
            "probe_version": __version__,
            "ready": False,
            "process_started_at": format_rfc3339_ns(process_started_ns),
            "metadata": {"status": "pending"},
        }
        self._provider: Any = None  # the SDK TracerProvider, once built
        self._stop = threading.Event()

    # --- startup ----------------------------------------------------------------------------------------
    def start_metadata_read(self) -> None:
        def read() -> None:
            try:
                self._metadata.set_result(read_ecs_metadata(self.environ))
            except Exception as exc:  # read_ecs_metadata never raises; belt and braces for a probe
                self._metadata.set_result(MetadataReading.failed(f"reading task metadata failed: {exc!r}"))

        threading.Thread(target=read, name="probe-metadata", daemon=True).start()

    def create_app(self) -> Flask:
        app = Flask("probe")

        @app.get("/")
        def index() -> Any:
            with self._record_lock:
                return jsonify(self._record)

        @app.get("/healthz")
        def healthz() -> Any:
            return ("ok\n", 200, {"Content-Type": "text/plain"})

        # Health checks are not worth a span each; the global (proxy) provider becomes the real one later.
        FlaskInstrumentor().instrument_app(app, excluded_urls="healthz")  # type: ignore[no-untyped-call]
        return app

    def report_startup(self) -> None:
        """Wait for the metadata, then emit and flush the startup trace. Runs after ready, off the hot path."""
        from opentelemetry import trace

        from otel_scale.resource import build_resource
        from otel_scale.startup import emit_startup, link_from_environment, plan_startup
        from probe.telemetry import make_exporter, make_provider

        assert self.ready_ns is not None
        reading = self._metadata.result()
        plan = plan_startup(reading, process_started_ns=self.process_started_ns, ready_ns=self.ready_ns)
        _log_metadata_outcome(reading, plan.problems)
        resource = build_resource(reading)
        provider = make_provider(resource, make_exporter(self.environ))
        self._provider = provider
        trace.set_tracer_provider(provider)
        tracer = provider.get_tracer(contract.SCOPE_NAME, __version__)
        link = link_from_environment(self.environ)
        if self.environ.get("TRACEPARENT") and link is None:
            log.warning("TRACEPARENT=%r is not a valid W3C traceparent; no link to t0", self.environ["TRACEPARENT"])
        root = emit_startup(tracer, plan, link)
        with self._record_lock:
            self._record.update(startup_record(plan, dict(resource.attributes), root.trace_id, root.span_id))
            self._record["metadata"] = {
                "status": plan.metadata_status,
                "problems": list(plan.problems),
                "endpoint": reading.endpoint,
            }
            if link is not None:
                self._record["linked_to"] = {
                    "trace_id": f"{link.trace_id:032x}",
                    "span_id": f"{link.span_id:016x}",
                }
        # Right away, not after the batch delay; a dead collector delays only this thread.
        provider.force_flush()

    # --- run --------------------------------------------------------------------------------------------
    def run(self) -> int:
        self.start_metadata_read()
        app = self.create_app()
        host = self.environ.get("PROBE_HOST", "127.0.0.1")
        try:
            port = int(self.environ.get("PORT", "8080"))
        except ValueError:
            log.error("PORT must be an integer, got %r", self.environ.get("PORT"))
            return 2
        # Bind ourselves (werkzeug would print its own advice and exit): the clear error is ours to give.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            listener = socket.create_server((host, port), family=family, backlog=128)
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
            return 1
        self.ready_ns = time.time_ns()  # the listening socket accepts connections from here on
        server: BaseWSGIServer = make_server(host, port, app, threaded=True, fd=listener.fileno())
        listener.close()  # werkzeug serves on its own duplicate of the descriptor
        with self._record_lock:
            self._record["ready"] = True
            self._record["ready_at"] = format_rfc3339_ns(self.ready_ns)
        log.info("serving on http://%s:%d", host, server.socket.getsockname()[1])

        threading.Thread(target=server.serve_forever, name="probe-http", daemon=True).start()
        reporter = threading.Thread(target=self._report_safely, name="probe-telemetry", daemon=True)
        reporter.start()

        # SIGBREAK: what a Windows console stop (CTRL_BREAK_EVENT) arrives as in Python.
        for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGBREAK", None)):
            if sig is not None:
                signal.signal(sig, self._on_signal)
        self._stop.wait()
        return self._shutdown(server, reporter)

    def _report_safely(self) -> None:
        try:
            self.report_startup()
        except Exception:
            log.exception("could not report the startup trace; the app keeps serving")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: flushing and exiting", signal.Signals(signum).name)
        self._stop.set()

    def _shutdown(self, server: BaseWSGIServer, reporter: threading.Thread) -> int:
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S
        server.shutdown()

        def flush() -> None:
            reporter.join(max(0.0, deadline - time.monotonic() - 0.5))
            if self._provider is not None:
                self._provider.shutdown()  # flushes the batch processor, then closes the exporter

        flusher = threading.Thread(target=flush, name="probe-flush", daemon=True)
        flusher.start()
        flusher.join(max(0.0, deadline - time.monotonic()))
        if flusher.is_alive():
            log.error("the exporter did not finish within %.1f s; unsent spans are lost", SHUTDOWN_BUDGET_S)
            logging.shutdown()
            os._exit(1)  # an exporter stuck in a retry must not hold the container past its stop timeout
        return 0


def _log_metadata_outcome(reading: MetadataReading, problems: tuple[str, ...]) -> None:
    """Say once, clearly, what the task metadata gave."""
    if reading.status == contract.METADATA_ABSENT and not problems:
        log.info("no ECS task metadata (ECS_CONTAINER_METADATA_URI_V4 is unset): app.init starts at process start")
    elif problems:
        log.warning("task metadata problems (startup reported with what was valid): %s", "; ".join(problems))
    else:
        log.info("task metadata read from %s", reading.endpoint)


def startup_record(
    plan: StartupPlan, resource_attributes: dict[str, Any], trace_id: int, span_id: int
) -> dict[str, Any]:
    """The JSON a user gets from `GET /`: the startup's instants, phases and resource."""

    def interval(start_ns: int, end_ns: int) -> dict[str, Any]:
        return {
            "start": format_rfc3339_ns(start_ns),
            "end": format_rfc3339_ns(end_ns),
            "start_unix_nano": start_ns,
            "end_unix_nano": end_ns,
            "seconds": (end_ns - start_ns) / 1e9,
        }

    return {
        "trace_id": f"{trace_id:032x}",
        "root_span_id": f"{span_id:016x}",
        "startup": interval(plan.root.start_ns, plan.root.end_ns),
        "phases": {p.name: interval(p.start_ns, p.end_ns) for p in plan.phases},
        "resource": {k: list(v) if isinstance(v, tuple) else v for k, v in resource_attributes.items()},
    }


def main(imported_ns: int | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("PROBE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s probe %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    fallback = imported_ns if imported_ns is not None else time.time_ns()
    return Probe(process_start_ns(fallback)).run()
