"""The simulated fleet: a profile's timeline, replayed in virtual time, reported through the probe's own code.

For every planned task the simulator renders the task metadata a real task would publish (the emulator's
documents), parses it with the probe's parser, plans the startup with the probe's `plan_startup` and encodes
that plan as OTLP (`otel_scale.otlp.add_startup`, the lean path), then sends it over OTLP/HTTP to the run's
endpoint — the embedded receiver or a collector. Only the SDK span objects are skipped: one `TracerProvider`
per container (each has its own resource) would cost ten times as much.

Virtual time: `speed` virtual seconds pass per real second (`None`: as fast as the pipeline takes it).
Timestamps are anchored so that the run ends at the real instant it finishes (`t0_ns`).
"""

from __future__ import annotations

import bisect
import gc
import random
import threading
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.util.types import AttributeValue

from otel_scale import contract
from otel_scale.metadata.ecs import MetadataReading, parse_task_metadata
from otel_scale.otlp import add_startup
from otel_scale.platforms.base import Observation, PlannedPlatform, RunContext
from otel_scale.platforms.fleet import FleetPlan, PlannedTask, emulated_task, plan_fleet
from otel_scale.profiles import Profile
from otel_scale.resource import HostInfo, container_attributes
from otel_scale.sinks.sender import OtlpHttpSender
from otel_scale.startup import plan_startup

NS = 1_000_000_000
BATCH_CONTAINERS = 256  # containers per export request, like a Collector batch of ~1,000 spans
PROCESS_START_LAG_NS = 30_000_000  # the probe process starts this long after the container does


class SimPlatform(PlannedPlatform):
    name = "sim"

    def __init__(
        self, profile: Profile, seed: int = 0, speed: float | None = None, export_retry_s: float = 60.0
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.profile = profile
        self.seed = seed
        self.speed = speed
        self.export_retry_s = export_retry_s  # how long to keep retrying an endpoint that is down or busy
        self.plan: FleetPlan | None = None
        self._launch_times: list[float] = []
        self._failure_times: list[float] = []
        self.host = HostInfo(profile.os_type, profile.arch)
        self._context: RunContext | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sent = 0
        self._started_wall = 0.0
        self._problems: list[str] = []
        self._finished = False

    # --- Platform --------------------------------------------------------------------------------------
    def prepare(self, from_count: int, to_count: int) -> float | None:
        self.plan = plan_fleet(self.profile, to_count - from_count, self.seed)
        # observe() runs many times a second: count launches by bisection, not by scanning a million tasks.
        self._launch_times = sorted(t.launch_s for t in self.plan.tasks)
        self._failure_times = sorted(self.plan.failed_launches)
        # A million planned tasks live until the end: keep the cyclic collector from rescanning them on every
        # collection while the emitter allocates (it slowed 1M-container runs severalfold).
        gc.freeze()
        return self.plan.duration_s

    def t0_ns(self, now_ns: int) -> int:
        duration = self._require_plan().duration_s
        real = 0.0 if self.speed is None else duration / self.speed
        return now_ns + int((real - duration) * NS)

    def start(self, context: RunContext) -> None:
        self._require_plan().assign_task_ids(context.run_id)
        self._context = context
        self._started_wall = time.monotonic()
        self._thread = threading.Thread(target=self._emit_all, name="sim-emitter", daemon=True)
        self._thread.start()

    def observe(self) -> Observation:
        plan = self._require_plan()
        elapsed = self._virtual_elapsed()
        with self._lock:
            sent, problems, finished = self._sent, tuple(self._problems), self._finished
        if finished and not problems:
            elapsed = plan.duration_s
        launched = bisect.bisect_right(self._launch_times, elapsed) if not finished else len(plan.tasks)
        failed = bisect.bisect_right(self._failure_times, elapsed)
        return Observation(
            requested=len(plan.tasks),
            launched=launched + failed,
            ready=sent,
            failed=failed,
            elapsed_s=min(elapsed, plan.duration_s),
            done=finished,
            problems=problems,
        )

    def expected_task_ids(self) -> list[str]:
        return [t.task_id for t in self._require_plan().tasks]

    def teardown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def describe(self) -> dict[str, object]:
        plan = self._require_plan()
        return super().describe() | {
            "virtual_duration_s": plan.duration_s,
            "failed_launches": len(plan.failed_launches),
        }

    # --- emission ---------------------------------------------------------------------------------------
    def _require_plan(self) -> FleetPlan:
        if self.plan is None:
            raise RuntimeError("prepare() first")
        return self.plan

    def _virtual_elapsed(self) -> float:
        if not self._started_wall:
            return 0.0
        if self.speed is None:
            return float("inf")
        return (time.monotonic() - self._started_wall) * self.speed

    def _emit_all(self) -> None:
        context = self._context
        assert context is not None
        tasks = sorted(self._require_plan().tasks, key=lambda t: t.ready_s)
        sender = OtlpHttpSender(context.endpoint, context.headers, retry_budget_s=self.export_retry_s)
        rng = random.Random(f"{self.seed}/{context.run_id}")  # trace and span ids: unique to this run
        try:
            i = 0
            while i < len(tasks) and not self._stop.is_set():
                due = self._virtual_elapsed()
                batch: list[PlannedTask] = []
                while i < len(tasks) and tasks[i].ready_s <= due and len(batch) < BATCH_CONTAINERS:
                    batch.append(tasks[i])
                    i += 1
                if not batch:
                    wait = (tasks[i].ready_s - due) / (self.speed or 1.0)
                    self._stop.wait(min(max(wait, 0.001), 0.25))
                    continue
                request = ExportTraceServiceRequest()
                for task in batch:
                    self.add_task(request, task, context, rng)
                sender.send(request)
                with self._lock:
                    self._sent += len(batch)
        except Exception as exc:  # the runner reports it; what was sent is kept
            with self._lock:
                self._problems.append(f"simulator stopped: {exc}")
        finally:
            sender.close()
            with self._lock:
                self._finished = True

    def add_task(
        self, request: ExportTraceServiceRequest, task: PlannedTask, context: RunContext, rng: random.Random
    ) -> None:
        """One task's startup, through the probe's parser and planner, appended to `request`."""
        t0 = context.t0_ns
        started_ns = t0 + int(task.started_s * NS)
        emulated = emulated_task(
            self.profile,
            task,
            pull_started_ns=t0 + int(task.pull_started_s * NS),
            pull_stopped_ns=t0 + int(task.pull_stopped_s * NS),
            started_ns=started_ns,
        )
        document = emulated.task_document()
        parsed, problems = parse_task_metadata(document, document["Containers"][0])
        status: contract.MetadataStatus = contract.METADATA_ERROR if problems else contract.METADATA_OK
        reading = MetadataReading(status=status, task=parsed, problems=tuple(problems))
        # The probe's own clock stamps "ready"; it is off by up to the published error bound.
        ready_ns = t0 + int((task.ready_s + task.clock_skew_s) * NS)
        plan = plan_startup(reading, process_started_ns=started_ns + PROCESS_START_LAG_NS, ready_ns=ready_ns)
        resource: dict[str, AttributeValue] = {contract.SERVICE_NAME: contract.DEFAULT_SERVICE_NAME}
        resource.update(container_attributes(reading, self.host))
        resource[contract.BENCHMARK_CAPACITY_TYPE] = self.profile.capacity_type
        resource.update(context.resource_attributes)
        trace_id = rng.getrandbits(128).to_bytes(16, "big")
        span_ids = [rng.getrandbits(64).to_bytes(8, "big") for _ in range(1 + len(plan.phases))]
        add_startup(request, plan, resource, trace_id, span_ids, context.t0_link)
