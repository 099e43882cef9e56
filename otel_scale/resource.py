"""Resource attributes of one container, from its task metadata and the host it runs on.

`container_attributes` is pure (the simulator calls it with simulated metadata and host); `build_resource`
adds the SDK's defaults and then everything in `OTEL_RESOURCE_ATTRIBUTES` / `OTEL_SERVICE_NAME`, which
override what was detected: that is how `benchmark.run.id` and labels such as capacity type arrive.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.util.types import AttributeValue

from otel_scale import contract
from otel_scale.metadata.ecs import (
    MetadataReading,
    TaskMetadata,
    arn_parts,
    cluster_arn,
    split_image,
    task_id,
)

# platform.machine() spellings -> the semantic conventions' well-known host.arch values.
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm32",
    "armv8l": "arm32",
    "i386": "x86",
    "i686": "x86",
    "x86": "x86",
    "ppc64le": "ppc64",
    "ppc64": "ppc64",
    "s390x": "s390x",
}


@dataclass(frozen=True)
class HostInfo:
    """What the container runs on: `os.type` and `host.arch` in semantic-convention spelling."""

    os_type: str
    arch: str

    @classmethod
    def current(cls) -> HostInfo:
        return cls(os_type=platform.system().lower() or "unknown", arch=normalize_arch(platform.machine()))


def normalize_arch(machine: str) -> str:
    """`x86_64` -> `amd64`, `aarch64` -> `arm64`, ...; unknown spellings are kept, lowercased."""
    return _ARCH.get(machine.lower(), machine.lower())


def container_attributes(reading: MetadataReading, host: HostInfo) -> dict[str, AttributeValue]:
    """Semantic-convention resource attributes for this container (no SDK defaults, no environment)."""
    attrs: dict[str, AttributeValue] = {contract.OS_TYPE: host.os_type, contract.HOST_ARCH: host.arch}
    if reading.task is not None:
        attrs.update(_ecs_attributes(reading.task))
    return attrs


def _ecs_attributes(task: TaskMetadata) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {
        contract.CLOUD_PROVIDER: contract.CLOUD_PROVIDER_AWS,
        contract.CLOUD_PLATFORM: contract.CLOUD_PLATFORM_AWS_ECS,
    }
    if task.task_arn:
        attrs[contract.AWS_ECS_TASK_ARN] = task.task_arn
        attrs[contract.AWS_ECS_TASK_ID] = task_id(task.task_arn)
        parts = arn_parts(task.task_arn)
        if parts is not None:
            attrs[contract.CLOUD_REGION], attrs[contract.CLOUD_ACCOUNT_ID] = parts[0], parts[1]
    if task.cluster:
        attrs[contract.AWS_ECS_CLUSTER_ARN] = cluster_arn(task.cluster, task.task_arn)
    optional = {
        contract.CLOUD_AVAILABILITY_ZONE: task.availability_zone,
        contract.AWS_ECS_TASK_FAMILY: task.family,
        contract.AWS_ECS_TASK_REVISION: task.revision,
        contract.AWS_ECS_LAUNCHTYPE: task.launch_type.lower() if task.launch_type else None,
    }
    c = task.container
    if c is not None:
        optional[contract.AWS_ECS_CONTAINER_ARN] = c.container_arn
        optional[contract.CONTAINER_ID] = c.docker_id
        # semconv: "container name used by container runtime" - DockerName; the task-definition Name if absent.
        optional[contract.CONTAINER_NAME] = c.docker_name or c.name
        optional[contract.CONTAINER_IMAGE_ID] = c.image_id
        if c.image:
            name, tag = split_image(c.image)
            optional[contract.CONTAINER_IMAGE_NAME] = name
            if tag:
                attrs[contract.CONTAINER_IMAGE_TAGS] = [tag]
        attrs.update(_log_attributes(c.log_driver, c.log_options, c.container_arn))
    attrs.update({k: v for k, v in optional.items() if v})
    return attrs


def _log_attributes(driver: str | None, options: Any, container_arn: str | None) -> dict[str, AttributeValue]:
    """aws.log.* as the AWS resource detector derives them (its ARN-building code, fed our parsed metadata)."""
    if driver != "awslogs" or not container_arn:
        return {}
    # The detector's own detect() would fetch the endpoint again with 5 s timeouts; its helper takes the
    # document we already have. Pinned version (pyproject), covered by tests/test_resource.py.
    from opentelemetry.sdk.extension.aws.resource.ecs import _get_logs_resource

    doc = {"LogDriver": driver, "LogOptions": dict(options), "ContainerARN": container_arn}
    detected = _get_logs_resource(doc).attributes  # type: ignore[no-untyped-call]
    out: dict[str, AttributeValue] = {}
    for key, value in detected.items():
        kept = [v for v in value if v] if isinstance(value, list | tuple) else value
        if kept:
            out[key] = kept
    return out


def build_resource(reading: MetadataReading, host: HostInfo | None = None) -> Resource:
    """The SDK Resource of a probe: SDK defaults < detected attributes < OTEL_RESOURCE_ATTRIBUTES/SERVICE_NAME."""
    detected: dict[str, AttributeValue] = {contract.SERVICE_NAME: contract.DEFAULT_SERVICE_NAME}
    detected.update(container_attributes(reading, host or HostInfo.current()))
    return Resource.create(detected).merge(OTELResourceDetector().detect())
