"""Large inputs are cut into byte-range pieces decoded by worker processes: every line exactly once, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_scale.analysis import load
from otel_scale.analysis.load import Piece, _piece_lines, load_files, plan_pieces
from tests.analysis.test_engine import container, line, scenario


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    with path.open("wb") as f:
        f.write(line(scenario(expected=300)))
        for i in range(0, 300, 3):
            f.write(line(*(container(j, f"az-{j % 4}", 10.0 + j % 7) for j in range(i, i + 3))))
        f.write(b"{broken\n")
    return path


def test_pieces_cover_every_line_once(big: Path) -> None:
    lines = big.read_bytes().splitlines(keepends=True)
    for piece_bytes in (1, 997, 10_000, big.stat().st_size):
        pieces = plan_pieces([big], piece_bytes)
        got = [text for piece in pieces for _, text in _piece_lines(piece)]
        assert got == lines, piece_bytes


def test_compressed_files_are_one_piece(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(b"x" * 100)
    assert plan_pieces([path], 10) == [Piece(path, 0, None)]


def test_parallel_load_equals_sequential(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spans_1, resources_1, report_1 = load_files([big], workers=1)
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(load, "PIECE_BYTES", 20_000)
    spans_2, resources_2, report_2 = load_files([big], workers=2)
    assert report_2.lines == report_1.lines == 102
    assert report_2.bad_lines == report_1.bad_lines == 1
    assert report_2.spans == report_1.spans == 1 + 300 * 4
    assert "(part from byte" in report_2.problems[0] and "not JSON" in report_2.problems[0]

    # Same rows; resource rows re-based so that every span still points at its own resource.
    def joined(spans: Any, resources: Any) -> list[tuple[str, str]]:
        rows, zones = resources["resource_row"].to_pylist(), resources["cloud.availability_zone"].to_pylist()
        zone_of = dict(zip(rows, zones, strict=True))
        ids, refs = spans["span_id"].to_pylist(), spans["resource_row"].to_pylist()
        return sorted(zip(ids, (zone_of[r] for r in refs), strict=True))

    assert joined(spans_2, resources_2) == joined(spans_1, resources_1)
    assert spans_2["file_order"].to_pylist() == sorted(spans_2["file_order"].to_pylist())


def test_parts_with_different_attributes_widen_in_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from otel_scale.analysis.engine import Analysis
    from tests.analysis.test_engine import attr

    first = container(1, "az-a", 10.0)
    first["resource"]["attributes"].append(attr("build", 7))
    second = container(2, "az-b", 20.0)
    second["resource"]["attributes"] += [attr("build", "7b"), attr("only.later", 1.5)]
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line(scenario(expected=2), first) + b"\n" * 30_000 + line(second))
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(load, "PIECE_BYTES", 20_000)
    with Analysis.open(tmp_path, cache=False) as a:
        columns = a.columns("startups")
        assert columns["build"] == "VARCHAR"  # int in one part, text in the other
        assert columns["only.later"] == "DOUBLE"
        _, rows = a.query('SELECT "aws.ecs.task.id", build, "only.later" FROM startups ORDER BY 1')
        assert rows == [("task1", "7", None), ("task2", "7b", 1.5)]
