"""Profiles load, refuse nonsense clearly, and plan deterministic timelines calibrated to published figures."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from otel_scale.platforms.fleet import TokenBucket, plan_fleet
from otel_scale.profiles import ProfileError, builtin_profiles, load_profile


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_builtin_profiles() -> None:
    assert {"fargate-linux-spot", "fargate-windows", "fargate-windows-mirrored", "ec2-linux"} <= set(builtin_profiles())
    for name in builtin_profiles():
        profile = load_profile(name)
        assert profile.name == name
        assert profile.zones


def test_unknown_profile_lists_the_builtin_ones() -> None:
    with pytest.raises(ProfileError, match="unknown profile 'fargate-linux'; built-in profiles: ec2-linux"):
        load_profile("fargate-linux")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind = 'lambda'", "kind must be one of"),
        ("kind = 'fargate-linux'\n[launch]\nservices = 1\n", "missing or malformed"),
        ("not toml = = 1", "cannot be read"),
        (
            "kind = 'fargate-linux'\n[launch]\naccount_burst=1\naccount_rate_per_s=1\nservice_burst=1\n"
            "service_rate_per_min=60\nprovisioning_s = {dist='gamma', k=1}\n[phases]\ncontainer_start_s=1\n"
            "app_init_s=1\n[[zones]]\nname='a'\npull_s=1\n",
            "unknown dist 'gamma'",
        ),
        (
            "kind = 'fargate-linux'\n[launch]\naccount_burst=1\naccount_rate_per_s=1\nservice_burst=1\n"
            "service_rate_per_min=60\nprovisioning_s = {dist='normal', mean=1}\n[phases]\ncontainer_start_s=1\n"
            "app_init_s=1\n[[zones]]\nname='a'\npull_s=1\n",
            "normal needs a number 'sd'",
        ),
    ],
)
def test_broken_profile_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_a_user_profile_file_works(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(
        "kind = 'ec2-linux'\n[launch]\naccount_burst=5\naccount_rate_per_s=2\nservice_burst=5\n"
        "service_rate_per_min=600\nprovisioning_s=1\n[phases]\ncontainer_start_s=0.5\napp_init_s=0.25\n"
        "[[zones]]\nname='eu-west-1a'\npull_s={dist='uniform', low=2, high=3}\n"
    )
    plan = plan_fleet(load_profile(path), 20, seed=1)
    assert len(plan.tasks) == 20
    # burst 5, then 2 per second: the 20th launch is 7.5 s after the first.
    assert plan.tasks[-1].launch_s == pytest.approx(7.5)
    assert all(2 <= t.pull_s <= 3 for t in plan.tasks)


def test_token_bucket() -> None:
    bucket = TokenBucket(burst=2, rate_per_s=4.0)
    assert bucket.ready_at(0.0) == 0.0
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.ready_at(0.0) == pytest.approx(0.25)


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    profile = load_profile("fargate-linux-spot")
    a, b, c = plan_fleet(profile, 500, 1), plan_fleet(profile, 500, 1), plan_fleet(profile, 500, 2)
    assert [(t.task_id, t.ready_s) for t in a.tasks] == [(t.task_id, t.ready_s) for t in b.tasks]
    assert [t.task_id for t in a.tasks] != [t.task_id for t in c.tasks]


def test_fargate_launch_rate_limits() -> None:
    plan = plan_fleet(load_profile("fargate-linux-spot"), 5000, seed=4)
    launches = sorted(t.launch_s for t in plan.tasks)
    # Two services at 500/min each (burst 50 each): at most 2 x (500 + 50) in any minute, 1,000/min sustained.
    for start in range(0, int(launches[-1]) - 60, 15):
        assert sum(1 for x in launches if start <= x < start + 60) <= 1100
    assert (len(launches) - 100) / (launches[-1] - launches[0]) == pytest.approx(1000 / 60, rel=0.02)
    # ...and the account bucket: burst 100, 20 per second.
    assert sum(1 for x in launches if x < 1.0) <= 100 + 20


def test_linux_calibration_matches_the_published_figures() -> None:
    profile = load_profile("fargate-linux-spot")
    plan = plan_fleet(profile, 9995, seed=1)
    ready = sorted(t.ready_s for t in plan.tasks)
    pulls = [t.pull_s for t in plan.tasks]
    assert 540 <= ready[-1] <= 720  # 9,994 in ~10 min
    assert statistics.mean(pulls) == pytest.approx(21, abs=1.0)  # mean 21 s
    assert quantile(pulls, 0.95) == pytest.approx(33, abs=1.5)  # P95 33 s
    by_zone: dict[str, list[float]] = {}
    for task in plan.tasks:
        by_zone.setdefault(task.zone, []).append(task.pull_s)
    p99 = {zone: quantile(v, 0.99) for zone, v in by_zone.items()}
    fastest = min(p99, key=lambda z: p99[z])
    assert [z.published_id for z in profile.zones if z.name == fastest] == ["use1-az6"]
    assert p99[fastest] == pytest.approx(26, abs=1.5)
    three_thousand = sorted(t.ready_s for t in plan_fleet(profile, 3200, seed=1).tasks)
    assert 15 <= three_thousand[0] <= 45  # first ~30 s
    assert 200 <= three_thousand[-1] <= 245  # 3,200 just before 4 min


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [("fargate-windows", (420, 600), (840, 1000)), ("fargate-windows-mirrored", (280, 380), (560, 700))],
)
def test_windows_calibration(name: str, first: tuple[float, float], last: tuple[float, float]) -> None:
    ready = sorted(t.ready_s for t in plan_fleet(load_profile(name), 3200, seed=1).tasks)
    assert first[0] <= ready[0] <= first[1]
    assert last[0] <= ready[-1] <= last[1]


def test_windows_pull_matches_the_published_figures() -> None:
    pulls = [t.pull_s for t in plan_fleet(load_profile("fargate-windows"), 3200, seed=1).tasks]
    assert statistics.mean(pulls) == pytest.approx(280, abs=10)
    assert quantile(pulls, 0.95) == pytest.approx(360, abs=15)
