"""The run directory's span files: OTLP JSON lines exactly as the Collector's file exporter writes them.

`SpanFileWriter.on_traces` is an `OtlpHttpReceiver` callback: one received export request becomes one line.
Files rotate at `rotate_bytes` like the file exporter's rotation (`traces.jsonl`, then `traces-0001.jsonl`, …).
While writing it keeps a tally of what arrived — spans, startup traces by task, t0 spans — so the runner can
say at the end which containers are missing without reading the files back.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_scale import contract
from otel_scale.otlp import request_to_json

SPANS_DIR = "spans"


@dataclass
class Tally:
    requests: int = 0
    spans: int = 0
    startup_traces: int = 0
    scenario_spans: int = 0
    other_runs_spans: int = 0  # spans whose benchmark.run.id is another run's (still written: nothing is lost)
    task_ids: set[str] = field(default_factory=set)  # aws.ecs.task.id of each startup root of this run
    ready_ns: list[int] = field(default_factory=list)  # end (= ready) of each startup root of this run


class SpanFileWriter:
    def __init__(self, run_dir: Path, run_id: str | None = None, rotate_bytes: int = 256 * 1024 * 1024) -> None:
        self.dir = run_dir / SPANS_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.rotate_bytes = rotate_bytes
        self.tally = Tally()
        self._lock = threading.Lock()
        self._index = 0
        self._file: IO[bytes] | None = None
        self._written = 0
        self._closed = False

    @property
    def files(self) -> list[Path]:
        return sorted(self.dir.glob("traces*.jsonl"))

    def _open_next(self) -> IO[bytes]:
        name = "traces.jsonl" if self._index == 0 else f"traces-{self._index:04d}.jsonl"
        self._index += 1
        self._written = 0
        return open(self.dir / name, "ab")

    def on_traces(self, request: ExportTraceServiceRequest) -> None:
        line = request_to_json(request) + b"\n"
        with self._lock:
            if self._closed:
                raise RuntimeError("the span files are closed")
            if self._file is None or (self._written and self._written + len(line) > self.rotate_bytes):
                if self._file is not None:
                    self._file.close()
                self._file = self._open_next()
            self._file.write(line)
            self._written += len(line)
            self._count(request)

    def _count(self, request: ExportTraceServiceRequest) -> None:
        tally = self.tally
        tally.requests += 1
        for resource_spans in request.resource_spans:
            run_id = task_id = None
            for kv in resource_spans.resource.attributes:
                if kv.key == contract.BENCHMARK_RUN_ID:
                    run_id = kv.value.string_value
                elif kv.key == contract.AWS_ECS_TASK_ID:
                    task_id = kv.value.string_value
            mine = self.run_id is None or run_id == self.run_id
            for scope_spans in resource_spans.scope_spans:
                n = len(scope_spans.spans)
                tally.spans += n
                if not mine:
                    tally.other_runs_spans += n
                    continue
                for span in scope_spans.spans:
                    if span.name == contract.SPAN_STARTUP:
                        tally.startup_traces += 1
                        tally.ready_ns.append(span.end_time_unix_nano)
                        if task_id:
                            tally.task_ids.add(task_id)
                    elif span.name == contract.SPAN_SCENARIO:
                        tally.scenario_spans += 1

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
            self._closed = True
