"""Answers to the questions people ask of a scale run. Each is one function over an `Analysis`.

- `scale_curve`: containers ready vs seconds since t0; time to first/50/90/99/100 % of the target; start rate.
- `phase_percentiles`: count, mean, P50/P90/P95/P99, max of each phase by any attributes.
- `heatmap`: image-pull duration over time (the published heatmap), optionally per availability zone.
- `explain`: which attributes set a selection (default: pulls slower than the run's P95) apart (docs/analysis.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_scale import contract
from otel_scale.analysis.engine import Analysis, AnalysisError, q
from otel_scale.curve import time_to_fraction

PHASES = {"pull": "pull_s", "start": "container_start_s", "init": "init_s", "total": "total_s"}
DEFAULT_BY = (
    contract.CLOUD_AVAILABILITY_ZONE,
    contract.OS_TYPE,
    contract.HOST_ARCH,
    contract.AWS_ECS_LAUNCHTYPE,
    contract.BENCHMARK_CAPACITY_TYPE,
)
FRACTIONS = (0.5, 0.9, 0.99, 1.0)


ALL_RUNS = "all"  # as run_id: every run in the data together (not for scale curves)


def _run_filter(analysis: Analysis, run_id: str | None) -> tuple[str, list[Any], str | None]:
    """A SQL condition selecting one run's startups. With one run in the data, run_id may be omitted."""
    if run_id == ALL_RUNS:
        return "TRUE", [], None
    runs = analysis.runs()
    if run_id is None:
        if len(runs) > 1:
            ids = ", ".join(str(r.run_id) for r in runs)
            raise AnalysisError(
                f"{len(runs)} runs in this data ({ids}); pick one with --run-id (run_id= in Python), "
                f"or '{ALL_RUNS}' where runs can be taken together"
            )
        run_id = runs[0].run_id if runs else None
    elif run_id not in {r.run_id for r in runs}:
        raise AnalysisError(f"no run {run_id!r} in this data")
    if run_id is None:
        return "run_id IS NULL", [], None
    return "run_id = ?", [run_id], run_id


# --- scale curve ----------------------------------------------------------------------------------------


@dataclass
class ScaleCurve:
    run_id: str | None
    target: int  # containers asked for (or, when unknown, containers seen)
    target_known: bool
    ready_s: list[float]  # every container's ready instant, seconds since t0, ascending
    time_to_first_s: float | None
    time_to: dict[str, float | None]  # "50%", "90%", "99%", "100%" -> seconds since t0 (None: not reached)
    mean_start_rate: float | None  # containers ready per second between the first and the last
    peak_start_rate: float | None  # the most containers ready in any 10-second window, per second

    @property
    def ready(self) -> int:
        return len(self.ready_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "target": self.target,
            "target_known": self.target_known,
            "ready": self.ready,
            "time_to_first_s": self.time_to_first_s,
            **{f"time_to_{k.rstrip('%')}pct_s": v for k, v in self.time_to.items()},
            "mean_start_rate_per_s": self.mean_start_rate,
            "peak_start_rate_per_s": self.peak_start_rate,
        }


def scale_curve(analysis: Analysis, run_id: str | None = None, window_s: float = 10.0) -> ScaleCurve:
    if run_id == ALL_RUNS:
        raise AnalysisError("a scale curve is per run: give a run id (compare runs with compare)")
    where, params, run_id = _run_filter(analysis, run_id)
    _, rows = analysis.query(
        f"SELECT ready_s FROM startups WHERE {where} AND ready_s IS NOT NULL ORDER BY ready_s", params
    )
    ready = [r[0] for r in rows]
    info = next(r for r in analysis.runs() if r.run_id == run_id)
    target_known = info.expected is not None
    target = int(info.expected) if info.expected is not None else len(ready)
    time_to = {f"{fraction * 100:g}%": time_to_fraction(ready, target, fraction) for fraction in FRACTIONS}
    mean_rate = (len(ready) - 1) / (ready[-1] - ready[0]) if len(ready) > 1 and ready[-1] > ready[0] else None
    peak = 0
    j = 0
    for i, t in enumerate(ready):  # two pointers over the sorted instants
        while ready[j] < t - window_s:
            j += 1
        peak = max(peak, i - j + 1)
    return ScaleCurve(
        run_id=run_id,
        target=target,
        target_known=target_known,
        ready_s=ready,
        time_to_first_s=ready[0] if ready else None,
        time_to=time_to,
        mean_start_rate=mean_rate,
        peak_start_rate=peak / window_s if ready else None,
    )


# --- phase percentiles -----------------------------------------------------------------------------------


@dataclass
class PhaseStats:
    group: dict[str, Any]
    phase: str
    count: int
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None


def _check_columns(analysis: Analysis, names: Sequence[str]) -> None:
    known = analysis.columns("startups")
    missing = [n for n in names if n not in known]
    if missing:
        raise AnalysisError(
            f"unknown attribute(s) {', '.join(missing)}; the startups view has: {', '.join(sorted(known))}"
        )


def phase_percentiles(
    analysis: Analysis,
    by: Sequence[str] = DEFAULT_BY,
    phases: Sequence[str] = tuple(PHASES),
    run_id: str | None = None,
    where: str | None = None,
) -> list[PhaseStats]:
    """Percentiles (seconds) of each phase for each combination of the `by` attributes' values."""
    _check_columns(analysis, by)
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise AnalysisError(f"unknown phase(s) {', '.join(unknown)}; phases are {', '.join(PHASES)}")
    run_where, params, _ = _run_filter(analysis, run_id)
    condition = run_where + (f" AND ({where})" if where else "")
    group = ", ".join(q(b) for b in by)
    out: list[PhaseStats] = []
    for name in phases:
        col = PHASES[name]
        select_group = f"{group}, " if by else ""
        sql = f"""
            SELECT {select_group}count({col}), avg({col}),
                   quantile_cont({col}, [0.5, 0.9, 0.95, 0.99]), max({col})
            FROM startups WHERE {condition} AND {col} IS NOT NULL
            {"GROUP BY ALL ORDER BY ALL" if by else ""}"""
        _, rows = analysis.query(sql, params)
        for row in rows:
            values = row[len(by) :]
            quantiles = values[2] or [None] * 4
            out.append(
                PhaseStats(
                    group=dict(zip(by, row[: len(by)], strict=True)),
                    phase=name,
                    count=values[0],
                    mean=values[1],
                    p50=quantiles[0],
                    p90=quantiles[1],
                    p95=quantiles[2],
                    p99=quantiles[3],
                    max=values[3],
                )
            )
    return out


# --- heatmap ---------------------------------------------------------------------------------------------


@dataclass
class Heatmap:
    time_bucket_s: float
    duration_bucket_s: float
    # (zone or None) -> {(time bucket index, duration bucket index): count}
    cells: dict[str | None, dict[tuple[int, int], int]] = field(default_factory=dict)

    def points(self, zone: str | None = None) -> list[tuple[float, float, int]]:
        """(pull start s since t0, pull duration s, count) for one zone (or all, when not per zone)."""
        return [
            (t * self.time_bucket_s, d * self.duration_bucket_s, n)
            for (t, d), n in sorted(self.cells.get(zone, {}).items())
        ]


def heatmap(
    analysis: Analysis,
    run_id: str | None = None,
    per_zone: bool = False,
    time_bucket_s: float = 10.0,
    duration_bucket_s: float = 1.0,
) -> Heatmap:
    """Counts of pulls by (pull start since t0, pull duration) buckets: the published heatmap."""
    where, params, _ = _run_filter(analysis, run_id)
    zone = q(contract.CLOUD_AVAILABILITY_ZONE) if per_zone else "NULL"
    _, rows = analysis.query(
        f"""SELECT {zone} AS zone, floor(pull_start_s / ?)::BIGINT, floor(pull_s / ?)::BIGINT, count(*)
            FROM startups WHERE {where} AND pull_s IS NOT NULL GROUP BY ALL""",
        [time_bucket_s, duration_bucket_s, *params],
    )
    result = Heatmap(time_bucket_s, duration_bucket_s)
    for zone_value, t, d, n in rows:
        result.cells.setdefault(zone_value, {})[(t, d)] = n
    return result


# --- explain ---------------------------------------------------------------------------------------------


@dataclass
class ValueShare:
    value: Any
    selected: int
    baseline: int
    selected_share: float
    baseline_share: float

    @property
    def lift(self) -> float | None:
        return self.selected_share / self.baseline_share if self.baseline_share else None


@dataclass
class AttributeExplanation:
    attribute: str
    kind: str  # categorical | numeric
    score: float  # total variation distance (categorical) or Kolmogorov-Smirnov statistic (numeric), 0..1
    values: list[ValueShare]  # categorical: the values with enough support, most over-represented first
    coverage: float = 1.0  # share of the selection that has this attribute at all
    selected_median: float | None = None
    baseline_median: float | None = None


@dataclass
class Explanation:
    condition: str
    selected: int
    baseline: int
    min_support: int
    attributes: list[AttributeExplanation]


EXCLUDED_FROM_EXPLAIN = {"run_id", "trace_id", "span_id", "status_message", "t0_ns", "start_ns", "ready_ns"}


def explain(
    analysis: Analysis,
    where: str | None = None,
    run_id: str | None = None,
    min_support: int | None = None,
    max_categories: int = 50,
) -> Explanation:
    """Compare a selection of startups against the rest, attribute by attribute (BubbleUp-style).

    Selection: `where` (any SQL condition over the startups view), default the pulls slower than the run's
    P95. Categorical attributes are scored by the total variation distance between the value shares of
    selection and baseline, counting only values seen at least `min_support` times in the selection
    (default: max(5, 1 % of it)) so that a handful of outliers does not make noise; numeric attributes by the
    Kolmogorov-Smirnov statistic. Attributes with more than `max_categories` values (ids) are skipped, as are
    the phase timings themselves. Highest score first.
    """
    run_where, params, _ = _run_filter(analysis, run_id)
    if where is None:
        _, rows = analysis.query(f"SELECT quantile_cont(pull_s, 0.95) FROM startups WHERE {run_where}", params)
        if rows[0][0] is None:
            raise AnalysisError("no image pulls in this run: give a selection with --where")
        where = f"pull_s > {round(rows[0][0], 3)!r}"
    _, counts = analysis.query(
        f"SELECT count(*) FILTER (WHERE ({where})), count(*) FILTER (WHERE NOT ({where}) OR ({where}) IS NULL) "
        f"FROM startups WHERE {run_where}",
        params,
    )
    selected, baseline = counts[0]
    if selected == 0:
        raise AnalysisError(f"no startups match {where}")
    support = min_support if min_support is not None else max(5, math.ceil(0.01 * selected))
    results: list[AttributeExplanation] = []
    columns = {
        column: type_
        for column, type_ in analysis.columns("startups").items()
        if column not in EXCLUDED_FROM_EXPLAIN and not column.endswith(("_s", "_ns"))
    }
    categorical = [c for c, t in columns.items() if t in ("VARCHAR", "BOOLEAN", "TINYINT") or t.endswith("[]")]
    too_many = _high_cardinality(analysis, categorical, run_where, params, max_categories)
    flag = f"coalesce(({where}), false)"
    for column, type_ in columns.items():
        if type_ in ("DOUBLE", "BIGINT", "INTEGER", "FLOAT") and column not in ("status_code",):
            explanation = _numeric(analysis, column, flag, run_where, params, selected)
        elif column in categorical and column not in too_many:
            explanation = _categorical(
                analysis, column, flag, run_where, params, selected, baseline, support, max_categories
            )
        else:
            explanation = None
        if explanation is not None:
            results.append(explanation)
    # Ties (two attributes that both separate perfectly): an attribute present on the selection explains more
    # than one whose absence does.
    results.sort(key=lambda e: (round(e.score, 9), e.coverage), reverse=True)
    return Explanation(condition=where, selected=selected, baseline=baseline, min_support=support, attributes=results)


def _high_cardinality(
    analysis: Analysis, columns: list[str], run_where: str, params: list[Any], max_categories: int
) -> set[str]:
    """Columns with far more distinct values than `max_categories` (ids, ARNs), found in one scan (HyperLogLog
    estimates, a few % off: only columns clearly over the limit are left out here; the exact count decides the
    rest)."""
    if not columns:
        return set()
    estimates = ", ".join(f"approx_count_distinct(CAST({q(c)} AS VARCHAR))" for c in columns)
    _, rows = analysis.query(f"SELECT {estimates} FROM startups WHERE {run_where}", params)
    return {c for c, n in zip(columns, rows[0], strict=True) if n > 2 * max_categories + 10}


def _categorical(
    analysis: Analysis,
    column: str,
    flag: str,
    run_where: str,
    params: list[Any],
    selected: int,
    baseline: int,
    support: int,
    max_categories: int,
) -> AttributeExplanation | None:
    value = f"CAST({q(column)} AS VARCHAR)"
    _, rows = analysis.query(
        f"""SELECT {value} AS v, count(*) FILTER (WHERE {flag}), count(*) FILTER (WHERE NOT {flag})
            FROM startups WHERE {run_where} GROUP BY 1""",
        params,
    )
    if len(rows) < 2 or len(rows) > max_categories:
        return None
    shares = [
        ValueShare(v, s, b, s / selected if selected else 0.0, b / baseline if baseline else 0.0) for v, s, b in rows
    ]
    supported = [x for x in shares if x.selected >= support]
    if not supported:
        return None
    # Values seen fewer than `support` times in the selection are pooled into one "other" bucket on both
    # sides: rare values cannot make noise one by one, yet a share that moved away from them still counts.
    rare = [x for x in shares if x.selected < support]
    score = 0.5 * (
        sum(abs(x.selected_share - x.baseline_share) for x in supported)
        + abs(sum(x.selected_share for x in rare) - sum(x.baseline_share for x in rare))
    )
    supported.sort(key=lambda x: x.selected_share - x.baseline_share, reverse=True)
    coverage = 1.0 - sum(x.selected_share for x in shares if x.value is None)
    return AttributeExplanation(column, "categorical", score, supported, coverage=coverage)


def _numeric(
    analysis: Analysis, column: str, flag: str, run_where: str, params: list[Any], selected_total: int
) -> AttributeExplanation | None:
    import numpy as np

    try:
        arrays = analysis.con.execute(
            f"SELECT {q(column)}::DOUBLE AS v, {flag} AS f FROM startups WHERE {run_where} AND {q(column)} IS NOT NULL",
            params,
        ).fetchnumpy()
    except Exception as exc:  # duckdb.Error; a column that does not cast to a number is not numeric
        raise AnalysisError(str(exc)) from None
    values, flags = np.asarray(arrays["v"], dtype=float), np.asarray(arrays["f"], dtype=bool)
    selected, baseline = np.sort(values[flags]), np.sort(values[~flags])
    if len(selected) < 5 or len(baseline) < 5 or (selected[0] == selected[-1] == baseline[0] == baseline[-1]):
        return None
    # Kolmogorov-Smirnov: the largest gap between the two empirical distribution functions.
    grid = np.concatenate([selected, baseline])
    gap = np.abs(
        np.searchsorted(selected, grid, side="right") / len(selected)
        - np.searchsorted(baseline, grid, side="right") / len(baseline)
    )
    return AttributeExplanation(
        column,
        "numeric",
        float(gap.max()),
        [],
        selected_median=float(np.median(selected)),
        baseline_median=float(np.median(baseline)),
        coverage=len(selected) / max(1, selected_total),
    )
