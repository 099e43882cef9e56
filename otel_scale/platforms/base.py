"""The platform interface: plan a scale-out, start it at t0, observe it, tear it down.

An implementation MUST:
- `prepare(from_count, to_count)`: get to `from_count` running containers without reporting them (they
  are not part of the measurement) and plan the scale-out; return how long it will take on the platform's
  clock if it knows (a simulator does), else None. Nothing observable to the benchmark happens yet.
- `start(context)`: ask for `to_count` containers in all, now, at t0; containers report their startups to
  `context.endpoint` with `context.resource_attributes` and a link to `context.t0_link`. Returns at once.
- `observe()`: say what happened so far; cheap, callable from any thread, many times a second.
- `teardown()`: stop everything it started (processes, servers, cloud resources), also after a failure or
  an interrupt, and also when called twice. It must not lose what was already reported.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from otel_scale.profiles import Profile


@dataclass(frozen=True)
class RunContext:
    run_id: str
    endpoint: str  # OTLP/HTTP base URL the containers export to
    headers: Mapping[str, str]
    t0_ns: int  # Unix ns of t0 on the platform's clock
    t0_link: tuple[bytes, bytes]  # (trace id, span id) of the scale.scenario span
    traceparent: str  # the same, as a W3C traceparent for the containers' environment
    resource_attributes: Mapping[str, str]  # benchmark.run.id, benchmark.platform, ... for every container


@dataclass(frozen=True)
class Observation:
    requested: int  # new containers asked for (to - from)
    launched: int  # launches so far, failed ones included
    ready: int  # containers that became ready (and reported, or are reporting, their startup)
    failed: int  # launches that failed before their container started
    elapsed_s: float  # since t0, on the platform's clock (virtual for a simulator)
    done: bool  # every requested container is ready, or the platform gave up
    problems: tuple[str, ...] = field(default_factory=tuple)


class Platform(ABC):
    name: str

    @abstractmethod
    def prepare(self, from_count: int, to_count: int) -> float | None: ...

    def t0_ns(self, now_ns: int) -> int:
        """t0 on the platform's clock, for a run that starts now. Real platforms: now."""
        return now_ns

    @abstractmethod
    def start(self, context: RunContext) -> None: ...

    @abstractmethod
    def observe(self) -> Observation: ...

    @abstractmethod
    def expected_task_ids(self) -> list[str]:
        """Task ids of the containers whose startup traces should arrive (known once they launched)."""

    @abstractmethod
    def teardown(self) -> None: ...

    def describe(self) -> dict[str, object]:
        """Facts about the platform for run.json."""
        return {"name": self.name}


class PlannedPlatform(Platform):
    """A platform that replays a profile's planned timeline (sim, local): shares what run.json says of it."""

    profile: Profile
    seed: int
    speed: float | None

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "profile": self.profile.name,
            "profile_file": str(self.profile.source),
            "seed": self.seed,
            "speed": self.speed,
        }
