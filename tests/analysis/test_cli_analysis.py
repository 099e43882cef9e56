"""The analysis commands and the demo, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from otel_scale import contract as c
from otel_scale.runner import Scenario, run_scale


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_scale.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_scale(Scenario("sim", "fargate-linux-spot", 5, 1505, seed=4), tmp_path_factory.mktemp("runs")).run_dir


def test_analyze(run_dir: Path) -> None:
    result = cli("analyze", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "1,500 of 1,500 containers ready" in result.stdout
    assert "time to first" in result.stdout
    assert c.CLOUD_AVAILABILITY_ZONE in result.stdout
    as_json = json.loads(cli("analyze", str(run_dir), "--format", "json").stdout)
    assert as_json["scale_curve"]["ready"] == 1500
    assert as_json["explain"]["top"][0]["attribute"] == c.CLOUD_AVAILABILITY_ZONE


def test_query_formats(run_dir: Path) -> None:
    sql = f'SELECT "{c.CLOUD_AVAILABILITY_ZONE}" AS az, count(*) AS n FROM startups GROUP BY 1 ORDER BY 1'
    rows = list(csv.reader(io.StringIO(cli("query", str(run_dir), sql, "--format", "csv").stdout)))
    assert rows[0] == ["az", "n"]
    assert sum(int(r[1]) for r in rows[1:]) == 1500
    as_json = json.loads(cli("query", str(run_dir), "SELECT count(*) AS n FROM spans", "--format", "json").stdout)
    assert as_json == [{"n": 1500 * 4 + 1}]
    derived = cli(
        "query",
        str(run_dir),
        "SELECT round(avg(pull_end_s - pull_start_s), 6) = round(avg(pull_s), 6) AS same FROM startups",
    )
    assert "True" in derived.stdout


def test_query_errors_are_clear(run_dir: Path) -> None:
    result = cli("query", str(run_dir), "SELECT nope FROM startups")
    assert result.returncode == 1
    assert "query failed" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_with_a_condition(run_dir: Path) -> None:
    result = cli("explain", str(run_dir), "--where", f"\"{c.CLOUD_AVAILABILITY_ZONE}\" = 'us-east-1d'", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert c.CLOUD_AVAILABILITY_ZONE in result.stdout.splitlines()[1]


def test_several_runs_ask_which(tmp_path: Path) -> None:
    run_scale(Scenario("sim", "ec2-linux", 0, 30, seed=1), tmp_path)
    run_scale(Scenario("sim", "ec2-linux", 0, 30, seed=2), tmp_path)
    result = cli("analyze", str(tmp_path))
    assert result.returncode == 1
    assert "2 runs in this data" in result.stderr and "--run-id" in result.stderr
    run_id = result.stderr.split("(")[1].split(",")[0]
    assert "30 of 30 containers ready" in cli("analyze", str(tmp_path), "--run-id", run_id).stdout


def test_explain_says_when_nothing_stands_out(run_dir: Path) -> None:
    result = cli("explain", str(run_dir), "--where", "pull_s > 1e9 OR trace_id = (SELECT min(trace_id) FROM startups)")
    assert result.returncode == 0, result.stderr
    assert "nothing stands out" in result.stdout


def test_compare_and_report(run_dir: Path, tmp_path: Path) -> None:
    other = run_scale(Scenario("sim", "fargate-windows-mirrored", 0, 300, seed=4), tmp_path).run_dir
    result = cli("compare", str(run_dir), str(other), "--format", "json", "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["run"] for r in rows] == ["fargate-linux-spot (sim)", "fargate-windows-mirrored (sim)"]
    assert rows[0]["first s"] < rows[1]["first s"]
    assert (tmp_path / "cmp" / "scale-curves.png").stat().st_size > 10_000
    report = cli("report", str(run_dir), "--style", "xkcd")
    assert report.returncode == 0, report.stderr
    out = run_dir / "analysis"
    for name in ("report.html", "summary.json", "scale-curves.png"):
        assert (out / name).exists()
    assert list(out.glob("startups-*.parquet")) and list(out.glob("startups-*.csv"))
    assert list(out.glob("pull-heatmap-*.png"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"][0]["scale_curve"]["ready"] == 1500
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "What sets the slow pulls apart" in html


def test_bad_span_files_are_reported_not_fatal(tmp_path: Path, run_dir: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "traces.jsonl").write_bytes((run_dir / "spans" / "traces.jsonl").read_bytes() + b"{truncated\n")
    result = cli("analyze", str(broken))
    assert result.returncode == 0, result.stderr
    assert "1 unreadable line(s) skipped" in result.stderr
    strict = cli("analyze", str(broken), "--strict")
    assert strict.returncode == 1
    assert "not JSON" in strict.stderr


@pytest.mark.slow
def test_demo_tells_the_published_story(tmp_path: Path) -> None:
    result = cli("demo", "--out", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Linux Spot 5 -> 10,000: first containers after" in out
    assert "Image pull P95 by OS: linux" in out and "windows" in out
    assert "Slow Linux pulls" in out and "explained first by cloud.availability_zone" in out
    assert (tmp_path / "demo" / "report" / "report.html").exists()
