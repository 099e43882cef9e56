"""Reports: PNG charts, a self-contained HTML page, summary.json, and the startups as CSV and Parquet.

`write_report(sources, out_dir)` analyses one or more runs and writes everything a person or a pipeline wants
to keep. Charts use matplotlib's Agg backend (no display needed); `style="xkcd"` draws them by hand, the look
people know from the published benchmarks.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from otel_scale import __version__, contract
from otel_scale.analysis.answers import (
    Explanation,
    PhaseStats,
    ScaleCurve,
    explain,
    heatmap,
    phase_percentiles,
    scale_curve,
)
from otel_scale.analysis.engine import Analysis, AnalysisError, q

STYLES = ("default", "xkcd")


@dataclass
class RunSection:
    label: str
    source: str
    run_id: str | None
    curve: ScaleCurve
    pulls_by_zone: list[PhaseStats]
    phases: list[PhaseStats]
    explanation: Explanation | None
    load: dict[str, Any]
    charts: dict[str, str] = field(default_factory=dict)  # chart name -> file name


def _style(style: str) -> AbstractContextManager[Any]:
    if style not in STYLES:
        raise AnalysisError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if style == "xkcd":
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # Humor Sans is optional
        return plt.xkcd()
    return nullcontext()


def label_of(analysis: Analysis, run_id: str | None) -> str:
    """A short name for a run: its profile (from the scale.scenario span) and platform, else its id."""
    if contract.SCALE_PROFILE not in analysis.columns("spans"):
        return run_id or "run"
    _, rows = analysis.query(
        f"""SELECT any_value({q(contract.SCALE_PROFILE)}), any_value({q(contract.SCALE_PLATFORM)}) FROM spans
            WHERE name = '{contract.SPAN_SCENARIO}' AND {q(contract.BENCHMARK_RUN_ID)} IS NOT DISTINCT FROM ?""",
        [run_id],
    )
    profile, platform = rows[0]
    if profile:
        return f"{profile} ({platform})" if platform else str(profile)
    return run_id or "run"


def analyse_run(analysis: Analysis, run_id: str | None, label: str | None = None) -> RunSection:
    curve = scale_curve(analysis, run_id)
    by_zone = phase_percentiles(analysis, by=[contract.CLOUD_AVAILABILITY_ZONE], phases=["pull"], run_id=run_id)
    phases = phase_percentiles(analysis, by=[contract.OS_TYPE], run_id=run_id)
    try:
        explanation: Explanation | None = explain(analysis, run_id=run_id)
    except AnalysisError:
        explanation = None  # e.g. no pulls at all
    return RunSection(
        label=label or label_of(analysis, curve.run_id),
        source=str(analysis.source),
        run_id=curve.run_id,
        curve=curve,
        pulls_by_zone=by_zone,
        phases=phases,
        explanation=explanation,
        load=analysis.report,
    )


def chart_scale_curves(sections: Sequence[RunSection], path: Path, style: str = "default") -> None:
    with _style(style):
        fig, ax = plt.subplots(figsize=(9, 5.5))
        for section in sections:
            ready = section.curve.ready_s
            ax.step([t / 60 for t in [0.0, *ready]], range(len(ready) + 1), where="post", label=section.label)
        ax.set_xlabel("minutes since t0 (the scale-out request)")
        ax.set_ylabel("containers ready")
        ax.set_title("Containers ready over time")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def chart_pull_heatmap(analysis: Analysis, section: RunSection, path: Path, style: str = "default") -> None:
    """Image-pull duration vs pull start, one panel per availability zone (the published heatmap)."""
    hm = heatmap(analysis, run_id=section.run_id, per_zone=True, time_bucket_s=10.0, duration_bucket_s=1.0)
    zones = sorted(hm.cells, key=lambda z: str(z))
    with _style(style):
        cols = min(2, max(1, len(zones)))
        rows = (len(zones) + cols - 1) // cols or 1
        fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.2 * rows), squeeze=False, sharex=True, sharey=True)
        t_max = max((t for cells in hm.cells.values() for t, _ in cells), default=0) + 1
        d_max = max((d for cells in hm.cells.values() for _, d in cells), default=0) + 1
        peak = max((n for cells in hm.cells.values() for n in cells.values()), default=1)
        for ax, zone in zip(axes.flat, zones, strict=False):
            matrix = [[0.0] * t_max for _ in range(d_max)]
            for (t, d), n in hm.cells[zone].items():
                if t >= 0 and d >= 0:
                    matrix[d][t] = n
            image = ax.imshow(
                [[v if v else float("nan") for v in row] for row in matrix],
                origin="lower",
                aspect="auto",
                extent=(0, t_max * hm.time_bucket_s / 60, 0, d_max * hm.duration_bucket_s),
                cmap="viridis",
                vmin=1,
                vmax=peak,
                interpolation="nearest",
            )
            ax.set_title(str(zone or "no zone"), fontsize=10)
            ax.grid(alpha=0.2)
        fig.colorbar(image, ax=axes, shrink=0.8, label="pulls per 10 s x 1 s cell")
        for ax in axes.flat[len(zones) :]:
            ax.set_visible(False)
        fig.supxlabel("pull start, minutes since t0")
        fig.supylabel("image pull duration (s)")
        fig.suptitle(f"Image pulls: {section.label}")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)


def write_report(
    sources: Sequence[Path | str],
    out_dir: Path,
    *,
    style: str = "default",
    strict: bool = False,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Analyse every run of `sources` and write charts, report.html, summary.json and startups.{csv,parquet}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sections: list[RunSection] = []
    analyses: list[Analysis] = []
    try:
        for source in sources:
            analysis = Analysis.open(source, strict=strict)
            analyses.append(analysis)
            ids = [run_id] if run_id else [r.run_id for r in analysis.runs()]
            for rid in ids:
                section = analyse_run(analysis, rid)
                unique = (len(ids) == 1 and len(sources) == 1) or section.label == rid
                stem = _slug(section.label if unique else f"{section.label}-{rid}")
                heatmap_file = f"pull-heatmap-{stem}.png"
                chart_pull_heatmap(analysis, section, out_dir / heatmap_file, style)
                section.charts["pull heatmap"] = heatmap_file
                sections.append(section)
                export = out_dir / f"startups-{stem}"
                rows = "SELECT * FROM startups WHERE run_id IS NOT DISTINCT FROM ?"
                analysis.con.execute(f"COPY ({rows}) TO '{export}.parquet' (FORMAT parquet)", [rid])
                analysis.con.execute(f"COPY ({rows}) TO '{export}.csv' (HEADER)", [rid])
        chart_scale_curves(sections, out_dir / "scale-curves.png", style)
        summary = _summary(sections)
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        (out_dir / "report.html").write_text(_html(sections, out_dir, summary))
    finally:
        for analysis in analyses:
            analysis.close()
    return summary


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip("-")[:80] or "run"


def _stats_dict(s: PhaseStats) -> dict[str, Any]:
    return asdict(s)


def _summary(sections: Sequence[RunSection]) -> dict[str, Any]:
    runs = []
    for s in sections:
        explanation = None
        if s.explanation is not None:
            explanation = {
                "condition": s.explanation.condition,
                "selected": s.explanation.selected,
                "baseline": s.explanation.baseline,
                "min_support": s.explanation.min_support,
                "top": [
                    {
                        "attribute": a.attribute,
                        "kind": a.kind,
                        "score": round(a.score, 4),
                        "values": [asdict(v) for v in a.values[:5]],
                    }
                    for a in s.explanation.attributes[:5]
                ],
            }
        runs.append(
            {
                "label": s.label,
                "run_id": s.run_id,
                "source": s.source,
                "scale_curve": s.curve.as_dict(),
                "pull_by_zone": [_stats_dict(p) for p in s.pulls_by_zone],
                "phases_by_os": [_stats_dict(p) for p in s.phases],
                "explain_slow_pulls": explanation,
                "load": {k: s.load.get(k) for k in ("lines", "bad_lines", "problems", "spans", "duplicate_spans")},
            }
        )
    return {"otel_scale_version": __version__, "runs": runs}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return html.escape(str(value))


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _html(sections: Sequence[RunSection], out_dir: Path, summary: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>otel-scale report</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
        ".note{color:#666;font-size:90%}",
        "</style></head><body><h1>otel-scale report</h1>",
        "<h2>Scale curves</h2>",
        _img(out_dir / "scale-curves.png"),
        "<table><tr><th>run</th><th>target</th><th>ready</th><th>first (s)</th><th>50 % (s)</th><th>90 % (s)</th>"
        "<th>99 % (s)</th><th>100 % (s)</th><th>mean start rate (/s)</th><th>peak (/s)</th></tr>",
    ]
    for s in sections:
        c = s.curve
        parts.append(
            f"<tr><td>{_fmt(s.label)}</td><td>{c.target:,}</td><td>{c.ready:,}</td><td>{_fmt(c.time_to_first_s)}</td>"
            + "".join(f"<td>{_fmt(c.time_to[k])}</td>" for k in ("50%", "90%", "99%", "100%"))
            + f"<td>{_fmt(c.mean_start_rate)}</td><td>{_fmt(c.peak_start_rate)}</td></tr>"
        )
    parts.append("</table>")
    for s in sections:
        parts.append(
            f"<h2>{_fmt(s.label)}</h2><p class='note'>run {_fmt(s.run_id)} from {_fmt(s.source)}; "
            f"{s.load.get('spans', 0):,} spans read, {s.load.get('duplicate_spans', 0):,} duplicates dropped, "
            f"{s.load.get('bad_lines', 0):,} unreadable lines</p>"
        )
        parts.append(
            "<h3>Image pull by availability zone (s)</h3>"
            + _stats_table(s.pulls_by_zone, contract.CLOUD_AVAILABILITY_ZONE)
        )
        parts.append("<h3>Phases by OS (s)</h3>" + _stats_table(s.phases, contract.OS_TYPE, with_phase=True))
        if "pull heatmap" in s.charts:
            parts.append(_img(out_dir / s.charts["pull heatmap"]))
        if s.explanation is not None:
            e = s.explanation
            parts.append(
                f"<h3>What sets the slow pulls apart</h3><p>Selection: <code>{_fmt(e.condition)}</code> "
                f"({e.selected:,} containers) against the other {e.baseline:,}; values seen fewer than "
                f"{e.min_support} times in the selection are ignored.</p><table><tr><th>attribute</th><th>score</th>"
                "<th>most over-represented values (selection share vs the rest)</th></tr>"
            )
            for a in e.attributes[:6]:
                values = ", ".join(
                    f"{_fmt(v.value)}: {v.selected_share:.0%} vs {v.baseline_share:.0%}" for v in a.values[:3]
                ) or (
                    f"median {_fmt(a.selected_median, 3)} vs {_fmt(a.baseline_median, 3)}"
                    if a.kind == "numeric"
                    else ""
                )
                parts.append(f"<tr><td>{_fmt(a.attribute)}</td><td>{a.score:.3f}</td><td>{values}</td></tr>")
            parts.append("</table>")
    parts.append(
        f"<p class='note'>otel-scale {__version__}. "
        "Data: summary.json and startups-*.csv/.parquet beside this file.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _stats_table(stats: Sequence[PhaseStats], key: str, with_phase: bool = False) -> str:
    head = (
        f"<tr><th>{html.escape(key)}</th>{'<th>phase</th>' if with_phase else ''}"
        + "".join(f"<th>{h}</th>" for h in ("count", "mean", "P50", "P90", "P95", "P99", "max"))
        + "</tr>"
    )
    rows = [
        f"<tr><td>{_fmt(s.group.get(key))}</td>{f'<td>{s.phase}</td>' if with_phase else ''}<td>{s.count:,}</td>"
        + "".join(f"<td>{_fmt(v)}</td>" for v in (s.mean, s.p50, s.p90, s.p95, s.p99, s.max))
        + "</tr>"
        for s in stats
    ]
    return "<table>" + head + "".join(rows) + "</table>"
