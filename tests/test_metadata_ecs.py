"""Parsing the AWS-documented task metadata shapes, and every broken variant we know of."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from otel_scale.metadata.ecs import arn_parts, cluster_arn, parse_task_metadata, split_image, task_id
from otel_scale.timefmt import parse_rfc3339_ns
from tests.conftest import load_sample


def parse_sample(kind: str, *, own_container: bool = True) -> tuple[Any, list[str]]:
    doc = load_sample(kind)
    return parse_task_metadata(doc, doc["Containers"][0] if own_container else None)


def test_fargate_linux_sample() -> None:
    task, problems = parse_sample("fargate-linux")
    assert problems == []
    assert task.task_arn == "arn:aws:ecs:us-east-1:123456789012:task/bench/bfa2636268144d039771334145e490c5"
    assert task.cluster == "arn:aws:ecs:us-east-1:123456789012:cluster/bench"
    assert (task.family, task.revision) == ("probe", "5")
    assert task.availability_zone == "us-east-1d"
    assert task.launch_type == "FARGATE"
    assert task.service_name == "probe-svc"
    assert task.pull_started_ns == 1_689_954_333_532_811_081  # all nine digits kept
    assert task.pull_stopped_ns == 1_689_954_338_541_068_435
    assert task.clock is not None
    assert task.clock.error_bound_ms == pytest.approx(0.446931)
    assert task.clock.sync_status == "SYNCHRONIZED"
    assert task.clock.reference_time == "2023-07-21T16:09:17Z"
    c = task.container
    assert c.docker_id == "bfa2636268144d039771334145e490c5-3681984407"
    assert c.started_ns == parse_rfc3339_ns("2023-07-21T15:45:44.954460255Z")
    assert c.log_driver == "awslogs"
    assert c.log_options["awslogs-group"] == "/ecs/probe"


def test_fargate_windows_sample_has_no_clock_and_short_fractions() -> None:
    task, problems = parse_sample("fargate-windows")
    assert problems == []
    assert task.clock is None
    assert task.pull_started_ns % 1_000_000_000 == 100_000_000
    assert task.pull_stopped_ns % 1_000_000_000 == 0
    assert task.container.started_ns % 1_000_000_000 == 913_683_140
    assert task.container.log_driver is None


def test_ec2_sample() -> None:
    task, problems = parse_sample("ec2-linux")
    assert problems == []
    assert task.cluster == "default"
    assert task.launch_type == "EC2"
    assert task.vpc_id == "vpc-1234567890abcdef0"
    assert len(task.container.docker_id) == 64
    assert task.container.docker_name == "ecs-probe-7-probe-e4e8e495e8baa5de1a00"
    assert task.clock.sync_status == "NOT_SYNCHRONIZED"
    assert task.container.created_ns < task.container.started_ns


def test_own_container_document_unavailable_uses_the_only_normal_container() -> None:
    task, problems = parse_sample("fargate-linux", own_container=False)
    assert problems == []
    assert task.container.name == "probe"


def test_internal_containers_are_ignored_when_choosing() -> None:
    doc = load_sample("fargate-linux")
    pause = copy.deepcopy(doc["Containers"][0]) | {"Name": "~internal~ecs~pause", "Type": "CNI_PAUSE"}
    doc["Containers"].insert(0, pause)
    task, problems = parse_task_metadata(doc, None)
    assert problems == []
    assert task is not None and task.container is not None
    assert task.container.name == "probe"


def test_two_normal_containers_and_no_own_document_is_a_problem() -> None:
    doc = load_sample("fargate-linux")
    doc["Containers"].append(copy.deepcopy(doc["Containers"][0]) | {"Name": "sidecar"})
    task, problems = parse_task_metadata(doc, None)
    assert task is not None
    assert task.container is None
    assert problems == ["this container's metadata is unavailable and the task has 2 NORMAL containers"]
    assert task.pull_started_ns is not None  # the rest is still used


def mutate(**changes: Any) -> tuple[Any, list[str]]:
    doc = load_sample("fargate-linux")
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return parse_task_metadata(doc, doc["Containers"][0])


@pytest.mark.parametrize(
    ("changes", "expected_problem", "kept"),
    [
        ({"TaskARN": None}, "task field 'TaskARN' is missing", "family"),
        ({"Family": ""}, "task field 'Family' is empty", "task_arn"),
        ({"Revision": 5}, "task field 'Revision' should be a string, got int 5", "family"),
        (
            {"AvailabilityZone": ["us-east-1a"]},
            "task field 'AvailabilityZone' should be a string, got list",
            "task_arn",
        ),
        ({"PullStartedAt": "soon"}, "task field 'PullStartedAt' is not a valid timestamp", "pull_stopped_ns"),
        (
            {"PullStartedAt": 1689954333},
            "task field 'PullStartedAt' is not a valid timestamp",
            "pull_stopped_ns",
        ),
        (
            {"PullStoppedAt": None},
            "task field 'PullStartedAt' is present but 'PullStoppedAt' is missing",
            "pull_started_ns",
        ),
        (
            {"PullStoppedAt": "2023-07-21T15:45:30Z"},
            "task field 'PullStoppedAt' (2023-07-21T15:45:30Z) is before 'PullStartedAt'",
            "task_arn",
        ),
        ({"ClockDrift": "fine"}, "task field 'ClockDrift' should be an object, got str", "pull_started_ns"),
        (
            {"ClockDrift": {"ClockErrorBound": "0.4"}},
            "task ClockDrift field 'ClockErrorBound' should be a number, got str",
            "pull_started_ns",
        ),
        ({"TaskARN": "task/abc"}, "task field 'TaskARN' is not an ECS task ARN", "family"),
    ],
)
def test_broken_task_fields_are_reported_and_the_rest_kept(
    changes: dict[str, Any], expected_problem: str, kept: str
) -> None:
    task, problems = mutate(**changes)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected_problem)
    assert getattr(task, kept) is not None


@pytest.mark.parametrize(
    ("container", "expected_problem"),
    [
        ([], "container should be a JSON object, got list"),
        ({"Name": "probe"}, "container field 'DockerId' is missing"),
        (
            {"DockerId": "x", "Name": "probe", "StartedAt": "2023-07-21 15:45:44"},
            "container field 'StartedAt' is not a valid",
        ),
        (
            {"DockerId": "x", "Name": "probe", "StartedAt": "2023-07-21T15:45:35Z"},
            "container field 'StartedAt' is before",
        ),
    ],
)
def test_broken_container_document(container: Any, expected_problem: str) -> None:
    doc = load_sample("fargate-linux")
    task, problems = parse_task_metadata(doc, container)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected_problem)
    assert task is not None
    assert task.task_arn is not None


@pytest.mark.parametrize("doc", [[], "task", 42, None])
def test_task_document_that_is_not_an_object(doc: Any) -> None:
    task, problems = parse_task_metadata(doc, None)
    assert task is None
    assert problems[0].startswith("task metadata should be a JSON object")


def test_arn_helpers() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:task/bench/bfa2636268144d039771334145e490c5"
    assert arn_parts(arn) == ("us-east-1", "123456789012", "task/bench/bfa2636268144d039771334145e490c5")
    assert task_id(arn) == "bfa2636268144d039771334145e490c5"
    assert task_id("arn:aws:ecs:us-east-1:123456789012:task/0b69d5c0-d655-4695-98cd-5d2d526d9d5a") == (
        "0b69d5c0-d655-4695-98cd-5d2d526d9d5a"
    )
    assert cluster_arn("default", arn) == "arn:aws:ecs:us-east-1:123456789012:cluster/default"
    assert cluster_arn("arn:aws:ecs:us-east-1:1:cluster/x", arn) == "arn:aws:ecs:us-east-1:1:cluster/x"
    assert (
        cluster_arn("default", "arn:aws-cn:ecs:cn-north-1:1:task/d/x") == "arn:aws-cn:ecs:cn-north-1:1:cluster/default"
    )
    assert arn_parts("arn:aws:s3:::bucket") is None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/probe:1.2.3",
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/probe", "1.2.3"),
        ),
        ("public.ecr.aws/acme/probe", ("public.ecr.aws/acme/probe", None)),
        ("localhost:5000/probe", ("localhost:5000/probe", None)),
        ("localhost:5000/probe:dev", ("localhost:5000/probe", "dev")),
        ("probe@sha256:abcd", ("probe", None)),
        (
            "mcr.microsoft.com/windows/servercore:ltsc2019",
            ("mcr.microsoft.com/windows/servercore", "ltsc2019"),
        ),
    ],
)
def test_split_image(image: str, expected: tuple[str, str | None]) -> None:
    assert split_image(image) == expected
