"""Scale-run throughput: how fast the runner and its embedded sink take a scale-out, with zero loss.

- sim, --speed max, embedded OTLP/HTTP receiver: 10,000 and 100,000 containers (targets: <= 10 s, <= 60 s)
- local: 100 real probe processes, from t0 to every trace received (target: <= 60 s)

Each case is `run_scale` exactly as `otel-scale run` calls it; wall time includes planning, the t0 span, the
export over loopback HTTP, the conversion to OTLP JSON lines, fsync and run.json. Peak RSS is this process's.

    .venv/bin/python benchmarks/scale_runs.py [--cases sim-10k,sim-100k,local-100]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from otel_scale.runner import Scenario, run_scale

CASES = {
    "sim-10k": (Scenario("sim", "fargate-linux-spot", 5, 10_000, seed=1), 10.0),
    "sim-100k": (Scenario("sim", "fargate-linux-spot", 0, 100_000, seed=1), 60.0),
    "local-100": (Scenario("local", "fargate-linux-spot", 0, 100, seed=1, speed=600.0), 60.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    rows = []
    ok = True
    for name in args.cases.split(","):
        scenario, target = CASES[name]
        out = Path(tempfile.mkdtemp(prefix="otel-scale-bench-"))
        try:
            began = time.perf_counter()
            result = run_scale(scenario, out)
            wall = time.perf_counter() - began
            size = sum(p.stat().st_size for p in (result.run_dir / "spans").glob("*.jsonl"))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        lost = result.expected - (result.received or 0)
        met = wall <= target and lost == 0 and result.complete
        ok &= met
        rows.append(
            {
                "case": name,
                "containers": result.expected,
                "received": result.received,
                "lost": lost,
                "wall_s": round(wall, 2),
                "target_s": target,
                "containers_per_s": round(result.expected / wall),
                "span_bytes": size,
                "met": met,
            }
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{name:10} {result.expected:>7,} containers  received {result.received:>7,}  lost {lost}  "
            f"wall {wall:6.2f} s (target <= {target:.0f} s)  {result.expected / wall:7,.0f}/s  "
            f"{size / 1e6:6.1f} MB of OTLP JSON  peak RSS so far {peak:,.0f} MiB  {'met' if met else 'NOT MET'}",
            flush=True,
        )
    print(json.dumps(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
