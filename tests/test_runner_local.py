"""Scale runs with real probe processes: traces end to end, no orphans, and Ctrl-C mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otel_scale import contract as c
from otel_scale.platforms.local import LocalPlatform
from otel_scale.profiles import load_profile
from otel_scale.runner import RUN_FILE, Scenario, run_scale
from tests.test_runner_sim import spans_of

pytestmark = pytest.mark.slow


def probe_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "-x", f"{sys.executable} -m probe"], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def test_real_probes_report_through_the_embedded_receiver(tmp_path: Path) -> None:
    before = probe_pids()
    result = run_scale(Scenario("local", "fargate-linux-spot", 2, 14, seed=3, speed=300.0), tmp_path)
    assert result.status == "complete", result.problems
    assert (result.received, result.missing) == (12, [])
    assert probe_pids() == before  # baseline and scaled probes all stopped
    spans = spans_of(result.run_dir)
    roots = [(r, s) for r, s in spans if s["name"] == c.SPAN_STARTUP]
    assert len(roots) == 12  # the 2 baseline containers report nothing
    run = json.loads((result.run_dir / RUN_FILE).read_text())
    for resource, root in roots:
        assert resource[c.BENCHMARK_RUN_ID] == result.run_id
        assert resource[c.BENCHMARK_PLATFORM] == "local"
        assert resource["telemetry.sdk.language"] == "python"  # a real SDK, in a real probe process
        assert root["links"][0]["spanId"] == run["scenario_span"]["span_id"]
        assert int(root["startTimeUnixNano"]) >= result.t0_ns  # compressed instants stay after t0
    inits = [int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"]) for _, s in spans if s["name"] == c.SPAN_APP_INIT]
    assert len(inits) == 12
    assert all(50_000_000 < d < 10_000_000_000 for d in inits)  # real process start-up, not a simulated one


def test_teardown_stops_everything_even_mid_run(tmp_path: Path) -> None:
    platform = LocalPlatform(load_profile("fargate-linux-spot"), seed=1, speed=1.0)
    platform.prepare(1, 50)
    platform.teardown()
    platform.teardown()  # twice is fine
    assert all(p.popen.poll() is not None for p in platform.processes)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_mid_run_keeps_what_arrived_and_leaves_no_orphans(tmp_path: Path, stop_signal: int) -> None:
    before = probe_pids()
    cmd = [
        sys.executable,
        "-m",
        "otel_scale.cli",
        "run",
        "--platform",
        "local",
        "--to",
        "40",
        "--speed",
        "5",  # slow enough that the first traces arrive long before the last, even on a loaded machine
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    spans_file = None
    while time.monotonic() < deadline:
        files = list(tmp_path.glob("*/spans/traces.jsonl"))
        if files and files[0].stat().st_size > 0:
            spans_file = files[0]
            break
        time.sleep(0.2)
    assert spans_file is not None, "no traces arrived"
    runner.send_signal(stop_signal)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert "interrupted" in out
    assert "Traceback" not in err
    run = json.loads((spans_file.parent.parent / RUN_FILE).read_text())
    assert run["status"] == "interrupted"
    received = run["completeness"]["startup_traces_received"]
    assert 1 <= received < 40
    assert run["completeness"]["missing_count"] == 40 - received
    assert len(spans_of(spans_file.parent.parent)) >= received
    time.sleep(0.5)
    assert probe_pids() == before
    assert os.path.exists(spans_file)
