"""The published 2022 story, replayed on the simulated fleet and analysed: what `otel-scale demo` runs.

Fargate Linux Spot 5 -> 10,000; Windows 0 -> 3,200 with base layers from the vendor's registry; Windows 0 ->
3,200 with base layers mirrored to the same regional registry. Then: time to N for each, pull P95 by OS and by
availability zone, and what explains the slow pulls — across all runs and within the Linux run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_scale import contract
from otel_scale.analysis.answers import explain, phase_percentiles
from otel_scale.analysis.engine import Analysis
from otel_scale.report import write_report
from otel_scale.runner import RunResult, Scenario, run_scale

STORY = (
    ("Linux Spot 5 -> 10,000", Scenario("sim", "fargate-linux-spot", 5, 10_000, seed=2022)),
    ("Windows 0 -> 3,200", Scenario("sim", "fargate-windows", 0, 3_200, seed=2022)),
    ("Windows, mirrored base layers, 0 -> 3,200", Scenario("sim", "fargate-windows-mirrored", 0, 3_200, seed=2022)),
)


@dataclass
class StoryResult:
    out_dir: Path
    runs: list[tuple[str, RunResult]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not reached"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_story(out_dir: Path, echo: Callable[[str], None] = print, style: str = "xkcd") -> StoryResult:
    began = time.monotonic()
    result = StoryResult(out_dir)
    for title, scenario in STORY:
        echo(f"running {title} on the simulated fleet ({scenario.profile}) ...")
        run = run_scale(scenario, out_dir)
        result.runs.append((title, run))
        if not run.complete:
            echo(f"  {run.status}: {'; '.join(run.problems) or 'traces missing'}")
    report_dir = out_dir / "report"
    echo("analysing and writing the report ...")
    result.summary = write_report([run.run_dir for _, run in result.runs], report_dir, style=style)

    findings = result.findings
    for (title, _), run_summary in zip(result.runs, result.summary["runs"], strict=True):
        curve = run_summary["scale_curve"]
        findings.append(
            f"{title}: first containers after {_minutes(curve['time_to_first_s'])}, half after "
            f"{_minutes(curve['time_to_50pct_s'])}, all {curve['target']:,} after {_minutes(curve['time_to_100pct_s'])}"
        )
    # Across all three runs: one analysis over the whole output folder.
    with Analysis.open(out_dir) as everything:
        by_os = phase_percentiles(everything, by=[contract.OS_TYPE], phases=["pull"], run_id="all")
        findings.append(
            "Image pull P95 by OS: "
            + ", ".join(f"{s.group[contract.OS_TYPE]} {s.p95:.0f} s (mean {s.mean:.0f} s)" for s in by_os if s.p95)
        )
        overall = explain(everything, run_id="all")
        top = overall.attributes[0]
        over = top.values[0] if top.values else None
        findings.append(
            f"Slow pulls across all runs ({overall.condition}): explained first by {top.attribute}"
            + (
                f" = {over.value} ({over.selected_share:.0%} of slow pulls vs {over.baseline_share:.0%} of others)"
                if over
                else ""
            )
        )
    linux_run = result.runs[0][1]
    with Analysis.open(linux_run.run_dir) as linux:
        by_zone = phase_percentiles(linux, by=[contract.CLOUD_AVAILABILITY_ZONE], phases=["pull"])
        findings.append(
            "Linux image pull P95 by AZ: "
            + ", ".join(f"{s.group[contract.CLOUD_AVAILABILITY_ZONE]} {s.p95:.1f} s" for s in by_zone if s.p95)
        )
        within = explain(linux)
        top = within.attributes[0]
        names = ", ".join(f"{v.value} ({v.selected_share:.0%} vs {v.baseline_share:.0%})" for v in top.values[:2])
        findings.append(f"Slow Linux pulls ({within.condition}): explained first by {top.attribute}: {names}")
    result.wall_s = time.monotonic() - began
    return result
