"""ECS task metadata endpoint v4: parse what the agent publishes into typed, validated values.

Parsing is lenient and exhaustive: every problem is recorded (with the field it concerns) and the fields that
are valid are kept, so a probe on a misbehaving endpoint still reports everything it can. Field names and
shapes follow the agent's own structs (see docs/data-model.md and the reference in shared/reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_scale import contract
from otel_scale.timefmt import TimestampError, parse_rfc3339_ns


@dataclass(frozen=True)
class ClockDrift:
    """`ClockDrift` of a Fargate Linux task (absent on Windows and usually on EC2)."""

    error_bound_ms: float | None = None
    reference_time: str | None = None
    sync_status: str | None = None


@dataclass(frozen=True)
class ContainerMetadata:
    """One container object (`${ECS_CONTAINER_METADATA_URI_V4}` or an entry of `/task`'s `Containers`)."""

    docker_id: str | None = None
    name: str | None = None
    docker_name: str | None = None
    image: str | None = None
    image_id: str | None = None
    container_arn: str | None = None
    created_ns: int | None = None
    started_ns: int | None = None
    log_driver: str | None = None
    log_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskMetadata:
    """The task object (`/task`) with this container's entry resolved."""

    cluster: str | None = None
    task_arn: str | None = None
    family: str | None = None
    revision: str | None = None
    availability_zone: str | None = None
    launch_type: str | None = None
    service_name: str | None = None
    vpc_id: str | None = None
    pull_started_ns: int | None = None
    pull_stopped_ns: int | None = None
    clock: ClockDrift | None = None
    container: ContainerMetadata | None = None


@dataclass(frozen=True)
class MetadataReading:
    """What a probe learned from the platform: a status, the parsed task (if any) and every problem found."""

    status: contract.MetadataStatus
    task: TaskMetadata | None = None
    problems: tuple[str, ...] = ()
    endpoint: str | None = None

    @classmethod
    def absent(cls) -> MetadataReading:
        return cls(status=contract.METADATA_ABSENT)

    @classmethod
    def failed(cls, problem: str, endpoint: str | None = None) -> MetadataReading:
        return cls(status=contract.METADATA_ERROR, problems=(problem,), endpoint=endpoint)


class _Fields:
    """Typed field access on one JSON object that records problems instead of raising."""

    def __init__(self, doc: Mapping[str, Any], where: str, problems: list[str]) -> None:
        self.doc = doc
        self.where = where
        self.problems = problems

    def _bad(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where} field {key!r} {message}")

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                self._bad(key, "is missing")
            return None
        if not isinstance(value, str):
            self._bad(key, f"should be a string, got {type(value).__name__} {value!r:.40}")
            return None
        if required and not value:
            self._bad(key, "is empty")
            return None
        return value

    def number(self, key: str) -> float | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._bad(key, f"should be a number, got {type(value).__name__} {value!r:.40}")
            return None
        return float(value)

    def instant(self, key: str) -> int | None:
        value = self.doc.get(key)
        if value is None:
            return None
        try:
            return parse_rfc3339_ns(value)
        except TimestampError as exc:
            self._bad(key, f"is not a valid timestamp: {exc}")
            return None

    def obj(self, key: str) -> Mapping[str, Any] | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._bad(key, f"should be an object, got {type(value).__name__}")
            return None
        return value


def parse_container(doc: object, where: str, problems: list[str]) -> ContainerMetadata | None:
    """Parse one container object; returns None (with a problem recorded) if it is not an object at all."""
    if not isinstance(doc, dict):
        problems.append(f"{where} should be a JSON object, got {type(doc).__name__}")
        return None
    f = _Fields(doc, where, problems)
    log_options: dict[str, str] = {}
    raw_options = f.obj("LogOptions")
    if raw_options is not None:
        log_options = {k: v for k, v in raw_options.items() if isinstance(v, str)}
    return ContainerMetadata(
        docker_id=f.string("DockerId", required=True),
        name=f.string("Name", required=True),
        docker_name=f.string("DockerName"),
        image=f.string("Image"),
        image_id=f.string("ImageID"),
        container_arn=f.string("ContainerARN"),
        created_ns=f.instant("CreatedAt"),
        started_ns=f.instant("StartedAt"),
        log_driver=f.string("LogDriver"),
        log_options=log_options,
    )


def parse_task_metadata(task_doc: object, container_doc: object | None) -> tuple[TaskMetadata | None, list[str]]:
    """Parse `/task` (and `${URI}`, this container, if it was read) into a TaskMetadata and its problems.

    `container_doc=None` means this container's own document was not available: then the task's only
    `NORMAL` container is taken as this one, if there is exactly one.
    """
    problems: list[str] = []
    if not isinstance(task_doc, dict):
        problems.append(f"task metadata should be a JSON object, got {type(task_doc).__name__}")
        return None, problems
    f = _Fields(task_doc, "task", problems)

    pull_started = f.instant("PullStartedAt")
    pull_stopped = f.instant("PullStoppedAt")
    for present, other in (("PullStartedAt", "PullStoppedAt"), ("PullStoppedAt", "PullStartedAt")):
        if task_doc.get(present) is not None and task_doc.get(other) is None:
            problems.append(f"task field {present!r} is present but {other!r} is missing")
    if pull_started is not None and pull_stopped is not None and pull_stopped < pull_started:
        problems.append(
            f"task field 'PullStoppedAt' ({task_doc['PullStoppedAt']}) is before 'PullStartedAt' "
            f"({task_doc['PullStartedAt']})"
        )

    clock = None
    raw_clock = f.obj("ClockDrift")
    if raw_clock is not None:
        c = _Fields(raw_clock, "task ClockDrift", problems)
        clock = ClockDrift(
            error_bound_ms=c.number("ClockErrorBound"),
            reference_time=c.string("ReferenceTimestamp"),
            sync_status=c.string("ClockSynchronizationStatus"),
        )

    container = None
    if container_doc is not None:
        container = parse_container(container_doc, "container", problems)
    else:
        container = _only_normal_container(task_doc.get("Containers"), problems)

    revision = f.string("Revision", required=True)
    task = TaskMetadata(
        cluster=f.string("Cluster", required=True),
        task_arn=f.string("TaskARN", required=True),
        family=f.string("Family", required=True),
        revision=revision,
        availability_zone=f.string("AvailabilityZone"),
        launch_type=f.string("LaunchType"),
        service_name=f.string("ServiceName"),
        vpc_id=f.string("VPCID"),
        pull_started_ns=pull_started,
        pull_stopped_ns=pull_stopped,
        clock=clock,
        container=container,
    )
    if task.task_arn is not None and arn_parts(task.task_arn) is None:
        problems.append(f"task field 'TaskARN' is not an ECS task ARN: {task.task_arn!r}")
    started = task.container.started_ns if task.container is not None else None
    if started is not None and pull_stopped is not None and started < pull_stopped:
        problems.append("container field 'StartedAt' is before the task's 'PullStoppedAt'")
    return task, problems


def _only_normal_container(containers: object, problems: list[str]) -> ContainerMetadata | None:
    if not isinstance(containers, list):
        problems.append("this container's metadata is unavailable and the task lists no 'Containers'")
        return None
    normal = [c for c in containers if isinstance(c, dict) and c.get("Type", "NORMAL") == "NORMAL"]
    if len(normal) != 1:
        problems.append(f"this container's metadata is unavailable and the task has {len(normal)} NORMAL containers")
        return None
    return parse_container(normal[0], "task Containers[0]", problems)


def arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(region, account id, resource) of an `arn:<partition>:ecs:<region>:<account>:<resource>` ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs" or not parts[3] or not parts[4]:
        return None
    return parts[3], parts[4], parts[5]


def task_id(task_arn: str) -> str:
    """The task id: the last `/`-separated segment of the task ARN (semantic conventions say so)."""
    return task_arn.rsplit("/", 1)[-1]


def cluster_arn(cluster: str, task_arn: str | None) -> str:
    """The cluster ARN; `Cluster` may be a short name (EC2), then it is built from the task ARN's prefix."""
    if cluster.startswith("arn:") or task_arn is None:
        return cluster
    parts = arn_parts(task_arn)
    if parts is None:
        return cluster
    partition = task_arn.split(":", 2)[1]
    return f"arn:{partition}:ecs:{parts[0]}:{parts[1]}:cluster/{cluster}"


def split_image(image: str) -> tuple[str, str | None]:
    """Split `registry:port/repo:tag@digest` into (name, tag); the tag is None when the reference has none."""
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None
