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


@main.command()
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for all startup traces.")
def demo(timeout: float) -> None:
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
