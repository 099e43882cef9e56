"""What a person sees while a run goes: a progress bar, then completeness and headline numbers."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from otel_scale.platforms.base import Observation
from otel_scale.runner import RunResult
from otel_scale.sinks.files import Tally


class ProgressDisplay:
    """`update` is a `run_scale` progress callback; use as a context manager around the run."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._task: int | None = None
        self._last_launched = 0
        self._last_virtual = 0.0
        self._last_time = time.monotonic()
        self._rate = 0.0

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            self._progress.stop()

    def update(self, observation: Observation, tally: Tally | None) -> None:
        # The platform's launch rate, per second of its own (possibly virtual) clock, over the last ~0.5 s.
        now = time.monotonic()
        if now - self._last_time >= 0.5 and observation.elapsed_s > self._last_virtual:
            self._rate = (observation.launched - self._last_launched) / (observation.elapsed_s - self._last_virtual)
            self._last_launched, self._last_virtual, self._last_time = observation.launched, observation.elapsed_s, now
        received = tally.startup_traces if tally is not None else observation.ready
        detail = (
            f"ready {observation.ready:,}  launched {observation.launched:,}  "
            f"{self._rate:,.1f} launches/s  platform clock {observation.elapsed_s:,.0f} s"
        )
        if observation.failed:
            detail += f"  failed launches {observation.failed}"
        if not self.enabled:
            return
        if self._task is None:
            self._task = self._progress.add_task("traces received", total=observation.requested, detail=detail)
        self._progress.update(self._task, completed=received, detail=detail)  # type: ignore[arg-type]

    def summary(self, result: RunResult) -> str:
        lines = [f"run {result.run_id}: {result.status}  ({result.wall_s:.1f} s wall)"]
        if result.received is None:
            lines.append(f"  {result.expected:,} startup traces sent to the external endpoint; check what it received")
        else:
            lines.append(f"  startup traces: {result.received:,} received of {result.expected:,} expected")
        if result.missing:
            shown = ", ".join(result.missing[:5])
            more = f" and {len(result.missing) - 5:,} more" if len(result.missing) > 5 else ""
            lines.append(f"  missing ({len(result.missing):,}): {shown}{more}  (all listed in run.json)")
        if result.failed_launches:
            lines.append(f"  failed launches (replaced by the platform): {result.failed_launches}")
        h = result.headline()

        def fmt(value: float | int | None) -> str:
            return "-" if value is None else f"{value:,.1f} s"

        lines.append(
            "  time to first {}  50% {}  90% {}  100% {}".format(
                fmt(h["time_to_first_s"]),
                fmt(h["time_to_50pct_s"]),
                fmt(h["time_to_90pct_s"]),
                fmt(h["time_to_100pct_s"]),
            )
        )
        for problem in result.problems:
            lines.append(f"  problem: {problem}")
        lines.append(f"  run directory: {result.run_dir}")
        return "\n".join(lines)
