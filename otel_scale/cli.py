"""`otel-scale`: a thin command line over the library. Every command is a library call plus printing."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import click

from otel_scale import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="otel-scale")
def main() -> None:
    """Benchmark how fast containers scale, with OpenTelemetry startup traces."""


@main.command("emulate-ecs")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=0, show_default=True, help="Port (0 = any free port).")
@click.option(
    "--kind",
    type=click.Choice(["fargate-linux", "fargate-windows", "ec2-linux"]),
    default="fargate-linux",
    show_default=True,
    help="Metadata shape of the generated tasks.",
)
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 100_000), help="Tasks to serve.")
@click.option(
    "--tasks",
    "tasks_file",
    type=click.File("r"),
    help="JSON list of task specs (fields of EmulatedTask; instants as RFC 3339 or Unix ns); '-' reads stdin. "
    "Overrides --kind/--count.",
)
def emulate_ecs(host: str, port: int, kind: str, count: int, tasks_file: TextIO | None) -> None:
    """Serve ECS task metadata v4 for simulated tasks until interrupted.

    Prints one ECS_CONTAINER_METADATA_URI_V4=... line per task, to give to a probe.
    """
    from otel_scale.emulator.ecs import EcsMetadataEmulator, EmulatedTask, default_task, task_from_spec

    tasks: list[EmulatedTask]
    if tasks_file is not None:
        try:
            specs = json.loads(tasks_file.read())
            if not isinstance(specs, list):
                raise ValueError("the file must hold a JSON list of task objects")
            tasks = [task_from_spec(spec) for spec in specs]
        except (ValueError, TypeError) as exc:
            raise click.ClickException(f"{tasks_file.name}: {exc}") from None
    else:
        now = time.time_ns()
        tasks = [default_task(kind, now, i) for i in range(count)]  # type: ignore[arg-type]
    try:
        emulator = EcsMetadataEmulator(tasks, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with emulator:
        for task in tasks:
            click.echo(
                f"ECS_CONTAINER_METADATA_URI_V4={emulator.uri_for(task)}  # {task.kind} {task.availability_zone}"
            )
        click.echo(f"serving {len(tasks)} task(s) on {emulator.base_url}; Ctrl-C to stop", err=True)
        _wait_for_interrupt()


@main.command("probe-demo")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for all startup traces.")
def probe_demo(timeout: float) -> None:
    """Run real probes against emulated ECS metadata and print the startup traces they emit.

    Starts an ECS metadata emulator (Fargate Linux, Fargate Windows and EC2 task shapes), an embedded OTLP/HTTP
    receiver, and one `python -m probe` per task; everything runs on loopback and is stopped at the end.
    """
    from otel_scale.demo import run_probe_demo

    try:
        result = run_probe_demo(timeout_s=timeout, echo=click.echo)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if result.missing:
        raise click.ClickException(
            f"{len(result.missing)} startup trace(s) did not arrive: {', '.join(result.missing)}"
        )


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the runs and the report go (default: runs/demo-<time>).",
)
@click.option("--style", type=click.Choice(["xkcd", "default"]), default="xkcd", show_default=True)
def demo(out_dir: Path | None, style: str) -> None:
    """Replay the published 2022 scaling story on the simulated fleet, analyse it, and write the report.

    Fargate Linux Spot 5 -> 10,000; Windows 0 -> 3,200; Windows with mirrored base layers 0 -> 3,200.
    No Go, no Docker, no cloud: everything runs here.
    """
    from datetime import UTC, datetime

    from otel_scale.analysis.engine import AnalysisError
    from otel_scale.runner import ScenarioError
    from otel_scale.story import run_story

    out = out_dir or Path("runs") / f"demo-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    try:
        result = run_story(out, echo=click.echo, style=style)
    except (ScenarioError, AnalysisError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("")
    click.echo("What the runs say:")
    for finding in result.findings:
        click.echo(f"  - {finding}")
    click.echo("")
    click.echo(
        f"Report: {out / 'report' / 'report.html'}  (charts, summary.json, startups as CSV and Parquet beside it)"
    )
    click.echo(
        f'Ask your own questions:  otel-scale query {out} "SELECT os_type ... FROM startups"'.replace(
            "os_type ...", '\\"os.type\\", count(*), quantile_cont(pull_s, 0.95)'
        ).replace("FROM startups", "FROM startups GROUP BY 1")
    )
    click.echo(f"({result.wall_s:.0f} s)")


def _open(source: Path, strict: bool) -> Any:
    from otel_scale.analysis.engine import Analysis, AnalysisError
    from otel_scale.analysis.load import StrictLoadError

    try:
        analysis = Analysis.open(source, strict=strict)
    except (AnalysisError, StrictLoadError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"interrupted while loading {source}: nothing was cached, the span files are untouched", err=True)
        sys.exit(130)
    report = analysis.report
    if report.get("bad_lines"):
        click.echo(f"warning: {report['bad_lines']} unreadable line(s) skipped, e.g. {report['problems'][0]}", err=True)
    return analysis


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2, default=str))
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row))
    Console(width=max(120, 14 * len(columns))).print(table)


RUN_ARG = click.argument("run", type=click.Path(exists=True, path_type=Path))
FORMAT_OPT = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
STRICT_OPT = click.option("--strict", is_flag=True, help="Fail on the first unreadable line instead of skipping it.")
RUN_ID_OPT = click.option("--run-id", default=None, help="Which run, when the data holds several ('all': together).")


@main.command()
@RUN_ARG
@click.option("--by", default=None, help="Comma-separated attributes to break phases down by.")
@FORMAT_OPT
@STRICT_OPT
@RUN_ID_OPT
def analyze(run: Path, by: str | None, fmt: str, strict: bool, run_id: str | None) -> None:
    """Scale curve, phase percentiles and what explains slow pulls, for a run directory or any span files."""
    from otel_scale.analysis.answers import DEFAULT_BY, explain, phase_percentiles, scale_curve
    from otel_scale.analysis.engine import AnalysisError

    with _open(run, strict) as analysis:
        try:
            curve = scale_curve(analysis, run_id)
            stats = phase_percentiles(analysis, by=by.split(",") if by else DEFAULT_BY, run_id=run_id or curve.run_id)
            explanation = explain(analysis, run_id=run_id or curve.run_id)
        except AnalysisError as exc:
            raise click.ClickException(str(exc)) from None
        if fmt == "json":
            click.echo(
                json.dumps(
                    {
                        "load": analysis.report,
                        "scale_curve": curve.as_dict(),
                        "phases": [s.__dict__ for s in stats],
                        "explain": {
                            "condition": explanation.condition,
                            "top": [
                                {
                                    "attribute": a.attribute,
                                    "score": a.score,
                                    "values": [v.__dict__ for v in a.values[:5]],
                                }
                                for a in explanation.attributes[:5]
                            ],
                        },
                    },
                    indent=2,
                    default=str,
                )
            )
            return
        r = analysis.report
        click.echo(
            f"{r['spans']:,} spans from {len(r['files'])} file(s); {r['duplicate_spans']:,} duplicates dropped; "
            f"{r['bad_lines']:,} unreadable lines{' (cached)' if analysis.cached else ''}"
        )
        c = curve.as_dict()
        click.echo(
            f"run {curve.run_id}: {curve.ready:,} of {curve.target:,} containers ready"
            + ("" if curve.target_known else " (target unknown: counted what arrived)")
        )
        click.echo(
            "  time to first {}  50% {}  90% {}  99% {}  100% {}".format(
                *(
                    "-" if c[k] is None else f"{c[k]:,.1f} s"
                    for k in (
                        "time_to_first_s",
                        "time_to_50pct_s",
                        "time_to_90pct_s",
                        "time_to_99pct_s",
                        "time_to_100pct_s",
                    )
                )
            )
        )
        click.echo(
            f"  start rate: mean {c['mean_start_rate_per_s'] or 0:,.1f}/s, "
            f"peak {c['peak_start_rate_per_s'] or 0:,.1f}/s (10 s window)"
        )
        keys = list(stats[0].group) if stats else []
        _print_rows(
            [*keys, "phase", "count", "mean", "p50", "p90", "p95", "p99", "max"],
            [(*s.group.values(), s.phase, s.count, s.mean, s.p50, s.p90, s.p95, s.p99, s.max) for s in stats],
            fmt,
        )
        _print_explanation(explanation, 3)


def _print_explanation(explanation: Any, top: int) -> None:
    click.echo(
        f"What sets {explanation.selected:,} startups ({explanation.condition}) apart from the other "
        f"{explanation.baseline:,} (min support {explanation.min_support}):"
    )
    shown = [a for a in explanation.attributes[:top] if a.score > 0]
    if not shown:
        click.echo(
            f"  nothing stands out: no attribute value occurs at least {explanation.min_support} times in the "
            "selection with a different share than in the rest (try a wider --where or a lower --min-support)"
        )
    for a in shown:
        if a.kind == "numeric":
            detail = f"median {a.selected_median:.3g} vs {a.baseline_median:.3g}"
        else:
            detail = ", ".join(f"{v.value} {v.selected_share:.0%} vs {v.baseline_share:.0%}" for v in a.values[:3])
        click.echo(f"  {a.score:5.3f}  {a.attribute}: {detail}")


@main.command("explain")
@RUN_ARG
@click.option("--where", default=None, help="SQL condition over the startups view (default: pull_s > the run's P95).")
@click.option("--min-support", type=int, default=None, help="Ignore values seen fewer times in the selection.")
@click.option("--top", type=int, default=10, show_default=True)
@STRICT_OPT
@RUN_ID_OPT
def explain_cmd(
    run: Path, where: str | None, min_support: int | None, top: int, strict: bool, run_id: str | None
) -> None:
    """Which attributes set a selection of startups apart from the rest (BubbleUp-style)."""
    from otel_scale.analysis.answers import explain
    from otel_scale.analysis.engine import AnalysisError

    with _open(run, strict) as analysis:
        try:
            _print_explanation(explain(analysis, where=where, run_id=run_id, min_support=min_support), top)
        except AnalysisError as exc:
            raise click.ClickException(str(exc)) from None


@main.command()
@RUN_ARG
@click.argument("sql")
@FORMAT_OPT
@STRICT_OPT
def query(run: Path, sql: str, fmt: str, strict: bool) -> None:
    """Any SQL over the `spans`, `startups` and `runs` views (attribute columns have dotted names: quote them)."""
    from otel_scale.analysis.engine import AnalysisError

    with _open(run, strict) as analysis:
        try:
            columns, rows = analysis.query(sql)
        except AnalysisError as exc:
            raise click.ClickException(f"query failed: {exc}") from None
        _print_rows(columns, rows, fmt)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@FORMAT_OPT
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the overlaid scale curves (PNG) here.",
)
@click.option("--style", type=click.Choice(["default", "xkcd"]), default="default", show_default=True)
def compare(runs: tuple[Path, ...], fmt: str, out_dir: Path | None, style: str) -> None:
    """Several runs side by side: time to first/50/90/99/100 %, start rates, pull P50/P95."""
    from otel_scale.analysis.engine import AnalysisError
    from otel_scale.report import analyse_run, chart_scale_curves

    sections = []
    for path in runs:
        with _open(path, False) as analysis:
            try:
                for info in analysis.runs():
                    sections.append(analyse_run(analysis, info.run_id))
            except AnalysisError as exc:
                raise click.ClickException(f"{path}: {exc}") from None
    columns = [
        "run",
        "target",
        "ready",
        "first s",
        "50% s",
        "90% s",
        "99% s",
        "100% s",
        "mean/s",
        "peak/s",
        "pull p50",
        "pull p95",
    ]
    rows = []
    for s in sections:
        pulls = [p for p in s.phases if p.phase == "pull"]
        rows.append(
            (
                s.label,
                s.curve.target,
                s.curve.ready,
                s.curve.time_to_first_s,
                *s.curve.time_to.values(),
                s.curve.mean_start_rate,
                s.curve.peak_start_rate,
                pulls[0].p50 if len(pulls) == 1 else None,
                pulls[0].p95 if len(pulls) == 1 else None,
            )
        )
    _print_rows(columns, rows, fmt)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        chart_scale_curves(sections, out_dir / "scale-curves.png", style)
        click.echo(f"chart: {out_dir / 'scale-curves.png'}", err=True)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Default: <run>/analysis for one run directory, else ./report.",
)
@click.option("--style", type=click.Choice(["default", "xkcd"]), default="default", show_default=True)
@STRICT_OPT
def report(runs: tuple[Path, ...], out_dir: Path | None, style: str, strict: bool) -> None:
    """Charts (PNG), a self-contained report.html, summary.json and the startups as CSV and Parquet."""
    from otel_scale.analysis.engine import AnalysisError
    from otel_scale.analysis.load import StrictLoadError
    from otel_scale.report import write_report

    target = out_dir or (runs[0] / "analysis" if len(runs) == 1 and (runs[0] / "run.json").exists() else Path("report"))
    try:
        write_report(list(runs), target, style=style, strict=strict)
    except (AnalysisError, StrictLoadError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"report: {target / 'report.html'}")


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number nor 'max'") from None
    if not speed > 0:
        raise click.BadParameter("must be positive")
    return speed


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{value!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


@main.command()
@click.option("--platform", "platform_name", type=click.Choice(["sim", "local"]), default="sim", show_default=True)
@click.option("--profile", default="fargate-linux-spot", show_default=True, help="Built-in profile name or .toml path.")
@click.option("--from", "from_count", type=int, default=0, show_default=True, help="Containers running before t0.")
@click.option("--to", "to_count", type=int, required=True, help="Containers asked for at t0.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the planned timeline.")
@click.option(
    "--speed",
    default=None,
    help="Virtual seconds per real second, or 'max'. Default: max for sim, 60 for local.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True
)
@click.option(
    "--otlp-endpoint",
    default=None,
    help="Send spans to this OTLP/HTTP endpoint (e.g. a collector) instead of the embedded receiver; "
    "OTEL_EXPORTER_OTLP_HEADERS is honoured.",
)
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="HOST:PORT of the embedded OTLP receiver.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(
    platform_name: str,
    profile: str,
    from_count: int,
    to_count: int,
    seed: int,
    speed: str | None,
    out_dir: Path,
    otlp_endpoint: str | None,
    listen: str,
    quiet: bool,
) -> None:
    """Scale a platform from --from to --to containers and collect every container's startup trace."""
    from otel_scale.runner import Scenario, ScenarioError, run_scale
    from otel_scale.sinks.sender import parse_headers

    scenario = Scenario(
        platform=platform_name,
        profile=profile,
        from_count=from_count,
        to_count=to_count,
        seed=seed,
        speed=_speed(speed) if speed is not None else (None if platform_name == "sim" else 60.0),
    )
    headers = None
    if otlp_endpoint is not None:
        headers = parse_headers(
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
        )
    from otel_scale.progress import ProgressDisplay

    display = ProgressDisplay(enabled=not quiet)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # the runner's Ctrl-C path: tear down, keep what arrived, mark run.json

    for sig in (signal.SIGTERM, signal.SIGHUP):  # a `kill`, or the terminal closing
        signal.signal(sig, stop)
    try:
        with display:
            result = run_scale(
                scenario,
                out_dir,
                otlp_endpoint=otlp_endpoint,
                otlp_headers=headers,
                listen=_listen(listen),
                progress=display.update,
            )
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(display.summary(result))
    if result.status == "interrupted":
        sys.exit(130)
    if not result.complete:
        sys.exit(1)


def _wait_for_interrupt() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    click.echo("stopped", err=True)


if __name__ == "__main__":
    sys.exit(main())
