"""Loading span files: hand-made files with broken lines, duplicates, other services, compression, no run.json."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from otel_scale import contract as c
from otel_scale.analysis.engine import Analysis, AnalysisError
from otel_scale.analysis.load import StrictLoadError

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def span(
    trace: str, span_id: str, name: str, start: float, end: float, parent: str = "", **attrs: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(T0 + int(start * S)),
        "endTimeUnixNano": str(T0 + int(end * S)),
        "status": {},
    }
    if parent:
        out["parentSpanId"] = parent
    if attrs:
        out["attributes"] = [attr(k.replace("__", "."), v) for k, v in attrs.items()]
    return out


def container(i: int, az: str, pull: float, run: str = "run-1", offset: float = 10.0) -> dict[str, Any]:
    """One container's startup trace as a resourceSpans entry: pull starts at offset, lasts `pull` s."""
    trace = f"{i:032x}"
    root = f"{i:015x}a"
    start = offset
    return {
        "resource": {
            "attributes": [
                attr("service.name", "otel-scale-probe"),
                attr(c.BENCHMARK_RUN_ID, run),
                attr(c.CLOUD_AVAILABILITY_ZONE, az),
                attr(c.OS_TYPE, "linux"),
                attr(c.AWS_ECS_TASK_ID, f"task{i}"),
                attr(c.CONTAINER_IMAGE_TAGS, ["1.0"]),
            ]
        },
        "scopeSpans": [
            {
                "scope": {"name": c.SCOPE_NAME},
                "spans": [
                    span(
                        trace,
                        root,
                        c.SPAN_STARTUP,
                        start,
                        start + pull + 2,
                        benchmark__metadata__status="ok",
                        benchmark__clock__error_bound_ms=0.5,
                    ),
                    span(trace, f"{i:015x}b", c.SPAN_IMAGE_PULL, start, start + pull, root),
                    span(trace, f"{i:015x}c", c.SPAN_CONTAINER_START, start + pull, start + pull + 1, root),
                    span(trace, f"{i:015x}d", c.SPAN_APP_INIT, start + pull + 1, start + pull + 2, root),
                ],
            }
        ],
    }


def scenario(run: str = "run-1", expected: int = 4, start: float = 0.0) -> dict[str, Any]:
    return {
        "resource": {"attributes": [attr("service.name", "otel-scale"), attr(c.BENCHMARK_RUN_ID, run)]},
        "scopeSpans": [
            {
                "scope": {"name": c.SCENARIO_SCOPE_NAME},
                "spans": [
                    span(
                        run.encode().hex().ljust(32, "0")[:32],
                        f"{999:016x}",
                        c.SPAN_SCENARIO,
                        start,
                        100,
                        scale__expected=expected,
                    ),
                ],
            }
        ],
    }


def line(*resource_spans: dict[str, Any]) -> bytes:
    return json.dumps({"resourceSpans": list(resource_spans)}).encode() + b"\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Collector output: two containers per line, one retried (duplicate), other services, broken lines."""
    other = {
        "resource": {"attributes": [attr("service.name", "checkout")]},
        "scopeSpans": [{"scope": {}, "spans": [span("f" * 32, "e" * 16, "GET /cart", 3, 4, http__status_code=200)]}],
    }
    data = (
        line(scenario(), container(1, "az-a", 20.0))
        + b"{not json\n"
        + line(container(2, "az-a", 30.0), other)
        + b"\n"
        + line(container(2, "az-a", 30.0))  # the exporter retried: same spans again
        + b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "no ids"}]}]}]}\n'
        + b"[1, 2, 3]\n"
    )
    (tmp_path / "traces.jsonl").write_bytes(data)
    (tmp_path / "traces-0001.jsonl.gz").write_bytes(gzip.compress(line(container(3, "az-b", 15.0))))
    (tmp_path / "traces-0002.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(line(container(4, "az-b", 16.0)))
    )
    return tmp_path


def test_load_report_counts_everything(folder: Path) -> None:
    with Analysis.open(folder) as a:
        r = a.report
        assert len(r["files"]) == 3
        assert r["bad_lines"] == 3
        assert any("not JSON" in p for p in r["problems"])
        assert any("malformed OTLP" in p for p in r["problems"])
        assert any("not an OTLP trace export request" in p for p in r["problems"])
        assert r["duplicate_spans"] == 4
        assert r["distinct_spans"] == 1 + 4 * 4 + 1


def test_strict_makes_bad_lines_fatal(folder: Path) -> None:
    with pytest.raises(StrictLoadError, match=r"traces.jsonl:2: not JSON"):
        Analysis.open(folder, strict=True, cache=False)


def test_spans_view_has_every_attribute_under_its_dotted_name(folder: Path) -> None:
    with Analysis.open(folder) as a:
        columns = a.columns("spans")
        for name in (
            "name",
            "trace_id",
            "span_id",
            "parent_span_id",
            "start_ns",
            "end_ns",
            "status_code",
            "service_name",
        ):
            assert name in columns
        assert columns["start_ns"] == "BIGINT"
        assert columns[c.CLOUD_AVAILABILITY_ZONE] == "VARCHAR"
        assert columns["http.status_code"] == "BIGINT"
        assert columns[c.CLOCK_ERROR_BOUND_MS] == "DOUBLE"
        assert columns[c.CONTAINER_IMAGE_TAGS] == "VARCHAR[]"
        _, rows = a.query("SELECT service_name, \"http.status_code\" FROM spans WHERE name = 'GET /cart'")
        assert rows == [("checkout", 200)]


def test_startups_view_is_t0_relative(folder: Path) -> None:
    with Analysis.open(folder) as a:
        [run] = a.runs()
        assert (run.run_id, run.t0_ns, run.t0_source, run.expected) == ("run-1", T0, "scale.scenario", 4)
        _, rows = a.query(
            'SELECT "aws.ecs.task.id", pull_start_s, pull_s, container_start_s, init_s, ready_s, total_s '
            "FROM startups ORDER BY 1"
        )
        assert rows == [
            ("task1", 10.0, 20.0, 1.0, 1.0, 32.0, 22.0),
            ("task2", 10.0, 30.0, 1.0, 1.0, 42.0, 32.0),
            ("task3", 10.0, 15.0, 1.0, 1.0, 27.0, 17.0),
            ("task4", 10.0, 16.0, 1.0, 1.0, 28.0, 18.0),
        ]


def test_without_a_scenario_span_t0_is_the_earliest_span(tmp_path: Path) -> None:
    (tmp_path / "spans.json").write_bytes(
        line(container(1, "az-a", 20.0, offset=5.0), container(2, "az-a", 10.0, offset=7.0))
    )
    with Analysis.open(tmp_path / "spans.json") as a:
        [run] = a.runs()
        assert (run.t0_source, run.t0_ns, run.expected) == ("earliest span", T0 + 5 * S, None)
        _, rows = a.query("SELECT min(pull_start_s) FROM startups")
        assert rows == [(0.0,)]


def test_the_cache_is_reused_until_the_files_change(folder: Path) -> None:
    with Analysis.open(folder) as first:
        assert not first.cached
    with Analysis.open(folder) as second:
        assert second.cached
        assert second.report == first.report
    (folder / "traces-0003.jsonl").write_bytes(line(container(5, "az-c", 12.0)))
    with Analysis.open(folder) as third:
        assert not third.cached
        assert third.runs()[0].startups == 5


def test_queries_errors_are_clear(folder: Path) -> None:
    with Analysis.open(folder) as a, pytest.raises(AnalysisError, match="nope"):
        a.query("SELECT nope FROM startups")


def test_nothing_to_read(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="no span files"):
        Analysis.open(tmp_path)
    (tmp_path / "x.jsonl").write_bytes(b"garbage\n")
    with pytest.raises(AnalysisError, match="no spans could be read"):
        Analysis.open(tmp_path)
