"""Resource attributes per semantic conventions, for each metadata shape, and the environment's overrides."""

from __future__ import annotations

import pytest

from otel_scale import contract as c
from otel_scale.metadata.ecs import MetadataReading, parse_task_metadata
from otel_scale.resource import HostInfo, build_resource, container_attributes, normalize_arch
from tests.conftest import load_sample

LINUX_AMD64 = HostInfo("linux", "amd64")


def reading_of(kind: str) -> MetadataReading:
    doc = load_sample(kind)
    task, problems = parse_task_metadata(doc, doc["Containers"][0])
    assert problems == []
    return MetadataReading(status="ok", task=task)


def test_fargate_linux_attributes() -> None:
    attrs = container_attributes(reading_of("fargate-linux"), LINUX_AMD64)
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/bench/bfa2636268144d039771334145e490c5"
    assert attrs == {
        c.CLOUD_PROVIDER: "aws",
        c.CLOUD_PLATFORM: "aws_ecs",
        c.CLOUD_REGION: "us-east-1",
        c.CLOUD_ACCOUNT_ID: "123456789012",
        c.CLOUD_AVAILABILITY_ZONE: "us-east-1d",
        c.AWS_ECS_CLUSTER_ARN: "arn:aws:ecs:us-east-1:123456789012:cluster/bench",
        c.AWS_ECS_TASK_ARN: task_arn,
        c.AWS_ECS_TASK_ID: "bfa2636268144d039771334145e490c5",
        c.AWS_ECS_TASK_FAMILY: "probe",
        c.AWS_ECS_TASK_REVISION: "5",
        c.AWS_ECS_LAUNCHTYPE: "fargate",
        c.AWS_ECS_CONTAINER_ARN: "arn:aws:ecs:us-east-1:123456789012:container/bench/"
        "bfa2636268144d039771334145e490c5/f65b461d-aa09-4acb-a579-9785c0530cbc",
        c.CONTAINER_ID: "bfa2636268144d039771334145e490c5-3681984407",
        c.CONTAINER_NAME: "probe",
        c.CONTAINER_IMAGE_NAME: "123456789012.dkr.ecr.us-east-1.amazonaws.com/probe",
        c.CONTAINER_IMAGE_TAGS: ["1.2.3"],
        c.CONTAINER_IMAGE_ID: "sha256:8059bdd0058510c03ae4c808de8c4fd2c1f3c1b6d9ea75487f1e5caa5ececa02",
        c.AWS_LOG_GROUP_NAMES: ["/ecs/probe"],
        c.AWS_LOG_GROUP_ARNS: ["arn:aws:logs:us-east-1:123456789012:log-group:/ecs/probe"],
        c.AWS_LOG_STREAM_NAMES: ["ecs/probe/bfa2636268144d039771334145e490c5"],
        c.AWS_LOG_STREAM_ARNS: [
            "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/probe:log-stream:ecs/probe/bfa2636268144d039771334145e490c5"
        ],
        c.OS_TYPE: "linux",
        c.HOST_ARCH: "amd64",
    }


def test_ec2_attributes_build_the_cluster_arn_and_use_the_runtime_name() -> None:
    attrs = container_attributes(reading_of("ec2-linux"), HostInfo("linux", "arm64"))
    assert attrs[c.AWS_ECS_CLUSTER_ARN] == "arn:aws:ecs:eu-west-1:210987654321:cluster/default"
    assert attrs[c.AWS_ECS_LAUNCHTYPE] == "ec2"
    assert attrs[c.CLOUD_REGION] == "eu-west-1"
    assert attrs[c.CONTAINER_NAME] == "ecs-probe-7-probe-e4e8e495e8baa5de1a00"
    assert attrs[c.CONTAINER_IMAGE_NAME] == "public.ecr.aws/acme/probe"
    assert c.CONTAINER_IMAGE_TAGS not in attrs  # the image reference has no tag
    assert not any(k.startswith("aws.log.") for k in attrs)  # json-file driver
    assert attrs[c.HOST_ARCH] == "arm64"


def test_windows_attributes() -> None:
    attrs = container_attributes(reading_of("fargate-windows"), HostInfo("windows", "amd64"))
    assert attrs[c.OS_TYPE] == "windows"
    assert attrs[c.CONTAINER_IMAGE_TAGS] == ["ltsc2019"]
    assert attrs[c.CLOUD_AVAILABILITY_ZONE] == "us-east-1b"


def test_no_metadata_gives_only_host_attributes() -> None:
    assert container_attributes(MetadataReading.absent(), LINUX_AMD64) == {
        c.OS_TYPE: "linux",
        c.HOST_ARCH: "amd64",
    }


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", "amd64"),
        ("AMD64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("riscv64", "riscv64"),
    ],
)
def test_arch_spelling(machine: str, arch: str) -> None:
    assert normalize_arch(machine) == arch


def test_environment_overrides_and_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES",
        "benchmark.run.id=run-42,benchmark.capacity_type=spot,cloud.availability_zone=override-az",
    )
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-probe")
    attrs = build_resource(reading_of("fargate-linux"), LINUX_AMD64).attributes
    assert attrs[c.BENCHMARK_RUN_ID] == "run-42"
    assert attrs[c.BENCHMARK_CAPACITY_TYPE] == "spot"
    assert attrs[c.CLOUD_AVAILABILITY_ZONE] == "override-az"
    assert attrs[c.SERVICE_NAME] == "my-probe"
    assert attrs["telemetry.sdk.name"] == "opentelemetry"
    assert attrs[c.AWS_ECS_TASK_ID] == "bfa2636268144d039771334145e490c5"


def test_default_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert build_resource(MetadataReading.absent(), LINUX_AMD64).attributes[c.SERVICE_NAME] == "otel-scale-probe"
