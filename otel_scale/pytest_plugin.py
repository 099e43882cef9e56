"""pytest plugin (entry point `pytest11`): run scale scenarios from tests, on the platform the command line picks.

Options: `--scale-platform` (sim), `--scale-profile` (overrides every scenario's profile), `--scale-speed`,
`--scale-otlp-endpoint` (send spans to a collector instead of the embedded receiver), `--scale-out` (where run
directories go; default: pytest's temporary directory).

Fixtures:
- `scale_run(to=..., from_=0, profile=..., seed=0, speed=None)` runs a scenario and returns its `RunResult`.
- `scale_benchmark(...)`, the same through pytest-benchmark: the run's wall time is the measured time and its
  headline numbers (time to first/50/90/99/100 %, containers per second, expected, received) go into the
  benchmark's `extra_info`, so they are saved with `--benchmark-autosave` / `--benchmark-save` and appear
  side by side in the JSON that `--benchmark-compare` reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from otel_scale.runner import RunResult, Scenario, run_scale

ScaleRun = Callable[..., RunResult]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("otel-scale", "container scale scenarios")
    group.addoption("--scale-platform", default="sim", choices=("sim", "local"), help="platform for scenarios")
    group.addoption("--scale-profile", default=None, help="profile for every scenario (name or .toml path)")
    group.addoption("--scale-speed", default=None, help="virtual seconds per real second, or 'max'")
    group.addoption("--scale-otlp-endpoint", default=None, help="send spans here instead of the embedded receiver")
    group.addoption("--scale-out", default=None, help="directory for run directories (default: a temp dir)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scale: a container scale scenario (otel-scale)")


def _speed(text: str | None, platform: str) -> float | None:
    if text is None:
        return None if platform == "sim" else 60.0
    return None if text == "max" else float(text)


@pytest.fixture
def scale_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ScaleRun:
    config = request.config
    platform = config.getoption("--scale-platform")
    out = config.getoption("--scale-out")
    out_dir = Path(out) if out else tmp_path_factory.mktemp("scale-runs")

    def run(
        *, to: int, from_: int = 0, profile: str = "fargate-linux-spot", seed: int = 0, speed: float | None = None
    ) -> RunResult:
        scenario = Scenario(
            platform=platform,
            profile=config.getoption("--scale-profile") or profile,
            from_count=from_,
            to_count=to,
            seed=seed,
            speed=speed if speed is not None else _speed(config.getoption("--scale-speed"), platform),
        )
        return run_scale(scenario, out_dir, otlp_endpoint=config.getoption("--scale-otlp-endpoint"))

    return run


@pytest.fixture
def scale_benchmark(benchmark: Any, scale_run: ScaleRun) -> ScaleRun:
    def run(**kwargs: Any) -> RunResult:
        result: RunResult = benchmark.pedantic(scale_run, kwargs=kwargs, rounds=1, iterations=1)
        benchmark.extra_info.update(result.headline())
        benchmark.extra_info["run_id"] = result.run_id
        benchmark.extra_info["status"] = result.status
        return result

    return run
