"""The ECS metadata emulator serves AWS's shapes, and the `emulate-ecs` command works for a user."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from otel_scale.emulator.ecs import EcsMetadataEmulator, EmulatedTask, default_task, task_from_spec
from otel_scale.metadata.ecs import parse_task_metadata
from otel_scale.timefmt import parse_rfc3339_ns
from tests.conftest import load_sample


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"
        return json.loads(response.read())


@pytest.mark.parametrize("kind", ["fargate-linux", "fargate-windows", "ec2-linux"])
def test_documents_have_the_keys_of_the_aws_samples(emulator: EcsMetadataEmulator, kind: str) -> None:
    task = default_task(kind, time.time_ns())  # type: ignore[arg-type]
    uri = emulator.add(task)
    served = fetch(f"{uri}/task")
    sample = load_sample(kind)
    assert set(sample) <= set(served)  # every key AWS shows for this kind
    if kind == "fargate-windows":  # ... and none the agent leaves out on it
        assert not {"ClockDrift", "EphemeralStorageMetrics", "VPCID"} & set(served)
    if kind == "ec2-linux":
        assert "VPCID" in served and "EphemeralStorageMetrics" not in served
        assert not served["Cluster"].startswith("arn:")
    container = fetch(uri)
    assert container == served["Containers"][0]
    sample_container = sample["Containers"][0]
    assert set(sample_container) - {"LogDriver", "LogOptions"} <= set(container)
    parsed, problems = parse_task_metadata(served, container)
    assert problems == []
    assert parsed is not None and parsed.pull_started_ns == task.pull_started_ns


def test_each_task_has_its_own_endpoint(emulator: EcsMetadataEmulator) -> None:
    tasks = [default_task("fargate-linux", time.time_ns(), i) for i in range(3)]
    uris = [emulator.add(t) for t in tasks]
    assert len(set(uris)) == 3
    for task, uri in zip(tasks, uris, strict=True):
        assert fetch(f"{uri}/task")["TaskARN"] == task.task_arn
        stats = fetch(f"{uri}/stats")
        assert stats["id"] == task.docker_id and "memory_stats" in stats
        assert set(fetch(f"{uri}/task/stats")) == {task.docker_id}
        assert fetch(f"{uri}/taskWithTags")["TaskTags"]


def test_unknown_paths_are_404_like_the_agent(emulator: EcsMetadataEmulator) -> None:
    uri = emulator.add(EmulatedTask())
    for url in (f"{emulator.base_url}/v4/nope/task", f"{uri}/nothing", f"{emulator.base_url}/v3/x"):
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(url, timeout=5)
        assert raised.value.code == 404


def test_nanosecond_instants_are_published_like_go() -> None:
    task = EmulatedTask(
        pull_started_ns=1_689_954_333_532_811_081,
        pull_stopped_ns=1_689_954_338_500_000_000,
        started_ns=1_689_954_344_000_000_000,
    )
    doc = task.task_document()
    assert doc["PullStartedAt"] == "2023-07-21T15:45:33.532811081Z"
    assert doc["PullStoppedAt"] == "2023-07-21T15:45:38.5Z"
    assert doc["Containers"][0]["StartedAt"] == "2023-07-21T15:45:44Z"


def test_task_from_spec() -> None:
    task = task_from_spec(
        {
            "kind": "ec2-linux",
            "availability_zone": "eu-west-1c",
            "pull_started_at": "2024-02-11T08:12:01.000000001Z",
            "pull_stopped_at": 1707639129500000000,
        }
    )
    assert task.pull_started_ns == parse_rfc3339_ns("2024-02-11T08:12:01.000000001Z")
    assert task.pull_stopped_ns == 1707639129500000000
    with pytest.raises(ValueError, match="unknown task field"):
        task_from_spec({"zone": "x"})
    with pytest.raises(ValueError, match="unknown task kind"):
        task_from_spec({"kind": "lambda"})


def test_emulate_ecs_command(tmp_path: Path) -> None:
    spec = tmp_path / "tasks.json"
    spec.write_text(json.dumps([{"kind": "fargate-windows", "availability_zone": "us-east-1b"}, {"kind": "ec2-linux"}]))
    cli = [sys.executable, "-m", "otel_scale.cli", "emulate-ecs", "--tasks", str(spec)]
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        uris = [re.match(r"ECS_CONTAINER_METADATA_URI_V4=(\S+)", line).group(1) for line in lines]  # type: ignore[union-attr]
        assert fetch(f"{uris[0]}/task")["AvailabilityZone"] == "us-east-1b"
        assert fetch(f"{uris[1]}/task")["LaunchType"] == "EC2"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.returncode == 0


def test_emulate_ecs_rejects_a_bad_task_file(tmp_path: Path) -> None:
    spec = tmp_path / "tasks.json"
    spec.write_text('{"kind": "fargate-linux"}')
    result = subprocess.run(
        [sys.executable, "-m", "otel_scale.cli", "emulate-ecs", "--tasks", str(spec)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "must hold a JSON list" in result.stderr
    assert "Traceback" not in result.stderr
