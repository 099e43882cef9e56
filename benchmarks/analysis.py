"""Analysis throughput on Collector-batched OTLP JSON lines, against two baselines measured in the same run.

Cases, each in a fresh child process (so that peak RSS is its own):
- `orjson`: decode every line with orjson and nothing else, the cyclic GC off — the floor for any Python reader;
- `otel-scale`: `Analysis.open` without a cache (decode, flatten, deduplicate, build the views) and every
  default answer: scale curve, phase percentiles by AZ/OS/arch/launch type/capacity type, the pull heatmap
  per AZ, and explain (slow pulls);
- `otel-scale cached`: the same answers when the cache is reused;
- `json+pandas`: a plain `json` + pandas loader that flattens the spans and computes the same answers.

Targets (issue: analysis): load + answers within 2.5x of the orjson floor and at least 5x faster than
json+pandas; for 1,000,000 startups also <= 40 s, peak RSS <= 4 GB, cached re-analysis <= 5 s.

    .venv/bin/python benchmarks/analysis.py DIR [--skip-pandas]

DIR: a run directory or folder of span files, e.g. from
`otel-scale run --platform sim --to 200000 --out /tmp/bench-data --quiet`.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def case_orjson(source: Path) -> dict[str, float]:
    import gc

    import orjson

    from otel_scale.analysis.load import _open, span_files

    gc.disable()  # the floor at its lowest: the cyclic collector alone doubles orjson's time on these lines
    lines = 0
    for path in span_files(source):
        with _open(path) as stream:
            for line in stream:
                if line.strip():
                    orjson.loads(line)
                    lines += 1
    return {"lines": lines}


def _answers(analysis: object) -> dict[str, float]:
    from otel_scale.analysis.answers import explain, heatmap, phase_percentiles, scale_curve

    curve = scale_curve(analysis)  # type: ignore[arg-type]
    stats = phase_percentiles(analysis)  # type: ignore[arg-type]
    cells = heatmap(analysis, per_zone=True)  # type: ignore[arg-type]
    top = explain(analysis)  # type: ignore[arg-type]
    return {
        "ready": curve.ready,
        "time_to_100pct_s": curve.time_to["100%"] or -1,
        "groups": len(stats),
        "heatmap_cells": sum(len(v) for v in cells.cells.values()),
        "explain_top_score": top.attributes[0].score,
    }


def case_otel_scale(source: Path, cached: bool) -> dict[str, float]:
    from otel_scale.analysis.engine import Analysis

    with Analysis.open(source, rebuild=not cached) as analysis:
        out = _answers(analysis)
        out["spans"] = analysis.report["distinct_spans"]
        out["was_cached"] = float(analysis.cached)
        return out


def case_pandas(source: Path) -> dict[str, float]:
    import pandas as pd

    from otel_scale.analysis.load import _open, span_files

    rows = []
    for path in span_files(source):
        with _open(path) as stream:
            for line in stream:
                if not line.strip():
                    continue
                doc = json.loads(line)
                for rs in doc.get("resourceSpans", []):
                    resource_attrs = {
                        a["key"]: next(iter(a["value"].values())) for a in rs.get("resource", {}).get("attributes", [])
                    }
                    for ss in rs.get("scopeSpans", []):
                        for span in ss.get("spans", []):
                            row = dict(resource_attrs)
                            row.update({a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])})
                            row.update(
                                trace_id=span["traceId"],
                                span_id=span["spanId"],
                                parent=span.get("parentSpanId"),
                                name=span["name"],
                                start=int(span["startTimeUnixNano"]),
                                end=int(span["endTimeUnixNano"]),
                            )
                            rows.append(row)
    spans = pd.DataFrame(rows).drop_duplicates(["trace_id", "span_id"])
    t0 = spans.loc[spans["name"] == "scale.scenario", "start"].min()
    roots = spans[spans["name"] == "container.startup"].set_index("trace_id")
    pulls = spans[spans["name"] == "image.pull"].set_index("trace_id")
    starts = spans[spans["name"] == "container.start"].set_index("trace_id")
    inits = spans[spans["name"] == "app.init"].set_index("trace_id")
    startups = roots.assign(
        ready_s=(roots["end"] - t0) / 1e9,
        pull_start_s=(pulls["start"] - t0) / 1e9,
        pull_s=(pulls["end"] - pulls["start"]) / 1e9,
        container_start_s=(starts["end"] - starts["start"]) / 1e9,
        init_s=(inits["end"] - inits["start"]) / 1e9,
        total_s=(roots["end"] - roots["start"]) / 1e9,
    )
    ready = startups["ready_s"].sort_values()
    by = ["cloud.availability_zone", "os.type", "host.arch", "aws.ecs.launchtype", "benchmark.capacity_type"]
    groups = 0
    for phase in ("pull_s", "container_start_s", "init_s", "total_s"):
        stats = startups.groupby(by)[phase].describe(percentiles=[0.5, 0.9, 0.95, 0.99])
        groups += len(stats)
    heat = startups.groupby(
        ["cloud.availability_zone", (startups["pull_start_s"] // 10), (startups["pull_s"] // 1)]
    ).size()
    slow = startups["pull_s"] > startups["pull_s"].quantile(0.95)
    best = 0.0
    for column in startups.columns:
        if pd.api.types.is_numeric_dtype(startups[column]) or column.endswith("_s"):
            continue
        values = startups[column].astype(str)  # lists and nested values (arrayValue) as text
        if values.nunique() <= 50:
            shares = pd.crosstab(values, slow, normalize="columns")
            if shares.shape[1] == 2:
                best = max(best, 0.5 * (shares[True] - shares[False]).abs().sum())
    return {
        "ready": len(ready),
        "time_to_100pct_s": float(ready.iloc[-1]),
        "groups": groups,
        "heatmap_cells": len(heat),
        "explain_top_score": float(best),
    }


def child(case: str, source: Path) -> None:
    began = time.perf_counter()
    if case == "orjson":
        out = case_orjson(source)
    elif case == "otel-scale":
        out = case_otel_scale(source, cached=False)
    elif case == "otel-scale cached":
        out = case_otel_scale(source, cached=True)
    else:
        out = case_pandas(source)
    out["seconds"] = time.perf_counter() - began
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # every case is one process
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source)
        return 0
    cache = (args.source if args.source.is_dir() else args.source.parent) / ".otel-scale"
    shutil.rmtree(cache, ignore_errors=True)
    size = sum(p.stat().st_size for p in args.source.rglob("*.jsonl"))
    print(f"input: {args.source} ({size / 1e6:,.0f} MB of OTLP JSON lines)")
    cases = ["orjson", "otel-scale", "otel-scale cached"] + ([] if args.skip_pandas else ["json+pandas"])
    results = {}
    for case in cases:
        proc = subprocess.run(
            [sys.executable, __file__, str(args.source), "--child", case], capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(f"{case}: failed\n{proc.stderr}")
            return 1
        results[case] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[case]
        print(
            f"{case:18} {r['seconds']:8.2f} s   peak RSS {r['peak_rss_mib']:7,.0f} MiB   "
            + "  ".join(
                f"{k}={v:,.3f}" if isinstance(v, float) else f"{k}={v:,}"
                for k, v in r.items()
                if k not in ("seconds", "peak_rss_mib")
            )
        )
    floor = results["orjson"]["seconds"]
    ours = results["otel-scale"]["seconds"]
    print(f"otel-scale / orjson floor: {ours / floor:.2f}x (target <= 2.5x)")
    if "json+pandas" in results:
        print(f"json+pandas / otel-scale: {results['json+pandas']['seconds'] / ours:.2f}x (target >= 5x)")
    print(f"cached re-analysis: {results['otel-scale cached']['seconds']:.2f} s")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
