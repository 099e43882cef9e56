"""The command line as a newcomer meets it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from otel_scale import __version__
from otel_scale.cli import main


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "probe-demo", "emulate-ecs", "run", "analyze", "explain", "query", "compare", "report"):
        assert command in result.output


def test_version() -> None:
    assert __version__ in CliRunner().invoke(main, ["--version"]).output


@pytest.mark.slow
def test_probe_demo_runs_real_probes_and_prints_their_traces() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otel_scale.cli", "probe-demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    for kind in ("fargate-linux", "fargate-windows", "ec2-linux"):
        assert kind in out
    phases = [line.split()[0] for line in out.splitlines() if line.startswith("    ")]
    assert phases.count("image.pull") == 3
    assert phases.count("app.init") == 3
    assert out.count("metadata: ok; linked to t0: yes") == 3
    assert '"trace_id"' in out
