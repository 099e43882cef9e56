"""The analysis database: spans loaded once into DuckDB, behind two stable views, cached next to the data.

Public interface (documented in docs/data-model.md):
- `spans`: one row per distinct span (deduplicated by trace id and span id: retries resend), with `name,
  trace_id, span_id, parent_span_id, start_ns, end_ns, duration_ns, kind, status_code, status_message,
  scope_name, service_name` and every span and resource attribute as a column under its dotted name.
- `startups`: one row per container (`container.startup` root) with t0-relative seconds of each phase and
  every attribute of the root span and of its resource.
- `runs`: one row per benchmark run found, with its t0 and where t0 came from.

`Analysis.open(path)` takes a run directory, or any folder or file of Collector file-exporter output; it
reuses the cached database when the input files did not change (size and modification time).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from otel_scale import contract
from otel_scale.analysis.load import SPAN_FIELDS, LoadReport, as_text, iter_parts, span_files, unified_type

CACHE_VERSION = "3"  # bump when the schema below changes: old caches are rebuilt
CACHE_DIR = ".otel-scale"

FIXED_SPAN_COLUMNS = SPAN_FIELDS  # the loader's own columns; everything else in span_table is an attribute
# Attributes every analysis refers to: present as (possibly all-NULL) columns even when no span has them.
HOT_RESOURCE = (
    contract.SERVICE_NAME,
    contract.BENCHMARK_RUN_ID,
    contract.BENCHMARK_PLATFORM,
    contract.BENCHMARK_CAPACITY_TYPE,
    contract.CLOUD_REGION,
    contract.CLOUD_AVAILABILITY_ZONE,
    contract.OS_TYPE,
    contract.HOST_ARCH,
    contract.AWS_ECS_LAUNCHTYPE,
    contract.AWS_ECS_TASK_ID,
    contract.CONTAINER_ID,
    contract.CONTAINER_IMAGE_NAME,
)
HOT_SPAN = {
    contract.METADATA_STATUS: "VARCHAR",
    contract.APP_INIT_START_SOURCE: "VARCHAR",
    contract.CLOCK_ERROR_BOUND_MS: "DOUBLE",
    contract.CLOCK_SYNC_STATUS: "VARCHAR",
    contract.SCALE_EXPECTED: "BIGINT",
}


class AnalysisError(ValueError):
    """Input that cannot be analysed; the message says what and where."""


def q(name: str) -> str:
    """Quote an identifier (attribute names have dots)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class RunInfo:
    run_id: str | None
    t0_ns: int
    t0_source: str  # run.json | scale.scenario | earliest span
    expected: int | None  # containers asked for, when the run said so
    startups: int


class Analysis:
    def __init__(self, con: duckdb.DuckDBPyConnection, source: Path, report: dict[str, Any], cached: bool) -> None:
        self.con = con
        self.source = source
        self.report = report  # the load report: files, lines, bad lines, spans, duplicates
        self.cached = cached
        self._cleanup: weakref.finalize[Any, Any] | None = None

    # --- opening ------------------------------------------------------------------------------------
    @classmethod
    def open(cls, source: Path | str, *, strict: bool = False, cache: bool = True, rebuild: bool = False) -> Analysis:
        source = Path(source)
        if not source.exists():
            raise AnalysisError(f"{source} does not exist")
        files = span_files(source)
        if not files:
            raise AnalysisError(f"no span files (*.jsonl, *.json, .gz, .zst) in {source}")
        run_file = source / "run.json" if source.is_dir() else None
        fingerprint = _fingerprint(files, run_file, strict)
        path = _cache_path(source) if cache else None
        if path is not None and path.exists() and not rebuild:
            try:
                con = duckdb.connect(str(path), read_only=True)
                meta = dict(con.execute("SELECT key, value FROM _meta").fetchall())
                if meta.get("fingerprint") == fingerprint and meta.get("parts") and Path(meta["parts"]).is_dir():
                    return cls(con, source, json.loads(meta["report"]), cached=True)
                con.close()
            except duckdb.Error:
                pass  # unreadable or from another version: rebuild
        report = LoadReport()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            parts = Path(tempfile.mkdtemp(prefix=f"{path.stem}-parts-", dir=path.parent))
            tmp = f"{path}.tmp-{os.getpid()}"
            Path(tmp).unlink(missing_ok=True)
        else:
            parts = Path(tempfile.mkdtemp(prefix="otel-scale-analysis-"))
            tmp = ":memory:"
        con = duckdb.connect(tmp)
        try:
            summary = _build(con, iter_parts(files, report, strict=strict), report, run_file, parts)
            con.execute("CREATE TABLE _meta (key VARCHAR, value VARCHAR)")
            con.executemany(
                "INSERT INTO _meta VALUES (?, ?)",
                [("fingerprint", fingerprint), ("report", json.dumps(summary)), ("parts", str(parts))],
            )
        except BaseException:
            con.close()
            shutil.rmtree(parts, ignore_errors=True)
            if path is not None:
                Path(tmp).unlink(missing_ok=True)
            raise
        if path is None:
            analysis = cls(con, source, summary, cached=False)
            # The spans of an uncached analysis live until it is closed (or forgotten).
            analysis._cleanup = weakref.finalize(analysis, shutil.rmtree, parts, True)
            return analysis
        con.close()
        replaced = _parts_of(path)
        os.replace(tmp, path)
        for old in path.parent.glob(f"{path.stem}-parts-*"):
            # The parts of the cache just replaced, and those a killed build left a day ago or more; never
            # those of a build still running next to us.
            if old != parts and (old == replaced or time.time() - old.stat().st_mtime > 86_400):
                shutil.rmtree(old, ignore_errors=True)
        return cls(duckdb.connect(str(path), read_only=True), source, summary, cached=False)

    def close(self) -> None:
        self.con.close()
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Analysis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- asking -------------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run SQL over the views; returns (column names, rows). Errors become AnalysisError."""
        try:
            cursor = self.con.execute(sql, params or [])
            columns = [d[0] for d in cursor.description or []]
            return columns, cursor.fetchall()
        except duckdb.Error as exc:
            raise AnalysisError(str(exc).split("\n\n")[0]) from None

    def runs(self) -> list[RunInfo]:
        rows = self.con.execute(
            "SELECT run_id, t0_ns, t0_source, expected, startups FROM runs ORDER BY t0_ns"
        ).fetchall()
        return [RunInfo(*row) for row in rows]

    def columns(self, view: str) -> dict[str, str]:
        """Column name -> DuckDB type of a view."""
        rows = self.con.execute(f"DESCRIBE {view}").fetchall()
        return {row[0]: row[1] for row in rows}


def _parts_of(path: Path) -> Path | None:
    """The Parquet folder an existing cache database points at, if it is readable."""
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute("SELECT value FROM _meta WHERE key = 'parts'").fetchone()
    except duckdb.Error:
        return None
    return Path(row[0]) if row else None


def _fingerprint(files: list[Path], run_file: Path | None, strict: bool) -> str:
    parts: list[Any] = [CACHE_VERSION, strict]
    for path in [*files, *([run_file] if run_file and run_file.exists() else [])]:
        stat = path.stat()
        parts.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _cache_path(source: Path) -> Path:
    folder = source if source.is_dir() else source.parent
    name = "analysis.duckdb" if source.is_dir() else f"{source.name}.duckdb"
    candidate = folder / CACHE_DIR / name
    if os.access(folder, os.W_OK):
        return candidate
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "otel-scale" / f"{digest}.duckdb"


def _build(
    con: duckdb.DuckDBPyConnection,
    parts: Iterator[tuple[pa.Table, pa.Table]],
    report: LoadReport,
    run_file: Path | None,
    folder: Path,
) -> dict[str, Any]:
    """Write the decoded parts as Parquet files in `folder` (one at a time: memory stays bounded, and the
    writing overlaps the decoding of the next part), then put the views over them; deduplicate only if the
    input has duplicates."""
    span_parts: list[tuple[Path, pa.Schema]] = []
    resource_parts: list[tuple[Path, pa.Schema]] = []
    for spans, resources in parts:
        index = len(span_parts)
        for table, kind, written in ((spans, "spans", span_parts), (resources, "resources", resource_parts)):
            file = folder / f"{kind}-{index:05d}.parquet"
            pq.write_table(table, file, compression="zstd", compression_level=1)
            written.append((file, table.schema))
    if not span_parts or report.spans == 0:
        raise AnalysisError(f"no spans could be read ({report.bad_lines} unreadable lines: {report.problems[:3]})")
    con.execute(f"CREATE VIEW raw_spans AS {_union(span_parts, HOT_SPAN)}")
    con.execute(f"CREATE VIEW resources AS {_union(resource_parts, dict.fromkeys(HOT_RESOURCE, 'VARCHAR'))}")
    duplicated = con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM raw_spans GROUP BY trace_id, span_id HAVING count(*) > 1)"
    ).fetchone()[0]  # type: ignore[index]
    if duplicated:  # the exporter retried: keep each span's first copy (in read order)
        con.execute(
            "CREATE TABLE span_table AS SELECT * FROM raw_spans "
            "QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY file_order) = 1"
        )
        deduplicated = con.execute("SELECT count(*) FROM span_table").fetchone()[0]  # type: ignore[index]
    else:
        con.execute("CREATE VIEW span_table AS SELECT * FROM raw_spans")
        deduplicated = report.spans

    _build_runs(con, run_file)
    _create_views(con)
    summary = asdict(report)
    summary.update(duplicate_spans=report.spans - deduplicated, distinct_spans=deduplicated)
    return summary


_SQL_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int8(): "TINYINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.list_(pa.string()): "VARCHAR[]",
}


def _union(files: list[tuple[Path, pa.Schema]], hot: dict[str, str]) -> str:
    """SELECT over all part files as one table. A column's type is the one all parts agree on; integers and
    doubles make doubles; any other disagreement makes text (strings as they are, other values as JSON), and
    the parts that need it are rewritten so (rare: an attribute whose type changes between parts). Columns
    of `hot` that no part has are there as NULLs of their type."""
    types: dict[str, list[pa.DataType]] = {}
    for _, schema in files:
        for column in schema:
            types.setdefault(column.name, []).append(column.type)
    target = {name: unified_type(found) for name, found in types.items()}
    for file, schema in files:
        convert = [c.name for c in schema if c.type != target[c.name] and not _reads_as(c.type, target[c.name])]
        if convert:
            table = pq.read_table(file)
            for name in convert:
                i = table.schema.get_field_index(name)
                table = table.set_column(i, name, as_text(table[name]))
            pq.write_table(table, file, compression="zstd", compression_level=1)
    columns = [f"CAST({q(name)} AS {_SQL_TYPES.get(type_, 'VARCHAR')}) AS {q(name)}" for name, type_ in target.items()]
    columns += [f"CAST(NULL AS {type_}) AS {q(name)}" for name, type_ in hot.items() if name not in target]
    paths = ", ".join("'" + str(file).replace("'", "''") + "'" for file, _ in files)
    return f"SELECT {', '.join(columns)} FROM read_parquet([{paths}], union_by_name = true)"


def _reads_as(found: pa.DataType, target: pa.DataType) -> bool:
    """Whether DuckDB's own widening (union_by_name, then the CAST) turns `found` into `target` as we want."""
    if pa.types.is_null(found) or (found == pa.int64() and target == pa.float64()):
        return True
    return target == pa.string() and found in (pa.int64(), pa.float64())


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def _build_runs(con: duckdb.DuckDBPyConnection, run_file: Path | None) -> None:
    """t0 per run: run.json's; else its earliest scale.scenario span; else the earliest span of that run."""
    from_file: dict[str, tuple[int, int | None]] = {}
    if run_file is not None and run_file.exists():
        try:
            doc = json.loads(run_file.read_text())
            from_file[doc["run_id"]] = (int(doc["t0_unix_nano"]), doc.get("scenario", {}).get("expected_containers"))
        except (ValueError, KeyError, TypeError):
            pass  # a broken run.json: fall back to the spans
    run_col = q(contract.BENCHMARK_RUN_ID)
    rows = con.execute(
        f"""
        SELECT r.{run_col} AS run_id,
               min(s.start_ns) FILTER (WHERE s.name = '{contract.SPAN_SCENARIO}') AS scenario_t0,
               max(s.{q(contract.SCALE_EXPECTED)}) FILTER (WHERE s.name = '{contract.SPAN_SCENARIO}') AS expected,
               min(s.start_ns) AS earliest,
               count(*) FILTER (WHERE s.name = '{contract.SPAN_STARTUP}') AS startups
        FROM span_table s JOIN resources r USING (resource_row)
        GROUP BY 1
        """
    ).fetchall()
    runs = []
    global_scenario = min((r[1] for r in rows if r[1] is not None), default=None)
    global_earliest = min(r[3] for r in rows)
    for run_id, scenario_t0, expected, earliest, startups in rows:
        if run_id in from_file:
            t0, source = from_file[run_id][0], "run.json"
            expected = from_file[run_id][1] or expected
        elif scenario_t0 is not None:
            t0, source = scenario_t0, "scale.scenario"
        elif run_id is None and global_scenario is not None:
            t0, source = global_scenario, "scale.scenario"
        else:
            t0, source = (earliest, "earliest span") if run_id is not None else (global_earliest, "earliest span")
        runs.append((run_id, t0, source, expected, startups))
    con.execute("CREATE TABLE runs (run_id VARCHAR, t0_ns BIGINT, t0_source VARCHAR, expected BIGINT, startups BIGINT)")
    con.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?)", runs)
    con.execute("DELETE FROM runs WHERE startups = 0 AND run_id IS NULL")


def _create_views(con: duckdb.DuckDBPyConnection) -> None:
    span_attrs = [c for c in _columns(con, "span_table") if c not in FIXED_SPAN_COLUMNS]
    resource_attrs = [c for c in _columns(con, "resources") if c != "resource_row" and c not in span_attrs]
    fixed = (
        "s.name, s.trace_id, s.span_id, s.parent_span_id, s.start_ns, s.end_ns, s.end_ns - s.start_ns AS duration_ns, "
        "s.kind, s.status_code, s.status_message, s.scope_name"
    )
    attr_select = ", ".join([*(f"s.{q(c)}" for c in span_attrs), *(f"r.{q(c)}" for c in resource_attrs)])
    con.execute(
        f"""CREATE VIEW spans AS
        SELECT {fixed}, r.{q(contract.SERVICE_NAME)} AS service_name, s.link_trace_id, s.link_span_id, {attr_select}
        FROM span_table s JOIN resources r USING (resource_row)"""
    )

    def phase(name: str, edge: str) -> str:
        return f"max(s.{edge}) FILTER (WHERE s.name = '{name}')"

    # Materialised once at build time: every answer reads it, and the cache keeps it.
    con.execute(
        f"""CREATE TABLE startups_table AS
        WITH phases AS (
            SELECT s.trace_id,
                {phase(contract.SPAN_IMAGE_PULL, "start_ns")} AS pull_start_ns,
                {phase(contract.SPAN_IMAGE_PULL, "end_ns")} AS pull_end_ns,
                {phase(contract.SPAN_CONTAINER_START, "start_ns")} AS container_start_start_ns,
                {phase(contract.SPAN_CONTAINER_START, "end_ns")} AS container_started_ns,
                {phase(contract.SPAN_APP_INIT, "start_ns")} AS init_start_ns,
                {phase(contract.SPAN_APP_INIT, "end_ns")} AS init_end_ns
            FROM span_table s
            WHERE s.name IN {tuple(contract.PHASE_SPANS)!r}
              AND s.parent_span_id IS NOT NULL
            GROUP BY s.trace_id
        )
        SELECT
            r.{q(contract.BENCHMARK_RUN_ID)} AS run_id,
            s.trace_id, s.span_id,
            runs.t0_ns,
            s.start_ns, s.end_ns AS ready_ns,
            (s.start_ns - runs.t0_ns) / 1e9 AS start_s,
            (p.pull_start_ns - runs.t0_ns) / 1e9 AS pull_start_s,
            (p.pull_end_ns - runs.t0_ns) / 1e9 AS pull_end_s,
            (p.container_started_ns - runs.t0_ns) / 1e9 AS container_started_s,
            (s.end_ns - runs.t0_ns) / 1e9 AS ready_s,
            (p.pull_end_ns - p.pull_start_ns) / 1e9 AS pull_s,
            (p.container_started_ns - p.container_start_start_ns) / 1e9 AS container_start_s,
            (p.init_end_ns - p.init_start_ns) / 1e9 AS init_s,
            (s.end_ns - s.start_ns) / 1e9 AS total_s,
            s.status_code, s.status_message,
            {attr_select}
        FROM span_table s
        JOIN resources r USING (resource_row)
        LEFT JOIN phases p ON p.trace_id = s.trace_id
        JOIN runs ON runs.run_id IS NOT DISTINCT FROM r.{q(contract.BENCHMARK_RUN_ID)}
        WHERE s.name = '{contract.SPAN_STARTUP}'"""
    )
    con.execute("CREATE VIEW startups AS SELECT * FROM startups_table")
