"""`otel-scale run` as a user meets it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_scale.cli", "run", *args], capture_output=True, text=True, timeout=300
    )


def test_run_prints_completeness_and_headline(tmp_path: Path) -> None:
    result = run_cli(
        "--platform",
        "sim",
        "--profile",
        "fargate-windows-mirrored",
        "--from",
        "0",
        "--to",
        "400",
        "--seed",
        "9",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "complete" in result.stdout
    assert "startup traces: 400 received of 400 expected" in result.stdout
    assert "time to first" in result.stdout
    [run_dir] = list(tmp_path.iterdir())
    assert f"run directory: {run_dir}" in result.stdout
    assert json.loads((run_dir / "run.json").read_text())["scenario"]["profile"] == "fargate-windows-mirrored"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--to", "10", "--from", "20"), "must be greater than --from"),
        (("--to", "10", "--profile", "nope"), "unknown profile 'nope'"),
        (("--to", "10", "--speed", "fast"), "'fast' is neither a number nor 'max'"),
        (("--to", "10", "--listen", "8080"), "is not HOST:PORT"),
        (("--to", "10", "--platform", "k8s"), "Invalid value for '--platform'"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args, "--out", str(tmp_path))
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_out(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run_cli("--to", "5", "--out", str(tmp_path / "file" / "runs"))
    assert result.returncode == 1
    assert "cannot write the run directory" in result.stderr
