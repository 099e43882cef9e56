"""A scale run: ask a platform for more containers, record t0, collect every container's startup trace.

`run_scale(scenario)` is the library call behind `otel-scale run` and the pytest plugin. It
1. validates the scenario and prepares the platform (baseline containers, planned timeline);
2. starts the sink: by default an embedded OTLP/HTTP receiver writing the run directory in the Collector
   file exporter's format; with `otlp_endpoint`, the containers export there instead;
3. opens the `scale.scenario` span at t0 and starts the platform, its containers linking to that span;
4. waits until every container is ready and its trace arrived (or the platform gives up, or a timeout);
5. tears everything down, also on Ctrl-C or failure, and writes `run.json` with what arrived and what is missing.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import secrets
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_scale import __version__, contract
from otel_scale.curve import time_to_fraction
from otel_scale.platforms import PLATFORMS, make_platform
from otel_scale.platforms.base import Observation, Platform, RunContext
from otel_scale.profiles import load_profile
from otel_scale.sinks.files import SpanFileWriter, Tally
from otel_scale.sinks.otlp_http import OtlpHttpReceiver
from otel_scale.sinks.sender import traces_url
from otel_scale.timefmt import format_rfc3339_ns

RUN_FILE = "run.json"
MAX_CONTAINERS = {"sim": 1_000_000, "local": 2_000}


class ScenarioError(ValueError):
    """A scenario that cannot run; the message says why, before anything was started."""


@dataclass(frozen=True)
class Scenario:
    platform: str
    profile: str
    from_count: int
    to_count: int
    seed: int = 0
    speed: float | None = None  # virtual seconds per real second; None = as fast as possible

    def validate(self) -> None:
        if self.platform not in PLATFORMS:
            raise ScenarioError(f"unknown platform {self.platform!r}; choose one of {', '.join(PLATFORMS)}")
        if self.from_count < 0 or self.to_count < 0:
            raise ScenarioError(f"container counts cannot be negative (from {self.from_count} to {self.to_count})")
        if self.to_count <= self.from_count:
            raise ScenarioError(
                f"--to ({self.to_count}) must be greater than --from ({self.from_count}): a run scales out"
            )
        limit = MAX_CONTAINERS[self.platform]
        if self.to_count > limit:
            raise ScenarioError(f"--to {self.to_count} is more than the {self.platform} platform takes ({limit:,})")
        if self.speed is not None and not self.speed > 0:
            raise ScenarioError(f"--speed must be positive or 'max', got {self.speed}")

    @property
    def expected(self) -> int:
        return self.to_count - self.from_count


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    status: str  # complete | incomplete | interrupted | failed
    expected: int
    received: int | None  # startup traces received; None when they went to an external endpoint
    missing: list[str] = field(default_factory=list)
    t0_ns: int = 0
    ready_offsets_s: list[float] = field(default_factory=list)  # per received container: ready - t0
    wall_s: float = 0.0
    failed_launches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def headline(self) -> dict[str, float | int | None]:
        """Time to first/50/90/99/100 % of the expected containers and the mean launch rate, in seconds."""
        offsets = sorted(self.ready_offsets_s)
        return {
            "expected": self.expected,
            "received": self.received,
            "time_to_first_s": offsets[0] if offsets else None,
            "time_to_50pct_s": time_to_fraction(offsets, self.expected, 0.5),
            "time_to_90pct_s": time_to_fraction(offsets, self.expected, 0.9),
            "time_to_99pct_s": time_to_fraction(offsets, self.expected, 0.99),
            "time_to_100pct_s": time_to_fraction(offsets, self.expected, 1.0),
            "containers_per_s": (len(offsets) / offsets[-1]) if offsets and offsets[-1] > 0 else None,
        }


ProgressCallback = Callable[[Observation, "Tally | None"], None]


def new_run_id(scenario: Scenario) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        f"{scenario.platform}-{scenario.profile.replace('/', '_').removesuffix('.toml')}-{stamp}-{secrets.token_hex(2)}"
    )


def prepare_run_dir(out_dir: Path, run_id: str) -> Path:
    run_dir = out_dir / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ScenarioError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
    return run_dir


def _versions() -> dict[str, str | None]:
    """Versions of what produced the run, for comparing runs made months apart."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": sys.version.split()[0], "otel-scale": __version__}
    for package in ("opentelemetry-sdk", "opentelemetry-proto", "flask"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def write_run_file(run_dir: Path, doc: Mapping[str, Any]) -> None:
    tmp = run_dir / f".{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    os.replace(tmp, run_dir / RUN_FILE)  # never a half-written run.json


def run_scale(
    scenario: Scenario,
    out_dir: Path = Path("runs"),
    *,
    otlp_endpoint: str | None = None,
    otlp_headers: Mapping[str, str] | None = None,
    listen: tuple[str, int] = ("127.0.0.1", 0),
    progress: ProgressCallback | None = None,
    arrival_timeout_s: float = 60.0,
    platform_options: Mapping[str, Any] | None = None,
) -> RunResult:
    scenario.validate()
    try:
        profile = load_profile(scenario.profile)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    run_id = new_run_id(scenario)
    run_dir = prepare_run_dir(out_dir, run_id)
    platform: Platform = make_platform(
        scenario.platform, profile=profile, seed=scenario.seed, speed=scenario.speed, **(platform_options or {})
    )
    doc: dict[str, Any] = {
        "run_id": run_id,
        "status": "preparing",
        "scenario": asdict(scenario) | {"expected_containers": scenario.expected},
        "otel_scale_version": __version__,
        "versions": _versions(),
        "host": {
            "hostname": socket.gethostname(),
            "python": sys.version.split()[0],
            "os": host_platform.platform(),
            "cpus": os.cpu_count(),
        },
        "started_at": format_rfc3339_ns(time.time_ns()),
    }
    write_run_file(run_dir, doc)

    writer: SpanFileWriter | None = None
    receiver: OtlpHttpReceiver | None = None
    provider: TracerProvider | None = None
    scenario_span: trace.Span | None = None
    result = RunResult(run_id=run_id, run_dir=run_dir, status="failed", expected=scenario.expected, received=None)
    began = time.monotonic()
    virtual_end_ns: int | None = None
    try:
        if otlp_endpoint is None:
            writer = SpanFileWriter(run_dir, run_id)
            try:
                receiver = OtlpHttpReceiver(writer.on_traces, host=listen[0], port=listen[1]).start()
            except OSError as exc:
                raise ScenarioError(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror or exc}") from None
            endpoint, headers = receiver.endpoint, {}
        else:
            endpoint, headers = otlp_endpoint, dict(otlp_headers or {})

        duration_s = platform.prepare(scenario.from_count, scenario.to_count)
        t0_ns = platform.t0_ns(time.time_ns())
        if duration_s is not None:
            virtual_end_ns = t0_ns + int(duration_s * 1e9)
        resource_attributes = {contract.BENCHMARK_RUN_ID: run_id, contract.BENCHMARK_PLATFORM: scenario.platform}
        provider = TracerProvider(
            resource=Resource.create({contract.SERVICE_NAME: contract.SCENARIO_SERVICE_NAME, **resource_attributes}),
            shutdown_on_exit=False,
        )
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint), headers=headers))
        )
        scenario_span = provider.get_tracer(contract.SCENARIO_SCOPE_NAME, __version__).start_span(
            contract.SPAN_SCENARIO,
            start_time=t0_ns,
            attributes={
                contract.SCALE_PLATFORM: scenario.platform,
                contract.SCALE_PROFILE: profile.name,
                contract.SCALE_FROM: scenario.from_count,
                contract.SCALE_TO: scenario.to_count,
                contract.SCALE_EXPECTED: scenario.expected,
                contract.SCALE_SEED: scenario.seed,
                contract.SCALE_SPEED: scenario.speed or 0.0,
            },
        )
        span_context = scenario_span.get_span_context()
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(scenario_span))
        context = RunContext(
            run_id=run_id,
            endpoint=endpoint,
            headers=headers,
            t0_ns=t0_ns,
            t0_link=(span_context.trace_id.to_bytes(16, "big"), span_context.span_id.to_bytes(8, "big")),
            traceparent=carrier["traceparent"],
            resource_attributes=resource_attributes,
        )
        result.t0_ns = t0_ns
        doc.update(
            status="running",
            t0=format_rfc3339_ns(t0_ns),
            t0_unix_nano=t0_ns,
            scenario_span={"trace_id": f"{span_context.trace_id:032x}", "span_id": f"{span_context.span_id:016x}"},
            sink={"kind": "embedded", "endpoint": endpoint} if writer else {"kind": "external", "endpoint": endpoint},
        )
        write_run_file(run_dir, doc)

        platform.start(context)
        observation = platform.observe()
        while not observation.done:
            if progress:
                progress(observation, writer.tally if writer else None)
            time.sleep(0.1)
            observation = platform.observe()
        result.problems.extend(observation.problems)
        # The platform is done; give the last traces time to arrive.
        deadline = time.monotonic() + arrival_timeout_s
        while writer is not None and writer.tally.startup_traces < observation.ready and time.monotonic() < deadline:
            if progress:
                progress(observation, writer.tally)
            time.sleep(0.05)
        if progress:
            progress(platform.observe(), writer.tally if writer else None)
        result.status = "complete"
    except KeyboardInterrupt:
        result.status = "interrupted"
        result.problems.append("interrupted (Ctrl-C): the platform was torn down; spans that arrived are kept")
    except ScenarioError:
        raise
    except Exception as exc:
        result.status = "failed"
        result.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        platform.teardown()
        if scenario_span is not None:
            scenario_span.end(end_time=virtual_end_ns if virtual_end_ns and result.status == "complete" else None)
        if provider is not None:
            provider.shutdown()
        if receiver is not None:
            receiver.stop()
        if writer is not None:
            writer.close()
        result.wall_s = time.monotonic() - began
        _finish(result, doc, platform, writer, receiver.rejected if receiver is not None else None)
    return result


def _finish(
    result: RunResult,
    doc: dict[str, Any],
    platform: Platform,
    writer: SpanFileWriter | None,
    requests_rejected: int | None,
) -> None:
    try:
        expected_ids = platform.expected_task_ids()
    except RuntimeError:
        expected_ids = []
    if writer is not None:
        tally = writer.tally
        result.received = tally.startup_traces
        result.missing = sorted(set(expected_ids) - tally.task_ids)
        result.ready_offsets_s = sorted((end - result.t0_ns) / 1e9 for end in tally.ready_ns)
        if result.status == "complete" and (result.missing or tally.startup_traces < result.expected):
            result.status = "incomplete"
        if tally.scenario_spans != 1 and result.status == "complete":
            result.problems.append(f"expected one scale.scenario span, got {tally.scenario_spans}")
    if result.problems and result.status == "complete":
        result.status = "incomplete"
    try:
        described = platform.describe()
    except RuntimeError:
        described = {"name": platform.name}
    result.failed_launches = int(described.get("failed_launches", 0) or 0)  # type: ignore[call-overload]
    doc.update(
        status=result.status,
        ended_at=format_rfc3339_ns(time.time_ns()),
        wall_seconds=round(result.wall_s, 3),
        platform=described,
        completeness={
            "expected_containers": result.expected,
            "startup_traces_received": result.received,
            "missing_task_ids": result.missing[:1000],
            "missing_count": len(result.missing) if writer else None,
            "spans_received": writer.tally.spans if writer else None,
            "spans_of_other_runs": writer.tally.other_runs_spans if writer else None,
            "requests_received": writer.tally.requests if writer else None,
            "requests_rejected": requests_rejected,
        },
        headline=result.headline(),
        problems=result.problems,
        span_files=[str(p.relative_to(result.run_dir)) for p in writer.files] if writer else [],
    )
    write_run_file(result.run_dir, doc)
