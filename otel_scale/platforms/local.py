"""Real probes on this machine: one `python -m probe` process per container, each with its own emulated task
metadata, exporting its startup over OTLP for real.

The profile's timeline is compressed by `speed` (default 60; `max` means 600): a container whose pull would end
20 s after t0 is spawned 0.33 s after t0, and its metadata then says it pulled for 21/60 s and started at the
real instant its process was spawned, so `app.init` is the real probe's. At most `max_starting` probes start
at once (each costs ~0.2 s of CPU); a late spawn shifts that container's instants, never its durations.
Every process is stopped at teardown — SIGTERM to all, then SIGKILL to any still alive — also on Ctrl-C.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from otel_scale import contract
from otel_scale.emulator.ecs import EcsMetadataEmulator
from otel_scale.platforms.base import Observation, PlannedPlatform, RunContext
from otel_scale.platforms.fleet import FleetPlan, PlannedTask, emulated_task, plan_fleet
from otel_scale.probe_process import ProbeProcess
from otel_scale.profiles import Profile

NS = 1_000_000_000
MAX_SPEED = 600.0


class LocalPlatform(PlannedPlatform):
    name = "local"
    speed: float  # always a number here: "as fast as possible" is MAX_SPEED

    def __init__(
        self, profile: Profile, seed: int = 0, speed: float | None = 60.0, max_starting: int | None = None
    ) -> None:
        self.profile = profile
        self.seed = seed
        self.speed = MAX_SPEED if speed is None else min(speed, MAX_SPEED)
        self.max_starting = max_starting or max(2, 2 * (os.cpu_count() or 1))
        self.plan: FleetPlan | None = None
        self._baseline: list[ProbeProcess] = []
        self._probes: list[ProbeProcess] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._emulator: EcsMetadataEmulator | None = None
        self._spawner: threading.Thread | None = None
        self._ready = 0
        self._launched = 0
        self._problems: list[str] = []
        self._finished = False
        self._t0_wall = 0.0

    def prepare(self, from_count: int, to_count: int) -> float | None:
        self._emulator = EcsMetadataEmulator().start()
        self.plan = plan_fleet(self.profile, to_count - from_count, self.seed)
        # Baseline containers run before t0 and report nothing: they are not part of the measurement.
        for _ in range(from_count):
            self._baseline.append(ProbeProcess({"OTEL_TRACES_EXPORTER": "none"}))
        for probe in self._baseline:
            probe.wait_ready()
        return None  # real time

    def start(self, context: RunContext) -> None:
        assert self.plan is not None
        self.plan.assign_task_ids(context.run_id)
        self._t0_wall = time.monotonic()
        self._spawner = threading.Thread(target=self._spawn_all, args=(context,), name="local-spawner", daemon=True)
        self._spawner.start()

    def _spawn_all(self, context: RunContext) -> None:
        assert self.plan is not None and self._emulator is not None
        tasks = sorted(self.plan.tasks, key=lambda t: t.started_s)
        slots = threading.Semaphore(self.max_starting)
        with ThreadPoolExecutor(max_workers=self.max_starting, thread_name_prefix="local-start") as pool:
            for task in tasks:
                due = self._t0_wall + task.started_s / self.speed
                while not self._stop.is_set() and time.monotonic() < due:
                    self._stop.wait(min(0.05, due - time.monotonic()))
                if self._stop.is_set():
                    break
                while not slots.acquire(timeout=0.1):
                    if self._stop.is_set():
                        break
                if self._stop.is_set():
                    break
                try:
                    probe = self._spawn(task, context)
                except Exception as exc:
                    slots.release()
                    with self._lock:
                        self._problems.append(f"could not start a probe: {exc}")
                    break
                pool.submit(self._await_ready, probe, slots)
        with self._lock:
            self._finished = True

    def _spawn(self, task: PlannedTask, context: RunContext) -> ProbeProcess:
        assert self._emulator is not None
        started_ns = time.time_ns()  # the container "starts" now, whenever the schedule wanted it
        pull_stopped_ns = started_ns - int(task.container_start_s / self.speed * NS)
        emulated = emulated_task(
            self.profile,
            task,
            pull_started_ns=pull_stopped_ns - int(task.pull_s / self.speed * NS),
            pull_stopped_ns=pull_stopped_ns,
            started_ns=started_ns,
        )
        env = {
            "ECS_CONTAINER_METADATA_URI_V4": self._emulator.add(emulated),
            "OTEL_EXPORTER_OTLP_ENDPOINT": context.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_RESOURCE_ATTRIBUTES": ",".join(
                f"{k}={v}"
                for k, v in {
                    **context.resource_attributes,
                    contract.BENCHMARK_CAPACITY_TYPE: self.profile.capacity_type,
                }.items()
            ),
            "TRACEPARENT": context.traceparent,
        }
        if context.headers:
            env["OTEL_EXPORTER_OTLP_HEADERS"] = ",".join(f"{k}={v}" for k, v in context.headers.items())
        probe = ProbeProcess(env)
        with self._lock:
            self._probes.append(probe)
            self._launched += 1
        return probe

    def _await_ready(self, probe: ProbeProcess, slots: threading.Semaphore) -> None:
        try:
            probe.wait_ready(timeout=60)
            with self._lock:
                self._ready += 1
        except RuntimeError as exc:
            with self._lock:
                self._problems.append(str(exc).splitlines()[0])
        finally:
            slots.release()

    def observe(self) -> Observation:
        plan = self.plan
        assert plan is not None
        with self._lock:
            launched, ready, problems = self._launched, self._ready, tuple(self._problems)
            done = self._finished and ready + len(problems) >= launched
        elapsed = (time.monotonic() - self._t0_wall) * self.speed if self._t0_wall else 0.0
        return Observation(
            requested=len(plan.tasks),
            launched=launched,
            ready=ready,
            failed=0,
            elapsed_s=elapsed,
            done=done,
            problems=problems,
        )

    def expected_task_ids(self) -> list[str]:
        return [t.task_id for t in self.plan.tasks] if self.plan else []

    def teardown(self) -> None:
        self._stop.set()
        if self._spawner is not None:
            self._spawner.join(timeout=120)
        with self._lock:
            probes = self._probes + self._baseline
        # Stop all at once: each flushes within its own 5 s budget.
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="local-stop") as pool:
            list(pool.map(lambda p: p.stop(timeout=8), probes))
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    @property
    def processes(self) -> list[ProbeProcess]:
        with self._lock:
            return self._probes + self._baseline

    def describe(self) -> dict[str, object]:
        return super().describe() | {
            "max_starting": self.max_starting,
            "probes_started": self._launched,
            "failed_launches": 0,
        }
