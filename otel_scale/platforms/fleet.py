"""The planned timeline of a scale-out: when each task launches and how long each of its phases takes.

Both the simulator and the local platform plan with this, from a profile and a seed, deterministically.
The ramp policy is one method, `launch_schedule`: ECS's rate limits as token buckets.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import dataclass

from otel_scale.emulator.ecs import EmulatedTask, TaskKind
from otel_scale.profiles import LaunchModel, Profile


@dataclass(slots=True)
class PlannedTask:
    task_id: str
    service: int
    zone: str
    launch_s: float  # seconds since t0
    provisioning_s: float
    pull_s: float
    container_start_s: float
    app_init_s: float
    clock_error_bound_ms: float | None
    clock_synchronized: bool
    clock_skew_s: float = 0.0  # the container's clock error when it stamps "ready": within the published bound

    @property
    def pull_started_s(self) -> float:
        return self.launch_s + self.provisioning_s

    @property
    def pull_stopped_s(self) -> float:
        return self.pull_started_s + self.pull_s

    @property
    def started_s(self) -> float:
        return self.pull_stopped_s + self.container_start_s

    @property
    def ready_s(self) -> float:
        return self.started_s + self.app_init_s


@dataclass(frozen=True)
class FleetPlan:
    tasks: list[PlannedTask]  # the launches that start a container, in launch order
    failed_launches: list[float]  # launch instants (s since t0) of launches that failed and were replaced

    @property
    def duration_s(self) -> float:
        return max((t.ready_s for t in self.tasks), default=0.0)

    def assign_task_ids(self, run_id: str) -> None:
        """Give every task an id unique to this run: the same seed replays the same timeline, never the same ids."""
        for task in self.tasks:
            task.task_id = hashlib.blake2b(f"{run_id}/{task.task_id}".encode(), digest_size=16).hexdigest()


class TokenBucket:
    def __init__(self, burst: int, rate_per_s: float) -> None:
        self.capacity = float(max(burst, 1))
        self.rate = rate_per_s
        self.tokens = self.capacity
        self.at = 0.0

    def ready_at(self, now: float) -> float:
        """The earliest instant >= now at which one token is available."""
        tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        return now if tokens >= 1.0 else now + (1.0 - tokens) / self.rate

    def take(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate) - 1.0
        self.at = now


def launch_schedule(model: LaunchModel, count: int, rng: random.Random) -> tuple[list[tuple[float, int]], list[float]]:
    """Launch instants (and services) for `count` containers, and the instants of failed launches.

    Tasks are spread round-robin over `model.services` services. A launch needs a token from its service's
    bucket (burst `service_burst`, `service_rate_per_min`) and from the account's (Fargate: burst 100,
    20 per second). A launch fails with `failure_probability`; the service then asks for a replacement,
    `failure_after_s` later, which needs tokens again.
    """
    start = model.start_delay_s.sample(rng)
    account = TokenBucket(model.account_burst, model.account_rate_per_s)
    account.at = start
    services = [TokenBucket(model.service_burst, model.service_rate_per_min / 60.0) for _ in range(model.services)]
    for bucket in services:
        bucket.at = start
    # Per service, a heap of instants from which a pending task may launch.
    pending: list[list[float]] = [[] for _ in services]
    for i in range(count):
        pending[i % len(services)].append(start)
    launches: list[tuple[float, int]] = []
    failures: list[float] = []
    now = start
    while len(launches) < count:
        best_time, best = float("inf"), -1
        for k, queue in enumerate(pending):
            if queue:
                t = services[k].ready_at(max(now, queue[0]))
                t = account.ready_at(t)
                t = services[k].ready_at(t)  # the account wait may have been long; recheck is free
                if t < best_time:
                    best_time, best = t, k
        now = best_time
        heapq.heappop(pending[best])
        services[best].take(now)
        account.take(now)
        if model.failure_probability and rng.random() < model.failure_probability:
            failures.append(now)
            heapq.heappush(pending[best], now + model.failure_after_s.sample(rng))
        else:
            launches.append((now, best))
    return launches, failures


def plan_fleet(profile: Profile, count: int, seed: int) -> FleetPlan:
    """Every new task's timeline for a scale-out of `count` containers; the same seed gives the same plan."""
    rng = random.Random(seed)
    launches, failures = launch_schedule(profile.launch, count, rng)
    tasks = []
    for launch_s, service in launches:
        zone = profile.zone_for(rng)
        bound = profile.clock_error_bound_ms.sample(rng) if profile.clock_error_bound_ms is not None else None
        tasks.append(
            PlannedTask(
                task_id=f"{rng.getrandbits(128):032x}",
                service=service,
                zone=zone.name,
                launch_s=launch_s,
                provisioning_s=profile.launch.provisioning_s.sample(rng),
                pull_s=zone.pull_s.sample(rng),
                container_start_s=profile.container_start_s.sample(rng),
                app_init_s=profile.app_init_s.sample(rng),
                clock_error_bound_ms=bound,
                clock_synchronized=rng.random() >= profile.clock_unsynchronized_probability,
                clock_skew_s=rng.gauss(0.0, (bound or 0.0) / 3) / 1000.0,
            )
        )
    return FleetPlan(tasks=tasks, failed_launches=failures)


def emulated_task(
    profile: Profile, task: PlannedTask, *, pull_started_ns: int, pull_stopped_ns: int, started_ns: int
) -> EmulatedTask:
    """The task metadata a real task of this profile would publish, with the given instants."""
    kind: TaskKind = profile.kind  # type: ignore[assignment]  # validated when the profile was loaded
    return EmulatedTask(
        kind=kind,
        region=profile.region,
        account_id=profile.account_id,
        cluster=profile.cluster,
        availability_zone=task.zone,
        image=profile.image,
        service_name=f"probe-svc-{task.service + 1}",
        pull_started_ns=pull_started_ns,
        pull_stopped_ns=pull_stopped_ns,
        created_ns=started_ns,
        started_ns=started_ns,
        clock_error_bound_ms=task.clock_error_bound_ms,
        clock_synchronized=task.clock_synchronized,
        task_id=task.task_id,
    )
