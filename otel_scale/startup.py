"""One container's startup as spans: the plan (pure data) and its emission through the OpenTelemetry SDK.

`plan_startup` turns what the platform published (a `MetadataReading`) plus the two instants only the process
knows (its own start, and the moment its port accepted connections) into a `StartupPlan`: the root
`container.startup` span and whichever phase spans can be built. Every producer goes through it: the probe
emits the plan with the SDK (`emit_startup`), the simulator encodes the same plan in bulk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from otel_scale import contract
from otel_scale.metadata.ecs import MetadataReading


@dataclass(frozen=True)
class SpanPlan:
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class StartupPlan:
    """The root span, its phase children (in time order) and the root's status."""

    root: SpanPlan
    phases: tuple[SpanPlan, ...]
    metadata_status: contract.MetadataStatus
    problems: tuple[str, ...]

    @property
    def error_description(self) -> str | None:
        """The root span's ERROR description, or None when its status stays unset."""
        if not self.problems:
            return None
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        return f"task metadata {self.metadata_status}: {self.problems[0]}{more}"

    def phase(self, name: str) -> SpanPlan | None:
        return next((p for p in self.phases if p.name == name), None)


def plan_startup(reading: MetadataReading, *, process_started_ns: int, ready_ns: int) -> StartupPlan:
    """Plan the startup spans of one container. Never raises; problems become part of the plan."""
    problems = list(reading.problems)
    task = reading.task
    pull_started = task.pull_started_ns if task else None
    pull_stopped = task.pull_stopped_ns if task else None
    container_started = task.container.started_ns if task and task.container else None

    phases: list[SpanPlan] = []
    pull_known = pull_started is not None and pull_stopped is not None and pull_stopped >= pull_started
    if pull_known:
        assert pull_started is not None and pull_stopped is not None
        phases.append(SpanPlan(contract.SPAN_IMAGE_PULL, pull_started, pull_stopped))
        if container_started is not None and container_started >= pull_stopped:
            phases.append(SpanPlan(contract.SPAN_CONTAINER_START, pull_stopped, container_started))

    init_source = "container"
    init_start = container_started
    if init_start is None or init_start > ready_ns:
        if init_start is not None:
            problems.append(
                "container 'StartedAt' is after the app became ready (clock skew?); app.init starts at "
                "the process start instead"
            )
        init_source, init_start = "process", min(process_started_ns, ready_ns)
    phases.append(SpanPlan(contract.SPAN_APP_INIT, init_start, ready_ns))

    # A reading that parsed cleanly but whose instants contradict each other is still an error.
    status = contract.METADATA_ERROR if problems and reading.status == contract.METADATA_OK else reading.status
    root_attrs: dict[str, AttributeValue] = {
        contract.METADATA_STATUS: status,
        contract.APP_INIT_START_SOURCE: init_source,
    }
    if problems:
        root_attrs[contract.METADATA_PROBLEMS] = problems
    clock = task.clock if task else None
    if clock is not None:
        if clock.error_bound_ms is not None:
            root_attrs[contract.CLOCK_ERROR_BOUND_MS] = clock.error_bound_ms
        if clock.sync_status is not None:
            root_attrs[contract.CLOCK_SYNC_STATUS] = clock.sync_status
        if clock.reference_time is not None:
            root_attrs[contract.CLOCK_REFERENCE_TIME] = clock.reference_time

    root_start = min(p.start_ns for p in phases)
    root = SpanPlan(contract.SPAN_STARTUP, root_start, ready_ns, root_attrs)
    return StartupPlan(root=root, phases=tuple(phases), metadata_status=status, problems=tuple(problems))


def emit_startup(tracer: trace.Tracer, plan: StartupPlan, link: SpanContext | None = None) -> SpanContext:
    """Emit the plan as real SDK spans with the plan's exact timestamps; returns the root's span context."""
    links = [Link(link)] if link is not None and link.is_valid else None
    root = tracer.start_span(
        plan.root.name,
        context=Context(),  # always a new trace, whatever is current
        kind=SpanKind.INTERNAL,
        attributes=dict(plan.root.attributes),
        links=links,
        start_time=plan.root.start_ns,
    )
    parent = trace.set_span_in_context(root, Context())
    for phase in plan.phases:
        child = tracer.start_span(
            phase.name,
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=dict(phase.attributes),
            start_time=phase.start_ns,
        )
        child.end(end_time=phase.end_ns)
    description = plan.error_description
    if description is not None:
        root.set_status(Status(StatusCode.ERROR, description))
    root.end(end_time=plan.root.end_ns)
    return root.get_span_context()


def link_from_environment(environ: Mapping[str, str]) -> SpanContext | None:
    """The span context named by `TRACEPARENT` (and `TRACESTATE`), or None if unset or invalid.

    The env-carrier spec maps W3C trace context to these variables; the scenario runner sets them so each
    container can link its startup to the run's `scale.scenario` span (t0).
    """
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    traceparent = environ.get("TRACEPARENT", "").strip()
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if environ.get("TRACESTATE"):
        carrier["tracestate"] = environ["TRACESTATE"]
    context = TraceContextTextMapPropagator().extract(carrier)
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None
