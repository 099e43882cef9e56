"""Scale runs on the simulated fleet: the run directory, completeness, t0, virtual time, and bad input."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from otel_scale import contract as c
from otel_scale.runner import RUN_FILE, Scenario, ScenarioError, run_scale
from otel_scale.sinks.otlp_http import decode_json_request


def spans_of(run_dir: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource attributes, span) for every span in the run's files, checking each line's encoding."""
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for path in sorted((run_dir / "spans").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            doc = json.loads(line)
            decode_json_request(line)  # every line is a valid OTLP JSON export request
            for rs in doc["resourceSpans"]:
                resource = {a["key"]: next(iter(a["value"].values())) for a in rs["resource"].get("attributes", [])}
                for ss in rs["scopeSpans"]:
                    out.extend((resource, span) for span in ss["spans"])
    return out


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("runs")
    return run_scale(Scenario("sim", "fargate-linux-spot", 5, 1005, seed=11), out)


def test_complete_run_directory(sim_run: Any) -> None:
    assert sim_run.status == "complete"
    assert (sim_run.received, sim_run.expected, sim_run.missing) == (1000, 1000, [])
    run = json.loads((sim_run.run_dir / RUN_FILE).read_text())
    assert run["status"] == "complete"
    assert run["scenario"] == {
        "platform": "sim",
        "profile": "fargate-linux-spot",
        "from_count": 5,
        "to_count": 1005,
        "seed": 11,
        "speed": None,
        "expected_containers": 1000,
    }
    assert run["completeness"]["startup_traces_received"] == 1000
    assert run["completeness"]["missing_count"] == 0
    assert run["completeness"]["requests_rejected"] == 0
    assert run["completeness"]["spans_of_other_runs"] == 0
    assert run["t0_unix_nano"] == sim_run.t0_ns
    assert run["otel_scale_version"] and run["host"]["cpus"]
    assert run["versions"]["opentelemetry-sdk"].startswith("1.") and run["versions"]["python"].startswith("3.")
    assert run["headline"]["time_to_100pct_s"] > run["headline"]["time_to_50pct_s"] > run["headline"]["time_to_first_s"]
    assert run["span_files"] == ["spans/traces.jsonl"]


def test_every_container_is_one_trace_linked_to_t0(sim_run: Any) -> None:
    spans = spans_of(sim_run.run_dir)
    run = json.loads((sim_run.run_dir / RUN_FILE).read_text())
    scenario = [s for _, s in spans if s["name"] == c.SPAN_SCENARIO]
    assert len(scenario) == 1
    assert scenario[0]["spanId"] == run["scenario_span"]["span_id"]
    assert int(scenario[0]["startTimeUnixNano"]) == sim_run.t0_ns
    roots = [(r, s) for r, s in spans if s["name"] == c.SPAN_STARTUP]
    assert len(roots) == 1000
    assert len({s["traceId"] for _, s in roots}) == 1000
    assert len({r[c.AWS_ECS_TASK_ID] for r, _ in roots}) == 1000
    for resource, _ in spans:
        assert resource[c.BENCHMARK_RUN_ID] == sim_run.run_id
        assert resource[c.BENCHMARK_PLATFORM] == "sim"
    for resource, root in roots:
        assert root["links"] == [
            {"traceId": run["scenario_span"]["trace_id"], "spanId": run["scenario_span"]["span_id"]}
        ]
        assert int(root["startTimeUnixNano"]) > sim_run.t0_ns
        assert resource[c.BENCHMARK_CAPACITY_TYPE] == "spot"
        assert resource[c.OS_TYPE] == "linux"
    by_trace: dict[str, list[str]] = {}
    for _, span in spans:
        by_trace.setdefault(span["traceId"], []).append(span["name"])
    phases = [sorted(names) for names in by_trace.values() if c.SPAN_STARTUP in names]
    assert all(
        names == sorted([c.SPAN_STARTUP, c.SPAN_IMAGE_PULL, c.SPAN_CONTAINER_START, c.SPAN_APP_INIT])
        for names in phases
    )


def test_timestamps_end_at_now(sim_run: Any) -> None:
    ends = [int(s["endTimeUnixNano"]) for _, s in spans_of(sim_run.run_dir)]
    run = json.loads((sim_run.run_dir / RUN_FILE).read_text())
    ended = time.time_ns()
    assert max(ends) <= ended
    assert max(ends) >= ended - 120 * 1_000_000_000
    assert sim_run.t0_ns + int(run["platform"]["virtual_duration_s"] * 1e9) >= max(ends) - 1_000_000_000


def test_the_same_seed_gives_the_same_timeline_with_ids_of_its_own(tmp_path: Path) -> None:
    a = run_scale(Scenario("sim", "ec2-linux", 0, 50, seed=5), tmp_path)
    b = run_scale(Scenario("sim", "ec2-linux", 0, 50, seed=5), tmp_path)
    assert a.run_id != b.run_id
    assert a.headline() == b.headline()
    for key in (c.AWS_ECS_TASK_ID,):
        ids = [{r[key] for r, s in spans_of(x.run_dir) if s["name"] == c.SPAN_STARTUP} for x in (a, b)]
        assert len(ids[0]) == len(ids[1]) == 50
        assert not ids[0] & ids[1]  # two runs never share task ids ...
    traces = [{s["traceId"] for _, s in spans_of(x.run_dir)} for x in (a, b)]
    assert not traces[0] & traces[1]  # ... nor trace ids


def test_virtual_time_replays_at_the_asked_speed(tmp_path: Path) -> None:
    # 300 Linux containers take ~75 virtual seconds; at 25x that is ~3 s of wall time.
    result = run_scale(Scenario("sim", "fargate-linux-spot", 0, 300, seed=2, speed=25.0), tmp_path)
    assert result.complete
    virtual = json.loads((result.run_dir / RUN_FILE).read_text())["platform"]["virtual_duration_s"]
    assert virtual / 25 * 0.8 <= result.wall_s <= virtual / 25 + 3.0


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (Scenario("sim", "no-such-profile", 0, 10), "unknown profile 'no-such-profile'"),
        (Scenario("ecs", "fargate-linux-spot", 0, 10), "unknown platform 'ecs'; choose one of sim, local"),
        (Scenario("sim", "fargate-linux-spot", 10, 5), "must be greater than --from"),
        (Scenario("sim", "fargate-linux-spot", 5, 5), "must be greater than --from"),
        (Scenario("sim", "fargate-linux-spot", -1, 5), "cannot be negative"),
        (Scenario("sim", "fargate-linux-spot", 0, 10**9), "more than the sim platform takes"),
        (Scenario("local", "fargate-linux-spot", 0, 50_000), "more than the local platform takes"),
        (Scenario("sim", "fargate-linux-spot", 0, 5, speed=0.0), "--speed must be positive"),
    ],
)
def test_nonsense_is_refused_before_anything_starts(tmp_path: Path, scenario: Scenario, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        run_scale(scenario, tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unwritable_output_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ScenarioError, match="cannot write the run directory"):
        run_scale(Scenario("sim", "fargate-linux-spot", 0, 5), blocker)


def test_port_already_taken(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ScenarioError, match=f"cannot listen on 127.0.0.1:{port}"):
            run_scale(Scenario("sim", "fargate-linux-spot", 0, 5), tmp_path, listen=("127.0.0.1", port))


def test_an_endpoint_that_is_down_is_reported_and_nothing_is_lost(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_scale(
        Scenario("sim", "fargate-linux-spot", 0, 20),
        tmp_path,
        otlp_endpoint=f"http://127.0.0.1:{port}",
        platform_options={"export_retry_s": 1.0},
    )
    assert result.status == "incomplete"
    assert any("did not take the spans" in p for p in result.problems)
    run = json.loads((result.run_dir / RUN_FILE).read_text())
    assert run["status"] == "incomplete"
    assert run["sink"] == {"kind": "external", "endpoint": f"http://127.0.0.1:{port}"}
