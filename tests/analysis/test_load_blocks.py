"""The loader reads files in blocks of whole lines, decoded by Arrow; unusual lines take the line-by-line path."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from otel_scale.analysis import load
from otel_scale.analysis.engine import Analysis
from otel_scale.analysis.load import LoadReport, _blocks, load_files
from tests.analysis.test_engine import attr, container, line, scenario


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    with path.open("wb") as f:
        f.write(line(scenario(expected=300)))
        for i in range(0, 300, 3):
            f.write(line(*(container(j, f"az-{j % 4}", 10.0 + j % 7) for j in range(i, i + 3))))
        f.write(b"{broken\n")
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_blocks_cover_every_line_once(big: Path, compressed: bool) -> None:
    lines = big.read_bytes().splitlines(keepends=True)
    path = big
    if compressed:
        path = big.with_name("traces.jsonl.gz")
        path.write_bytes(gzip.compress(big.read_bytes()))
    for block_bytes in (1, 997, 10_000, big.stat().st_size, 10 * big.stat().st_size):
        blocks = list(_blocks(path, LoadReport(), False, block_bytes))
        assert b"".join(bytes(b.data) for b in blocks).splitlines(keepends=True) == lines, block_bytes
        for block in blocks:  # every block starts at a line, and knows (or can count) which
            number = block.first_line()
            assert bytes(block.data).splitlines(keepends=True)[0] == lines[number - 1]


def _joined(spans: pa.Table, resources: pa.Table) -> list[tuple[str, str]]:
    rows, zones = resources["resource_row"].to_pylist(), resources["cloud.availability_zone"].to_pylist()
    zone_of = dict(zip(rows, zones, strict=True))
    ids, refs = spans["span_id"].to_pylist(), spans["resource_row"].to_pylist()
    return sorted(zip(ids, (zone_of[r] for r in refs), strict=True))


def test_small_blocks_read_the_same_as_one(big: Path) -> None:
    spans_1, resources_1, report_1 = load_files([big])
    spans_2, resources_2, report_2 = load_files([big], block_bytes=20_000)
    assert report_2.lines == report_1.lines == 102
    assert report_2.bad_lines == report_1.bad_lines == 1
    assert report_2.spans == report_1.spans == 1 + 300 * 4
    assert (
        report_1.problems
        == report_2.problems
        == [f"{big}:102: not JSON (unexpected character, expected a string key: line 1 column 2 (char 1))"]
    )
    # Same rows; resource rows re-based so that every span still points at its own resource.
    assert _joined(spans_2, resources_2) == _joined(spans_1, resources_1)
    assert spans_2["file_order"].to_pylist() == sorted(spans_2["file_order"].to_pylist())


def test_collector_output_takes_the_fast_path(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = big.with_name("good.jsonl")
    good.write_bytes(big.read_bytes().replace(b"{broken\n", b""))

    def refuse(*args: Any) -> Any:
        raise AssertionError("a block of Collector output was read line by line")

    monkeypatch.setattr(load, "_decode_lines", refuse)
    _, _, report = load_files([good], block_bytes=20_000)
    assert report.spans == 1201 and report.bad_lines == 0


def _request(attributes: list[dict[str, Any]], **span: Any) -> bytes:
    body = {
        "traceId": "a" * 32,
        "spanId": "b" * 16,
        "name": "s",
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "status": {},
    } | span
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "x")]},
                "scopeSpans": [{"scope": {"name": "sc"}, "spans": [body | {"attributes": attributes}]}],
            }
        ]
    }
    return json.dumps(doc).encode() + b"\n"


def test_any_valid_encoding_reads_like_the_collectors(tmp_path: Path) -> None:
    """Bare numbers for 64-bit integers, enum names, whole doubles, NaN, nested values: all readable."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        _request(
            [
                {"key": "n", "value": {"intValue": 7}},
                {"key": "big", "value": {"intValue": str(2**70)}},
                {"key": "d", "value": {"doubleValue": 2}},
                {"key": "nan", "value": {"doubleValue": "NaN"}},
                {"key": "nested", "value": {"arrayValue": {"values": [{"arrayValue": {"values": [{"intValue": 1}]}}]}}},
                {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"boolValue": True}}]}}},
            ],
            kind="SPAN_KIND_SERVER",
            startTimeUnixNano=1700000000000000000,
            status={"code": "STATUS_CODE_ERROR", "message": "boom"},
        )
    )
    spans, resources, report = load_files([path])
    assert report.bad_lines == 0 and report.spans == 1
    row = spans.to_pylist()[0]
    assert (row["kind"], row["start_ns"], row["status_code"], row["status_message"]) == (
        2,
        1700000000000000000,
        2,
        "boom",
    )
    assert (row["n"], row["big"], row["d"], row["nan"]) == (7, str(2**70), 2.0, "NaN")
    assert row["nested"] == ["[1]"]  # an array of arrays: a list of the inner arrays as JSON text
    assert json.loads(row["kv"]) == {"a": True}
    assert resources["service.name"].to_pylist() == ["x"]


def test_an_attribute_of_mixed_types_is_text(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    values = [
        {"boolValue": True},
        {"intValue": "1"},
        {"doubleValue": 0.5},
        {"arrayValue": {"values": [{"stringValue": "a"}]}},
    ]
    path.write_bytes(
        b"".join(
            _request([{"key": "m", "value": v}, attr("w", 1 if i % 2 else 1.5)], spanId=f"{i:016x}")
            for i, v in enumerate(values)
        )
    )
    spans, _, report = load_files([path])
    assert report.bad_lines == 0
    assert spans["m"].to_pylist() == ["true", "1", "0.5", '["a"]']
    assert spans["w"].type == pa.float64() and not any(math.isnan(v) for v in spans["w"].to_pylist())


def test_a_malformed_span_drops_its_line_only(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        _request([attr("ok", 1)])
        + _request([attr("ok", 2)], startTimeUnixNano="soon")
        + _request([{"value": {"stringValue": "no key"}}])
        + _request([attr("ok", 3)], spanId="c" * 16)
    )
    spans, _, report = load_files([path])
    assert spans["ok"].to_pylist() == [1, 3]
    assert report.bad_lines == 2
    assert [p.split(": ", 1)[0] for p in report.problems] == [f"{path}:2", f"{path}:3"]
    assert all("malformed OTLP" in p for p in report.problems)


def test_parts_with_different_attributes_widen_in_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = container(1, "az-a", 10.0)
    first["resource"]["attributes"] += [attr("build", 7), attr("flag", True), attr("tags", ["a"])]
    second = container(2, "az-b", 20.0)
    second["resource"]["attributes"] += [
        attr("build", "7b"),
        attr("only.later", 1.5),
        attr("flag", 1),
        attr("tags", "b"),
    ]
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line(scenario(expected=2), first) + b"\n" * 30_000 + line(second))
    monkeypatch.setattr(load, "BLOCK_BYTES", 20_000)
    with Analysis.open(tmp_path, cache=False) as a:
        columns = a.columns("startups")
        assert columns["build"] == "VARCHAR"  # int in one part, text in the other
        assert columns["only.later"] == "DOUBLE"
        assert columns["flag"] == columns["tags"] == "VARCHAR"
        _, rows = a.query('SELECT "aws.ecs.task.id", build, "only.later", flag, tags FROM startups ORDER BY 1')
        assert rows == [("task1", "7", None, "true", '["a"]'), ("task2", "7b", 1.5, "1", "b")]


def test_uncached_analysis_leaves_nothing_behind(big: Path, tmp_path: Path) -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("otel-scale-analysis-*"))
    with Analysis.open(big, cache=False) as a:
        assert a.report["spans"] == 1201
        assert set(Path(tempfile.gettempdir()).glob("otel-scale-analysis-*")) - before
    assert set(Path(tempfile.gettempdir()).glob("otel-scale-analysis-*")) == before


def test_a_rebuilt_cache_replaces_the_old_parts(big: Path) -> None:
    import os
    import time

    cache = big.parent / ".otel-scale"
    Analysis.open(big).close()
    parts = list(cache.glob("*-parts-*"))
    assert len(parts) == 1
    running = cache / f"{big.name}-parts-of-a-build-running-now"
    stale = cache / f"{big.name}-parts-left-by-a-killed-build"
    running.mkdir()
    stale.mkdir()
    two_days_ago = time.time() - 2 * 86_400
    os.utime(stale, (two_days_ago, two_days_ago))
    Analysis.open(big, rebuild=True).close()
    again = set(cache.glob("*-parts-*"))
    assert running in again and stale not in again and parts[0] not in again
    assert len(again) == 2
    with Analysis.open(big) as a:
        assert a.cached


def test_ctrl_c_mid_load_leaves_no_cache_behind(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import pyarrow.parquet as pq

    monkeypatch.setattr(load, "BLOCK_BYTES", 4_000)  # ~100 parts: the decoding thread is busy when Ctrl-C lands
    cache = big.parent / ".otel-scale"
    write = pq.write_table
    written = []

    def ctrl_c_at_the_fifth_part(*args: Any, **kwargs: Any) -> None:
        # Where the main thread spends its time during a load; a real SIGINT raises there the same way.
        written.append(1)
        if len(written) == 5:
            raise KeyboardInterrupt
        write(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", ctrl_c_at_the_fifth_part)
    with pytest.raises(KeyboardInterrupt):
        Analysis.open(big)
    assert list(cache.iterdir()) == []  # no parts, no half-written database
    assert not [t for t in threading.enumerate() if t.name.startswith("otel-scale-decode")]
    monkeypatch.setattr(pq, "write_table", write)
    with Analysis.open(big) as a:  # and the next try just works
        assert a.report["spans"] == 1201 and not a.cached


def test_the_cli_says_what_an_interrupt_left(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from otel_scale.analysis.engine import Analysis as Engine
    from otel_scale.cli import main

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Engine, "open", interrupted)
    result = CliRunner().invoke(main, ["analyze", str(big)])
    assert result.exit_code == 130
    assert "nothing was cached, the span files are untouched" in result.output


def test_a_truncated_gz_keeps_the_lines_before_the_cut(big: Path) -> None:
    whole = gzip.compress(big.read_bytes().replace(b"{broken\n", b""))
    path = big.with_name("cut.jsonl.gz")
    path.write_bytes(whole[: len(whole) * 2 // 3])  # the Collector was killed mid-write
    spans, _, report = load_files([path], block_bytes=20_000)
    assert report.bad_lines == 1 and "cannot read the rest of the file" in report.problems[0]
    assert 0 < report.spans < 1201 and report.spans == spans.num_rows
    # Every container read whole or not at all: lines are never split.
    assert report.spans % 4 == 1


def test_lines_without_resources_are_read_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{}\n{"resourceSpans": []}\n{"resourceSpans": [{}]}\n')
    _, _, report = load_files([path])
    assert (report.lines, report.bad_lines, report.spans, report.resources) == (3, 0, 0, 1)


def test_enum_names_are_repaired_without_the_full_rewrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        _request([attr("n", 1)], kind="SPAN_KIND_CLIENT", status={"code": "STATUS_CODE_OK"})
        + b"not json\n"
        + _request([attr("n", 2)], spanId="c" * 16, kind="SPAN_KIND_SERVER")
    )

    def refuse(doc: Any) -> Any:
        raise AssertionError("enum names alone took the full rewrite")

    monkeypatch.setattr(load, "_canonical", refuse)
    spans, _, report = load_files([path])
    assert spans["kind"].to_pylist() == [3, 2] and spans["status_code"].to_pylist() == [1, 0]
    assert spans["n"].to_pylist() == [1, 2]
    assert report.bad_lines == 1 and report.problems[0].startswith(f"{path}:2: not JSON")
    assert spans["file_order"].to_pylist() == [1, 3]  # each span keeps its line's place
