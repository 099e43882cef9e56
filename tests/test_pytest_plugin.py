"""The pytest plugin: options, fixtures, and headline numbers in the saved benchmark JSON."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


def test_plugin_runs_a_scenario_and_saves_headline_numbers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_scale(scale_benchmark):
            result = scale_benchmark(profile="fargate-linux-spot", from_=5, to=105, seed=1)
            assert result.complete
            assert result.received == 100
        """
    )
    out = pytester.path / "bench.json"
    result = pytester.runpytest_subprocess(f"--benchmark-json={out}", "--scale-out", str(pytester.path / "runs"))
    result.assert_outcomes(passed=1)
    [bench] = json.loads(out.read_text())["benchmarks"]
    extra = bench["extra_info"]
    assert extra["expected"] == 100 and extra["received"] == 100
    assert extra["status"] == "complete"
    assert 0 < extra["time_to_first_s"] < extra["time_to_50pct_s"] < extra["time_to_100pct_s"]
    assert (pytester.path / "runs" / extra["run_id"] / "run.json").exists()


def test_profile_option_overrides_every_scenario(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json
        def test_scale(scale_run):
            result = scale_run(to=20)
            run = json.loads((result.run_dir / "run.json").read_text())
            assert run["scenario"]["profile"] == "ec2-linux"
        """
    )
    result = pytester.runpytest_subprocess("--scale-profile", "ec2-linux")
    result.assert_outcomes(passed=1)
