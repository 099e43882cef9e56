"""The contract's semantic-convention keys are the ones the OpenTelemetry semconv package defines."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import (
    aws_attributes,
    cloud_attributes,
    container_attributes,
    host_attributes,
    os_attributes,
)
from opentelemetry.semconv.attributes import service_attributes

from otel_scale import contract as c


def test_semconv_keys() -> None:
    pairs = {
        c.SERVICE_NAME: service_attributes.SERVICE_NAME,
        c.CLOUD_PROVIDER: cloud_attributes.CLOUD_PROVIDER,
        c.CLOUD_PLATFORM: cloud_attributes.CLOUD_PLATFORM,
        c.CLOUD_REGION: cloud_attributes.CLOUD_REGION,
        c.CLOUD_ACCOUNT_ID: cloud_attributes.CLOUD_ACCOUNT_ID,
        c.CLOUD_AVAILABILITY_ZONE: cloud_attributes.CLOUD_AVAILABILITY_ZONE,
        c.CLOUD_RESOURCE_ID: cloud_attributes.CLOUD_RESOURCE_ID,
        c.AWS_ECS_CLUSTER_ARN: aws_attributes.AWS_ECS_CLUSTER_ARN,
        c.AWS_ECS_TASK_ARN: aws_attributes.AWS_ECS_TASK_ARN,
        c.AWS_ECS_TASK_ID: aws_attributes.AWS_ECS_TASK_ID,
        c.AWS_ECS_TASK_FAMILY: aws_attributes.AWS_ECS_TASK_FAMILY,
        c.AWS_ECS_TASK_REVISION: aws_attributes.AWS_ECS_TASK_REVISION,
        c.AWS_ECS_LAUNCHTYPE: aws_attributes.AWS_ECS_LAUNCHTYPE,
        c.AWS_ECS_CONTAINER_ARN: aws_attributes.AWS_ECS_CONTAINER_ARN,
        c.AWS_LOG_GROUP_NAMES: aws_attributes.AWS_LOG_GROUP_NAMES,
        c.AWS_LOG_GROUP_ARNS: aws_attributes.AWS_LOG_GROUP_ARNS,
        c.AWS_LOG_STREAM_NAMES: aws_attributes.AWS_LOG_STREAM_NAMES,
        c.AWS_LOG_STREAM_ARNS: aws_attributes.AWS_LOG_STREAM_ARNS,
        c.CONTAINER_ID: container_attributes.CONTAINER_ID,
        c.CONTAINER_NAME: container_attributes.CONTAINER_NAME,
        c.CONTAINER_IMAGE_NAME: container_attributes.CONTAINER_IMAGE_NAME,
        c.CONTAINER_IMAGE_TAGS: container_attributes.CONTAINER_IMAGE_TAGS,
        c.CONTAINER_IMAGE_ID: container_attributes.CONTAINER_IMAGE_ID,
        c.OS_TYPE: os_attributes.OS_TYPE,
        c.HOST_ARCH: host_attributes.HOST_ARCH,
    }
    for ours, theirs in pairs.items():
        assert ours == theirs


def test_well_known_values() -> None:
    assert cloud_attributes.CloudProviderValues.AWS.value == c.CLOUD_PROVIDER_AWS
    assert cloud_attributes.CloudPlatformValues.AWS_ECS.value == c.CLOUD_PLATFORM_AWS_ECS
    assert "fargate" in {v.value for v in aws_attributes.AwsEcsLaunchtypeValues}
    assert "amd64" in {v.value for v in host_attributes.HostArchValues}
    assert "windows" in {v.value for v in os_attributes.OsTypeValues}


def test_project_keys_stay_in_the_benchmark_namespace() -> None:
    ours = [v for k, v in vars(c).items() if k.isupper() and isinstance(v, str) and v.startswith("benchmark.")]
    assert len(ours) >= 8
    assert not any(v.startswith("aws.") for k, v in vars(c).items() if k.startswith(("METADATA", "CLOCK", "BENCHMARK")))
