"""An ECS task metadata endpoint v4 for one or many simulated tasks, in the agent's exact JSON shape.

Each task is served under its own `/v4/<id>` prefix, like the agent does for each container:
`${URI}` (this container), `${URI}/task`, `${URI}/taskWithTags`, `${URI}/stats`, `${URI}/task/stats`.
Shapes follow Fargate Linux, Fargate Windows and EC2 Linux (fields that exist on one and not the others are
left out as the agent leaves them out). `EmulatedTask.document_patch` and `Fault` make broken endpoints for
tests: wrong types, missing fields, HTTP errors, invalid JSON, slow answers.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal, get_args

from otel_scale.httpservice import HTTPService
from otel_scale.timefmt import format_rfc3339_ns, format_rfc3339_s, parse_rfc3339_ns

TaskKind = Literal["fargate-linux", "fargate-windows", "ec2-linux"]
TASK_KINDS: tuple[str, ...] = get_args(TaskKind)


@dataclass
class Fault:
    """Misbehaviour for one task's endpoint: a delay, an HTTP status, and/or a raw body instead of JSON."""

    status: int = 200
    body: bytes | None = None
    delay_s: float = 0.0
    # Which of the task's paths misbehave: "" (the container document), "task", "stats", ...
    paths: frozenset[str] = frozenset({"", "task"})


@dataclass
class EmulatedTask:
    """One simulated task with one NORMAL container; instants are Unix nanoseconds (None = not published)."""

    kind: TaskKind = "fargate-linux"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    cluster: str = "bench"
    family: str = "probe"
    revision: str = "1"
    container_name: str = "probe"
    availability_zone: str = "us-east-1a"
    service_name: str | None = "probe-svc"
    image: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/probe:1.0.0"
    image_id: str = "sha256:8059bdd0058510c03ae4c808de8c4fd2c1f3c1b6d9ea75487f1e5caa5ececa02"
    pull_started_ns: int | None = None
    pull_stopped_ns: int | None = None
    created_ns: int | None = None
    started_ns: int | None = None
    clock_error_bound_ms: float | None = 0.446931
    clock_synchronized: bool = True
    task_id: str = field(default_factory=lambda: secrets.token_hex(16))
    # Top-level keys to replace in the task document (value None removes the key): broken-metadata tests.
    document_patch: dict[str, Any] = field(default_factory=dict)
    container_patch: dict[str, Any] = field(default_factory=dict)
    fault: Fault | None = None

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"unknown task kind {self.kind!r}; choose one of {', '.join(TASK_KINDS)}")
        suffix = int(self.task_id[:8], 16) % 10**10
        self._runtime_suffix = f"{suffix:010d}"

    # --- identities as the agent derives them ------------------------------------------------------------
    @property
    def endpoint_id(self) -> str:
        return f"{self.task_id}-{self._runtime_suffix}"

    @property
    def task_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account_id}:task/{self.cluster}/{self.task_id}"

    @property
    def cluster_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account_id}:cluster/{self.cluster}"

    @property
    def docker_id(self) -> str:
        if self.kind == "ec2-linux":  # a 64-hex Docker id
            return (self.task_id * 2)[:64]
        return self.endpoint_id  # Fargate: <task id>-<10 digits>

    @property
    def docker_name(self) -> str:
        if self.kind == "ec2-linux":
            return f"ecs-{self.family}-{self.revision}-{self.container_name}-{self.task_id[:20]}"
        return self.container_name

    @property
    def is_linux(self) -> bool:
        return self.kind != "fargate-windows"

    # --- documents -----------------------------------------------------------------------------------------
    def container_document(self) -> dict[str, Any]:
        arn = (
            f"arn:aws:ecs:{self.region}:{self.account_id}:container/{self.cluster}/{self.task_id}/{_uuid(self.task_id)}"
        )
        doc: dict[str, Any] = {
            "DockerId": self.docker_id,
            "Name": self.container_name,
            "DockerName": self.docker_name,
            "Image": self.image,
            "ImageID": self.image_id,
            "Labels": {
                "com.amazonaws.ecs.cluster": self.cluster_arn if self.kind != "ec2-linux" else self.cluster,
                "com.amazonaws.ecs.container-name": self.container_name,
                "com.amazonaws.ecs.task-arn": self.task_arn,
                "com.amazonaws.ecs.task-definition-family": self.family,
                "com.amazonaws.ecs.task-definition-version": self.revision,
            },
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING" if self.started_ns is not None else "PENDING",
            "Limits": {"CPU": 256 if self.kind == "ec2-linux" else 2, "Memory": 512},
        }
        created = self.created_ns if self.created_ns is not None else self.started_ns
        if created is not None:
            doc["CreatedAt"] = format_rfc3339_ns(created)
        if self.started_ns is not None:
            doc["StartedAt"] = format_rfc3339_ns(self.started_ns)
        doc["Type"] = "NORMAL"
        if self.kind == "ec2-linux":
            doc["Ports"] = [{"ContainerPort": 8080, "Protocol": "tcp", "HostPort": 32768, "HostIp": "0.0.0.0"}]
            doc["Networks"] = [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}]
        else:
            doc["Networks"] = [
                {
                    "NetworkMode": "awsvpc",
                    "IPv4Addresses": ["172.31.42.189"],
                    "AttachmentIndex": 0,
                    "MACAddress": "0e:98:9f:33:76:d3",
                    "IPv4SubnetCIDRBlock": "172.31.32.0/20",
                    "DomainNameServers": ["172.31.0.2"],
                    "DomainNameSearchList": [f"{self.region}.compute.internal"],
                    "PrivateDNSName": f"ip-172-31-42-189.{self.region}.compute.internal",
                    "SubnetGatewayIpv4Address": "172.31.32.1/20",
                }
            ]
        doc["LogDriver"] = "awslogs"
        doc["LogOptions"] = {
            "awslogs-create-group": "true",
            "awslogs-group": f"/ecs/{self.family}",
            "awslogs-region": self.region,
            "awslogs-stream": f"ecs/{self.container_name}/{self.task_id}",
        }
        doc["ContainerARN"] = arn
        if self.kind == "fargate-linux":
            doc["Snapshotter"] = "overlayfs"
        return _patched(doc, self.container_patch)

    def task_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Cluster": self.cluster_arn if self.kind != "ec2-linux" else self.cluster,
            "TaskARN": self.task_arn,
            "Family": self.family,
            "Revision": self.revision,
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING" if self.started_ns is not None else "PENDING",
            "Limits": {"CPU": 0.25, "Memory": 512},
        }
        if self.pull_started_ns is not None:
            doc["PullStartedAt"] = format_rfc3339_ns(self.pull_started_ns)
        if self.pull_stopped_ns is not None:
            doc["PullStoppedAt"] = format_rfc3339_ns(self.pull_stopped_ns)
        doc["AvailabilityZone"] = self.availability_zone
        doc["LaunchType"] = "EC2" if self.kind == "ec2-linux" else "FARGATE"
        if self.service_name:
            doc["ServiceName"] = self.service_name
        if self.kind == "ec2-linux":
            doc["VPCID"] = "vpc-0123456789abcdef0"
        doc["Containers"] = [self.container_document()]
        if self.is_linux and self.clock_error_bound_ms is not None:
            reference = self.started_ns if self.started_ns is not None else time.time_ns()
            doc["ClockDrift"] = {
                "ClockErrorBound": self.clock_error_bound_ms,
                "ReferenceTimestamp": format_rfc3339_s(reference),
                "ClockSynchronizationStatus": "SYNCHRONIZED" if self.clock_synchronized else "NOT_SYNCHRONIZED",
            }
        if self.kind == "fargate-linux":
            doc["EphemeralStorageMetrics"] = {"Utilized": 261, "Reserved": 20496}
        doc["FaultInjectionEnabled"] = False
        return _patched(doc, self.document_patch)

    def stats_document(self) -> dict[str, Any]:
        now = format_rfc3339_ns(time.time_ns())
        cpu = {
            "cpu_usage": {
                "total_usage": 412_345_678,
                "usage_in_kernelmode": 90_000_000,
                "usage_in_usermode": 300_000_000,
            },
            "system_cpu_usage": 27_400_000_000_000,
            "online_cpus": 2,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }
        return {
            "read": now,
            "preread": now,
            "pids_stats": {"current": 3},
            "blkio_stats": {"io_service_bytes_recursive": [], "io_serviced_recursive": []},
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": cpu,
            "precpu_stats": cpu,
            "memory_stats": {"usage": 48_500_000, "max_usage": 52_000_000, "stats": {}, "limit": 536_870_912},
            "name": self.docker_name,
            "id": self.docker_id,
            "networks": {
                "eth1": {
                    "rx_bytes": 564_655_295,
                    "rx_packets": 384_960,
                    "tx_bytes": 3_043_269,
                    "tx_packets": 54_355,
                }
            },
            "network_rate_stats": {"rx_bytes_per_sec": 0, "tx_bytes_per_sec": 0},
        }


def _patched(doc: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def _uuid(seed_hex: str) -> str:
    h = (seed_hex * 2)[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class EcsMetadataEmulator(HTTPService):
    """Serves task metadata v4 for its tasks on loopback (by default) until `stop()`; a context manager."""

    thread_name = "ecs-emulator"

    def __init__(self, tasks: Iterable[EmulatedTask] = (), host: str = "127.0.0.1", port: int = 0) -> None:
        self._tasks: dict[str, EmulatedTask] = {}
        self._lock = threading.Lock()
        super().__init__(self._handler_class(), host, port)
        for task in tasks:
            self.add(task)

    def add(self, task: EmulatedTask) -> str:
        """Serve one more task; returns the value of its `ECS_CONTAINER_METADATA_URI_V4`."""
        with self._lock:
            self._tasks[task.endpoint_id] = task
        return self.uri_for(task)

    def remove(self, task: EmulatedTask) -> None:
        with self._lock:
            self._tasks.pop(task.endpoint_id, None)

    def uri_for(self, task: EmulatedTask) -> str:
        return f"{self.base_url}/v4/{task.endpoint_id}"

    @property
    def tasks(self) -> list[EmulatedTask]:
        with self._lock:
            return list(self._tasks.values())

    def _lookup(self, endpoint_id: str) -> EmulatedTask | None:
        with self._lock:
            return self._tasks.get(endpoint_id)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "ecs-agent-emulator"
            sys_version = ""

            def do_GET(self) -> None:
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if len(parts) < 2 or parts[0] != "v4":
                    return self._send(HTTPStatus.NOT_FOUND, b"404 page not found\n", "text/plain")
                task = emulator._lookup(parts[1])
                sub = "/".join(parts[2:])
                if task is None:
                    return self._send(HTTPStatus.NOT_FOUND, b"404 page not found\n", "text/plain")
                fault = task.fault
                if fault is not None and sub in fault.paths:
                    if fault.delay_s:
                        time.sleep(fault.delay_s)
                    if fault.status != 200 or fault.body is not None:
                        body = fault.body if fault.body is not None else b'{"error":"injected fault"}'
                        return self._send(fault.status, body, "application/json")
                documents = {
                    "": task.container_document,
                    "task": task.task_document,
                    "stats": task.stats_document,
                    "task/stats": lambda: {task.docker_id: task.stats_document()},
                    "taskWithTags": lambda: {
                        **task.task_document(),
                        "TaskTags": {"benchmark": "otel-scale"},
                        **({"ContainerInstanceTags": {}} if task.kind == "ec2-linux" else {}),
                    },
                }
                render: Callable[[], object] | None = documents.get(sub)
                if render is None:
                    return self._send(HTTPStatus.NOT_FOUND, b"404 page not found\n", "text/plain")
                self._send(HTTPStatus.OK, json.dumps(render()).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: a scale run makes thousands of requests

        return Handler


def task_from_spec(spec: Mapping[str, Any]) -> EmulatedTask:
    """Build a task from a JSON-friendly spec: instants as RFC 3339 strings or Unix-nanosecond integers."""
    allowed = set(EmulatedTask.__dataclass_fields__) - {"fault"}
    unknown = set(spec) - allowed - {"pull_started_at", "pull_stopped_at", "created_at", "started_at"}
    if unknown:
        raise ValueError(f"unknown task field(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {k: v for k, v in spec.items() if k in allowed}
    for text_key, ns_key in (
        ("pull_started_at", "pull_started_ns"),
        ("pull_stopped_at", "pull_stopped_ns"),
        ("created_at", "created_ns"),
        ("started_at", "started_ns"),
    ):
        if text_key in spec:
            value = spec[text_key]
            kwargs[ns_key] = value if isinstance(value, int) or value is None else parse_rfc3339_ns(value)
    return EmulatedTask(**kwargs)


def default_task(kind: TaskKind, now_ns: int, index: int = 0, zones: tuple[str, ...] = ()) -> EmulatedTask:
    """A task that finished pulling and started moments ago, with durations typical of its kind."""
    pull_s = {"fargate-linux": 21.0, "fargate-windows": 280.0, "ec2-linux": 8.0}[kind]
    zones = zones or ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d")
    started = now_ns - 200_000_000
    pull_stopped = started - 1_500_000_000
    return EmulatedTask(
        kind=kind,
        availability_zone=zones[index % len(zones)],
        pull_started_ns=pull_stopped - int(pull_s * 1e9),
        pull_stopped_ns=pull_stopped,
        created_ns=started - (150_000_000 if kind == "ec2-linux" else 0),
        started_ns=started,
    )
