"""Each answer on hand-made spans, and recovery of planted parameters from simulated runs."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from otel_scale import contract as c
from otel_scale.analysis.answers import ALL_RUNS, explain, heatmap, phase_percentiles, scale_curve
from otel_scale.analysis.engine import Analysis, AnalysisError
from otel_scale.platforms.fleet import plan_fleet
from otel_scale.profiles import load_profile
from otel_scale.runner import Scenario, run_scale
from tests.analysis.test_engine import container, line, scenario


@pytest.fixture
def ten(tmp_path: Path) -> Analysis:
    """Ten containers; pulls 10..19 s in az-a (even) and az-b (odd, +20 s), pull starts 0..9 s after t0."""
    containers = [
        container(i, "az-b" if i % 2 else "az-a", 10.0 + i + (20 if i % 2 else 0), offset=float(i)) for i in range(10)
    ]
    (tmp_path / "t.jsonl").write_bytes(line(scenario(expected=12), *containers[:5]) + line(*containers[5:]))
    return Analysis.open(tmp_path)


def test_scale_curve(ten: Analysis) -> None:
    curve = scale_curve(ten)
    ready = sorted(i + 10.0 + i + (20 if i % 2 else 0) + 2 for i in range(10))
    assert curve.ready_s == ready
    assert curve.target == 12 and curve.target_known
    assert curve.time_to_first_s == ready[0]
    assert curve.time_to["50%"] == ready[5]  # 6 of 12
    assert curve.time_to["90%"] is None  # 11 of 12 never arrived
    assert curve.time_to["100%"] is None
    assert curve.mean_start_rate == pytest.approx(9 / (ready[-1] - ready[0]))


def test_phase_percentiles(ten: Analysis) -> None:
    stats = {
        s.group[c.CLOUD_AVAILABILITY_ZONE]: s
        for s in phase_percentiles(ten, by=[c.CLOUD_AVAILABILITY_ZONE], phases=["pull"])
    }
    a = [10.0 + i for i in range(0, 10, 2)]
    assert stats["az-a"].count == 5
    assert stats["az-a"].mean == pytest.approx(statistics.mean(a))
    assert stats["az-a"].p50 == pytest.approx(statistics.median(a))
    assert stats["az-a"].max == pytest.approx(max(a))
    assert stats["az-b"].p95 == pytest.approx(
        statistics.quantiles([30.0 + i for i in range(1, 10, 2)], n=20, method="inclusive")[-1]
    )
    everything = phase_percentiles(ten, by=[])
    assert {s.phase for s in everything} == {"pull", "start", "init", "total"}
    assert [s.count for s in everything] == [10, 10, 10, 10]


def test_unknown_attribute_or_phase(ten: Analysis) -> None:
    with pytest.raises(AnalysisError, match="unknown attribute"):
        phase_percentiles(ten, by=["cloud.zone"])
    with pytest.raises(AnalysisError, match="unknown phase"):
        phase_percentiles(ten, phases=["boot"])


def test_heatmap(ten: Analysis) -> None:
    hm = heatmap(ten, per_zone=True, time_bucket_s=5.0, duration_bucket_s=10.0)
    assert hm.points("az-a") == [(0.0, 10.0, 3), (5.0, 10.0, 2)]
    assert sum(n for _, _, n in hm.points("az-b")) == 5


def test_explain_finds_the_planted_zone(ten: Analysis) -> None:
    result = explain(ten, where="pull_s > 25", min_support=1)
    assert (result.selected, result.baseline) == (5, 5)
    top = result.attributes[0]
    assert top.attribute == c.CLOUD_AVAILABILITY_ZONE
    assert top.score == pytest.approx(1.0)
    assert top.values[0].value == "az-b"


def test_explain_needs_support(ten: Analysis) -> None:
    result = explain(ten, where="pull_s > 38")  # one container: below the default minimum support of 5
    assert all(a.kind == "numeric" for a in result.attributes if a.score > 0) or not result.attributes


def test_several_runs_need_a_run_id(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_bytes(
        line(scenario("r1"), container(1, "a", 10.0, run="r1"))
        + line(scenario("r2", start=1000.0), container(2, "a", 20.0, run="r2"))
    )
    with Analysis.open(tmp_path) as a:
        with pytest.raises(AnalysisError, match="2 runs in this data"):
            scale_curve(a)
        assert scale_curve(a, "r2").ready_s == [32.0 - 1000.0]
        assert len(phase_percentiles(a, by=[], run_id=ALL_RUNS, phases=["pull"])) == 1
        with pytest.raises(AnalysisError, match="no run 'r3'"):
            scale_curve(a, "r3")


# --- planted parameters on simulated runs --------------------------------------------------------------


@pytest.fixture(scope="module")
def linux(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    run = run_scale(Scenario("sim", "fargate-linux-spot", 0, 4000, seed=21), tmp_path_factory.mktemp("linux"))
    return Analysis.open(run.run_dir)


def test_percentiles_match_the_generated_timelines(linux: Analysis) -> None:
    plan = plan_fleet(load_profile("fargate-linux-spot"), 4000, seed=21)  # the timeline the run replayed
    for stats in phase_percentiles(linux, by=[c.CLOUD_AVAILABILITY_ZONE], phases=["pull"]):
        zone = stats.group[c.CLOUD_AVAILABILITY_ZONE]
        truth = sorted(t.pull_s for t in plan.tasks if t.zone == zone)
        assert stats.count == len(truth)
        assert stats.mean == pytest.approx(statistics.mean(truth), rel=0.02)
        assert stats.p50 == pytest.approx(statistics.median(truth), rel=0.02)
        assert stats.p95 == pytest.approx(statistics.quantiles(truth, n=20, method="inclusive")[-1], rel=0.02)
    init_truth = [t.app_init_s for t in plan.tasks]
    [init] = phase_percentiles(linux, by=[], phases=["init"])
    assert init.p50 == pytest.approx(statistics.median(init_truth), rel=0.02)
    curve = scale_curve(linux)
    assert curve.time_to["100%"] == pytest.approx(plan.duration_s, rel=0.02)


def test_the_slowest_zone_ranks_slowest(linux: Analysis) -> None:
    profile = load_profile("fargate-linux-spot")
    stats = phase_percentiles(linux, by=[c.CLOUD_AVAILABILITY_ZONE], phases=["pull"])
    fastest = min(stats, key=lambda s: s.p99 or 0).group[c.CLOUD_AVAILABILITY_ZONE]
    assert [z.published_id for z in profile.zones if z.name == fastest] == ["use1-az6"]
    result = explain(linux)
    assert result.attributes[0].attribute == c.CLOUD_AVAILABILITY_ZONE
    slow_zones = {v.value for v in result.attributes[0].values[:2]}
    assert {z.published_id for z in profile.zones if z.name in slow_zones} == {"use1-az1", "use1-az5"}


def test_explain_ranks_the_planted_os_first(tmp_path: Path) -> None:
    run_scale(Scenario("sim", "fargate-linux-spot", 0, 1500, seed=1), tmp_path)
    run_scale(Scenario("sim", "fargate-windows", 0, 300, seed=1), tmp_path)
    with Analysis.open(tmp_path) as both:
        result = explain(both, run_id=ALL_RUNS, where=f'pull_s > 60 AND "{c.OS_TYPE}" IS NOT NULL')
        assert result.attributes[0].attribute in (
            c.OS_TYPE,
            c.CONTAINER_IMAGE_TAGS,
            c.CONTAINER_IMAGE_NAME,
            "benchmark.run.id",
            c.BENCHMARK_CAPACITY_TYPE,
        )
        os_rank = next(a for a in result.attributes if a.attribute == c.OS_TYPE)
        assert os_rank.score == pytest.approx(1.0)
        assert os_rank.values[0].value == "windows"
