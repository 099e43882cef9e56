"""Example scale scenarios: the published 2022 story, on the simulated fleet by default.

Run another platform with `pytest tests/scenarios --scale-platform local`; save and compare headline numbers
with `--benchmark-autosave` and `--benchmark-compare`.
"""

from __future__ import annotations

import pytest

from otel_scale.pytest_plugin import ScaleRun

pytestmark = pytest.mark.scale


def test_fargate_linux_scales_out_completely(scale_benchmark: ScaleRun) -> None:
    result = scale_benchmark(profile="fargate-linux-spot", from_=5, to=2005, seed=7)
    assert result.complete, result.problems
    assert result.received == 2000
    assert result.missing == []
    headline = result.headline()
    # Published: first containers ~30 s after t0 (sim: checks the calibration holds).
    assert 15 < (headline["time_to_first_s"] or 0) < 45


def test_mirrored_windows_base_layers_start_sooner(scale_run: ScaleRun, request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--scale-platform") != "sim":
        pytest.skip("compares two 3,200-container Windows runs: simulated fleet only")
    vendor = scale_run(profile="fargate-windows", to=3200, seed=3)
    mirrored = scale_run(profile="fargate-windows-mirrored", to=3200, seed=3)
    assert vendor.complete and mirrored.complete
    v, m = vendor.headline(), mirrored.headline()
    # Published: first ~9 min vs just before 6 min; all 3,200 just before 15 min vs just after 10 min.
    assert (m["time_to_first_s"] or 0) + 60 < (v["time_to_first_s"] or 0)
    assert (m["time_to_100pct_s"] or 0) + 120 < (v["time_to_100pct_s"] or 0)
