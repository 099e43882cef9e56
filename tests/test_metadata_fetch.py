"""Reading task metadata over HTTP from the emulator, including endpoints that misbehave."""

from __future__ import annotations

import socket
import time

import pytest

from otel_scale import contract
from otel_scale.emulator.ecs import EcsMetadataEmulator, EmulatedTask, Fault, default_task
from otel_scale.metadata.fetch import ENV_V3, ENV_V4, read_ecs_metadata


def test_absent_when_not_on_ecs() -> None:
    reading = read_ecs_metadata({})
    assert reading.status == contract.METADATA_ABSENT
    assert reading.task is None
    assert reading.problems == ()


def test_v3_only_is_explained() -> None:
    reading = read_ecs_metadata({ENV_V3: "http://169.254.170.2/v3/abc"})
    assert reading.status == contract.METADATA_ERROR
    assert "v4" in reading.problems[0]


def test_not_a_url() -> None:
    reading = read_ecs_metadata({ENV_V4: "169.254.170.2/v4/abc"})
    assert reading.status == contract.METADATA_ERROR
    assert "is not an http URL" in reading.problems[0]


@pytest.mark.parametrize("kind", ["fargate-linux", "fargate-windows", "ec2-linux"])
def test_reads_each_shape(emulator: EcsMetadataEmulator, kind: str) -> None:
    task = default_task(kind, time.time_ns())  # type: ignore[arg-type]
    reading = read_ecs_metadata({ENV_V4: emulator.add(task)})
    assert reading.status == contract.METADATA_OK, reading.problems
    assert reading.task is not None and reading.task.container is not None
    assert reading.task.pull_started_ns == task.pull_started_ns
    assert reading.task.pull_stopped_ns == task.pull_stopped_ns
    assert reading.task.container.started_ns == task.started_ns
    assert reading.task.container.docker_id == task.docker_id
    assert (reading.task.clock is None) == (kind == "fargate-windows")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(status=404, body=b"404 page not found\n"), "answered HTTP 404"),
        (Fault(status=403, body=b"{}"), "answered HTTP 403"),
        (Fault(body=b'{"Cluster": '), "sent invalid JSON"),
        (Fault(body=b"\xff\xfe not utf-8"), "sent invalid JSON"),
    ],
)
def test_final_errors_are_reported_without_waiting(emulator: EcsMetadataEmulator, fault: Fault, expected: str) -> None:
    uri = emulator.add(EmulatedTask(fault=fault))
    began = time.monotonic()
    reading = read_ecs_metadata({ENV_V4: uri})
    assert time.monotonic() - began < 0.5
    assert reading.status == contract.METADATA_ERROR
    assert reading.task is None
    assert expected in reading.problems[0]


def test_server_errors_are_retried_within_the_budget(emulator: EcsMetadataEmulator) -> None:
    uri = emulator.add(EmulatedTask(fault=Fault(status=503)))
    began = time.monotonic()
    reading = read_ecs_metadata({ENV_V4: uri}, budget_s=0.6)
    elapsed = time.monotonic() - began
    assert 0.5 <= elapsed < 1.0
    assert reading.status == contract.METADATA_ERROR
    assert "did not answer in time" in reading.problems[0] and "503" in reading.problems[0]


def test_a_hanging_endpoint_costs_at_most_the_budget(emulator: EcsMetadataEmulator) -> None:
    uri = emulator.add(EmulatedTask(fault=Fault(delay_s=5.0)))
    began = time.monotonic()
    reading = read_ecs_metadata({ENV_V4: uri})  # default budget: 2 s
    elapsed = time.monotonic() - began
    assert elapsed < 2.3
    assert reading.status == contract.METADATA_ERROR
    assert "did not answer in time" in reading.problems[0]


def test_nothing_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reading = read_ecs_metadata({ENV_V4: f"http://127.0.0.1:{port}/v4/x"}, budget_s=0.3)
    assert reading.status == contract.METADATA_ERROR
    assert "ConnectionRefusedError" in reading.problems[0]


def test_own_container_document_failing_still_uses_the_task(emulator: EcsMetadataEmulator) -> None:
    task = default_task("fargate-linux", time.time_ns())
    task.fault = Fault(status=404, body=b"404 page not found\n", paths=frozenset({""}))
    reading = read_ecs_metadata({ENV_V4: emulator.add(task)})
    assert reading.status == contract.METADATA_ERROR
    assert "answered HTTP 404" in reading.problems[0]
    assert reading.task is not None and reading.task.container is not None
    assert reading.task.container.started_ns == task.started_ns


def test_wrong_types_from_the_endpoint(emulator: EcsMetadataEmulator) -> None:
    task = default_task("ec2-linux", time.time_ns())
    task.document_patch = {"Revision": 7, "PullStoppedAt": "not a time"}
    reading = read_ecs_metadata({ENV_V4: emulator.add(task)})
    assert reading.status == contract.METADATA_ERROR
    assert any("'Revision' should be a string" in p for p in reading.problems)
    assert any("'PullStoppedAt' is not a valid timestamp" in p for p in reading.problems)
    assert reading.task is not None and reading.task.family == "probe"
