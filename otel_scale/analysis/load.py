"""Load OTLP JSON lines (the Collector file exporter's format) into columnar tables.

One decoding path for any producer: the run directory's `spans/*.jsonl`, or any folder or file of Collector
file-exporter output, rotated (`traces-0001.jsonl`, `…-2026-01-01T00-00-00.000.json`) and compressed
(`.gz`, `.zst`) files included. Lines that cannot be read are counted and reported with their file and line
number, never fatal unless `strict`. The flattening keeps every attribute: each distinct key becomes a typed
column (string, integer, double, boolean, string list; anything else as JSON text).

Output: parts of two Arrow tables, in input order — spans (one row per span as read, duplicates included,
with the index of its resource) and resources (one row per `resourceSpans` entry) — that
`otel_scale.analysis.engine` inserts one at a time into the DuckDB database behind the `spans` and
`startups` views.
"""

from __future__ import annotations

import gc
import gzip
import io
import itertools
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

SPAN_FILE_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst", ".gz", ".zst")
CHUNK_SPANS = 250_000  # spans per Arrow chunk: bounds the Python objects alive at once


class StrictLoadError(ValueError):
    """A line could not be read and `strict` was asked for."""


@dataclass
class LoadReport:
    files: list[str] = field(default_factory=list)
    lines: int = 0
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)  # the first few bad lines, "file:line: reason"
    spans: int = 0
    resources: int = 0

    def bad(self, where: str, reason: str, strict: bool) -> None:
        self.bad_lines += 1
        message = f"{where}: {reason}"
        if strict:
            raise StrictLoadError(message)
        if len(self.problems) < 20:
            self.problems.append(message)


def span_files(source: Path) -> list[Path]:
    """The span files of a run directory, a folder of Collector output, or a single file, in order."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a file nor a directory")
    root = source / "spans" if (source / "spans").is_dir() else source
    files = [p for p in root.rglob("*") if p.is_file() and p.name.endswith(SPAN_FILE_SUFFIXES)]
    # Skip what otel-scale itself writes beside span files (run.json, reports' summary.json, caches).
    files = [p for p in files if p.name not in ("run.json", "summary.json") and ".otel-scale" not in p.parts]
    return sorted(files)


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    return open(path, "rb")


def _value(any_value: Any) -> Any:
    """An OTLP JSON AnyValue as a Python value (arrays as lists, kvlists as dicts, int64 strings as ints)."""
    for kind, x in any_value.items():
        if kind == "stringValue":
            return x
        if kind == "intValue":
            return int(x)
        if kind == "doubleValue":
            return float(x)
        if kind == "boolValue":
            return x
        if kind == "arrayValue":
            return [_value(v) for v in x.get("values") or ()]
        if kind == "kvlistValue":
            return {kv["key"]: _value(kv.get("value") or {}) for kv in x.get("values") or ()}
        if kind == "bytesValue":
            return x
    return None


class _Sparse:
    """Attribute columns filled sparsely: per key, the rows that have it and their values."""

    def __init__(self) -> None:
        self.columns: dict[str, tuple[list[int], list[Any]]] = {}

    def add(self, row: int, attributes: Any) -> None:
        columns = self.columns
        for kv in attributes:
            key = kv["key"]
            column = columns.get(key)
            if column is None:
                column = columns[key] = ([], [])
            column[0].append(row)
            value = kv.get("value") or {}
            text = value.get("stringValue")  # most attributes: skip the general decoder
            column[1].append(text if text is not None else _value(value))

    def truncate(self, rows: int) -> None:
        for index, values in self.columns.values():
            while index and index[-1] >= rows:
                index.pop()
                values.pop()

    def arrays(self, rows: int) -> dict[str, pa.Array]:
        out = {}
        every_row = list(range(rows))
        for key, (index, values) in self.columns.items():
            if index == every_row:  # dense: every row has it once (most resource attributes)
                full: list[Any] = values
            else:
                full = [None] * rows
                for i, v in zip(index, values, strict=True):
                    full[i] = v
            out[key] = _typed_array(full, values)
        return out


_ARROW_KEEP = (pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.list_(pa.string()), pa.null())


def _typed_array(full: list[Any], values: list[Any]) -> pa.Array:
    """A typed column: Arrow infers the type (in C++, no Python scan of the values); string, integer, double,
    boolean, string list and all-null columns are kept as inferred, anything else becomes JSON text."""
    try:
        array = pa.array(full)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        array = None  # mixed types (e.g. int and string), or an integer beyond 64 bits
    if array is not None and array.type in _ARROW_KEEP:
        return array
    return pa.array([_text(v) for v in full], pa.string())


def _text(value: Any) -> str | None:
    """A value of a mixed-type column as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))  # stdlib: also integers beyond 64 bits from bad input


SPAN_FIELDS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "scope_name",
    "link_trace_id",
    "link_span_id",
    "resource_row",
    "file_order",
)


class _Chunk:
    def __init__(self, resource_base: int) -> None:
        self.fields: dict[str, list[Any]] = {name: [] for name in SPAN_FIELDS}
        self.attributes = _Sparse()
        self.resource_base = resource_base
        self.resource_attributes = _Sparse()
        self.resources = 0
        self.spans = 0

    def add_line(self, doc: Any, order: int) -> None:
        f = self.fields
        trace_id, span_id, parent, name, kind = f["trace_id"], f["span_id"], f["parent_span_id"], f["name"], f["kind"]
        start, end, code, message, scope_name = (
            f["start_ns"],
            f["end_ns"],
            f["status_code"],
            f["status_message"],
            f["scope_name"],
        )
        link_trace, link_span, resource_row, file_order = (
            f["link_trace_id"],
            f["link_span_id"],
            f["resource_row"],
            f["file_order"],
        )
        add_attributes = self.attributes.add
        for rs in doc.get("resourceSpans") or ():
            row = self.resource_base + self.resources
            self.resource_attributes.add(self.resources, (rs.get("resource") or {}).get("attributes") or ())
            self.resources += 1
            for ss in rs.get("scopeSpans") or ():
                scope = (ss.get("scope") or {}).get("name")
                for span in ss.get("spans") or ():
                    trace_id.append(span["traceId"])
                    span_id.append(span["spanId"])
                    parent.append(span.get("parentSpanId") or None)
                    name.append(span.get("name", ""))
                    kind.append(span.get("kind", 0))
                    start.append(int(span.get("startTimeUnixNano", 0)))
                    end.append(int(span.get("endTimeUnixNano", 0)))
                    status = span.get("status") or {}
                    code.append(status.get("code", 0))
                    message.append(status.get("message") or None)
                    scope_name.append(scope)
                    links = span.get("links")
                    if links:
                        link_trace.append(links[0].get("traceId"))
                        link_span.append(links[0].get("spanId"))
                    else:
                        link_trace.append(None)
                        link_span.append(None)
                    resource_row.append(row)
                    file_order.append(order)
                    attributes = span.get("attributes")
                    if attributes:
                        add_attributes(self.spans, attributes)
                    self.spans += 1

    def truncate(self, spans: int, resources: int) -> None:
        """Forget everything added after the chunk had `spans` spans and `resources` resources."""
        for values in self.fields.values():
            del values[spans:]
        self.attributes.truncate(spans)
        self.resource_attributes.truncate(resources)
        self.spans, self.resources = spans, resources

    def tables(self) -> tuple[pa.Table, pa.Table]:
        f = self.fields
        columns: dict[str, pa.Array] = {
            "trace_id": pa.array(f["trace_id"], pa.string()),
            "span_id": pa.array(f["span_id"], pa.string()),
            "parent_span_id": pa.array(f["parent_span_id"], pa.string()),
            "name": pa.array(f["name"], pa.string()),
            "kind": pa.array(f["kind"], pa.int8()),
            "start_ns": pa.array(f["start_ns"], pa.int64()),
            "end_ns": pa.array(f["end_ns"], pa.int64()),
            "status_code": pa.array(f["status_code"], pa.int8()),
            "status_message": pa.array(f["status_message"], pa.string()),
            "scope_name": pa.array(f["scope_name"], pa.string()),
            "link_trace_id": pa.array(f["link_trace_id"], pa.string()),
            "link_span_id": pa.array(f["link_span_id"], pa.string()),
            "resource_row": pa.array(f["resource_row"], pa.int64()),
            "file_order": pa.array(f["file_order"], pa.int64()),
        }
        for key, array in self.attributes.arrays(self.spans).items():
            if key not in columns:
                columns[key] = array
        resource_columns = {
            "resource_row": pa.array(range(self.resource_base, self.resource_base + self.resources), pa.int64())
        }
        resource_columns.update(self.resource_attributes.arrays(self.resources))
        return pa.table(columns), pa.table(resource_columns)


@dataclass(frozen=True)
class Piece:
    """A part of one span file: lines that start at byte offsets in [start, end) (compressed: the whole file)."""

    path: Path
    start: int
    end: int | None


def plan_pieces(files: list[Path], piece_bytes: int) -> list[Piece]:
    pieces = []
    for path in files:
        size = path.stat().st_size
        if path.name.endswith((".gz", ".zst")) or size <= piece_bytes:
            pieces.append(Piece(path, 0, None))
            continue
        count = -(-size // piece_bytes)
        bounds = [size * k // count for k in range(count + 1)]
        pieces.extend(Piece(path, a, b) for a, b in itertools.pairwise(bounds))
    return pieces


def _piece_lines(piece: Piece) -> Iterator[tuple[int, bytes]]:
    """(line number within the piece, line) for every line starting in the piece."""
    if piece.end is None:
        with _open(piece.path) as stream:
            yield from enumerate(stream, 1)
        return
    with open(piece.path, "rb") as stream:
        if piece.start:
            # A line belongs to the piece holding its first byte: skip to just after the first newline at or
            # after start - 1 (if byte start - 1 is a newline, a line begins exactly at start and is ours).
            stream.seek(piece.start - 1)
            stream.readline()
        position = stream.tell()
        number = 0
        while position < piece.end:
            line = stream.readline()
            if not line:
                break
            position += len(line)
            number += 1
            yield number, line


def read_lines(pieces: list[Piece], report: LoadReport, strict: bool) -> Iterator[tuple[Any, int, str]]:
    """(decoded line, order, "file:line") for every readable line of `pieces`."""
    order = 0
    for piece in pieces:
        where = f"{piece.path}" if not piece.start else f"{piece.path} (part from byte {piece.start})"
        try:
            for number, line in _piece_lines(piece):
                if not line.strip():
                    continue
                report.lines += 1
                order += 1
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    report.bad(f"{where}:{number}", f"not JSON ({exc})", strict)
                    continue
                if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
                    report.bad(f"{where}:{number}", "not an OTLP trace export request", strict)
                    continue
                yield doc, order, f"{where}:{number}"
        except (OSError, EOFError) as exc:  # truncated .gz, unreadable file
            report.bad(str(piece.path), f"cannot read the rest of the file: {exc}", strict)


PARALLEL_MIN_BYTES = 64 * 1024 * 1024  # below this, worker processes cost more than they save
PIECE_BYTES = 128 * 1024 * 1024


def iter_parts(
    files: list[Path], report: LoadReport, strict: bool = False, workers: int | None = None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Decode and flatten every span of `files`, yielding (spans, resources) parts in input order.

    Large inputs are cut into pieces (at line boundaries) decoded by `workers` processes (default: one per
    core), at most `workers + 1` pieces in flight, so memory stays bounded whatever the input size. Resource
    rows and read order are made global across parts; `report` accumulates as parts arrive.
    """
    total = sum(p.stat().st_size for p in files)
    workers = workers or os.cpu_count() or 1
    report.files = [str(p) for p in files]
    if workers == 1 or total < PARALLEL_MIN_BYTES:
        parts: Iterator[tuple[pa.Table, pa.Table, LoadReport]] = iter(
            [_load_pieces(plan_pieces(files, total + 1), strict)]
        )
    else:
        pieces = plan_pieces(files, min(PIECE_BYTES, max(1, total // (2 * workers))))
        parts = _parallel(pieces, strict, workers)
    resource_offset = 0
    for index, (spans, resources, part) in enumerate(parts):
        yield (
            spans.set_column(
                spans.schema.get_field_index("resource_row"),
                "resource_row",
                pc.add(spans["resource_row"], resource_offset),
            ).set_column(
                spans.schema.get_field_index("file_order"), "file_order", pc.add(spans["file_order"], index << 40)
            ),
            resources.set_column(0, "resource_row", pc.add(resources["resource_row"], resource_offset)),
        )
        resource_offset += resources.num_rows
        report.lines += part.lines
        report.bad_lines += part.bad_lines
        report.problems.extend(part.problems[: max(0, 20 - len(report.problems))])
        report.spans += part.spans
        report.resources += part.resources


def _parallel(pieces: list[Piece], strict: bool, workers: int) -> Iterator[tuple[pa.Table, pa.Table, LoadReport]]:
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pending: deque[Future[tuple[pa.Table, pa.Table, LoadReport]]] = deque()
            queue = iter(pieces)
            for piece in itertools.islice(queue, workers + 1):
                pending.append(pool.submit(_load_pieces, [piece], strict))
            while pending:
                result = pending.popleft().result()
                for piece in itertools.islice(queue, 1):
                    pending.append(pool.submit(_load_pieces, [piece], strict))
                done += 1
                yield result
    except BrokenProcessPool:
        # Workers cannot start from some hosts (an interactive __main__ without a file): decode the rest here.
        yield _load_pieces(pieces[done:], strict)


def load_files(
    files: list[Path], strict: bool = False, workers: int | None = None
) -> tuple[pa.Table, pa.Table, LoadReport]:
    """All of `iter_parts` at once: (raw_spans, resources, report). For small inputs and tests."""
    report = LoadReport()
    span_tables, resource_tables = [], []
    for spans, resources in iter_parts(files, report, strict, workers):
        span_tables.append(spans)
        resource_tables.append(resources)
    return _concat(span_tables), _concat(resource_tables), report


def _load_pieces(pieces: list[Piece], strict: bool) -> tuple[pa.Table, pa.Table, LoadReport]:
    # Millions of live objects and no reference cycles: the cyclic collector would rescan them all again and
    # again while the columns grow (measured: 4x slower). Reference counting still frees everything.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(pieces, strict)
    finally:
        if was_enabled:
            gc.enable()


def _load(pieces: list[Piece], strict: bool) -> tuple[pa.Table, pa.Table, LoadReport]:
    report = LoadReport()
    span_chunks: list[pa.Table] = []
    resource_chunks: list[pa.Table] = []
    chunk = _Chunk(0)
    for doc, order, where in read_lines(pieces, report, strict):
        spans, resources = chunk.spans, chunk.resources
        try:
            chunk.add_line(doc, order)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A malformed span in an otherwise valid line: drop the whole line, keep going.
            chunk.truncate(spans, resources)
            report.bad(where, f"malformed OTLP ({type(exc).__name__}: {exc})", strict)
            continue
        if chunk.spans >= CHUNK_SPANS:
            _flush(chunk, span_chunks, resource_chunks, report)
            chunk = _Chunk(report.resources)
    _flush(chunk, span_chunks, resource_chunks, report)
    return _concat(span_chunks), _concat(resource_chunks), report


def _flush(chunk: _Chunk, span_chunks: list[pa.Table], resource_chunks: list[pa.Table], report: LoadReport) -> None:
    spans, resources = chunk.tables()
    span_chunks.append(spans)
    resource_chunks.append(resources)
    report.spans += chunk.spans
    report.resources += chunk.resources


def _unified_type(types: list[pa.DataType]) -> pa.DataType:
    distinct = {t for t in types if t != pa.null()}
    if len(distinct) <= 1:
        return distinct.pop() if distinct else pa.string()
    if distinct <= {pa.int64(), pa.float64()}:
        return pa.float64()
    return pa.string()


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate chunks whose attribute columns differ: missing columns are null, conflicting types widen."""
    names: dict[str, list[pa.DataType]] = {}
    for table in tables:
        for column in table.schema:
            names.setdefault(column.name, []).append(column.type)
    target = {name: _unified_type(types) for name, types in names.items()}
    unified = []
    for table in tables:
        columns = []
        for name, type_ in target.items():
            if name in table.column_names:
                column = table[name]
                if column.type != type_:
                    column = (
                        pc.cast(column, type_)
                        if type_ != pa.string() or pa.types.is_primitive(column.type)
                        else pa.chunked_array([pa.array([_text(v) for v in column.to_pylist()], pa.string())])
                    )
                columns.append(column)
            else:
                columns.append(pa.nulls(table.num_rows, type_))
        unified.append(pa.table(columns, names=list(target)))
    if not unified:
        return pa.table({})
    return pa.concat_tables(unified)
