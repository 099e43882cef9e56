from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_scale.emulator.ecs import EcsMetadataEmulator
from otel_scale.sinks.memory import InMemoryTraceSink
from otel_scale.sinks.otlp_http import OtlpHttpReceiver

DATA = Path(__file__).parent / "data"


def load_sample(kind: str) -> dict[str, Any]:
    """An ECS `/task` sample document (tests/data/ecs/<kind>-task.json)."""
    doc: dict[str, Any] = json.loads((DATA / "ecs" / f"{kind}-task.json").read_text())
    return doc


@pytest.fixture
def emulator() -> Iterator[EcsMetadataEmulator]:
    with EcsMetadataEmulator() as running:
        yield running


@pytest.fixture
def sink() -> InMemoryTraceSink:
    return InMemoryTraceSink()


@pytest.fixture
def receiver(sink: InMemoryTraceSink) -> Iterator[OtlpHttpReceiver]:
    with OtlpHttpReceiver(sink.on_traces) as running:
        yield running
