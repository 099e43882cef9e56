"""`otel-scale`: a thin command line over the library. Every command is a library call plus printing."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
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
