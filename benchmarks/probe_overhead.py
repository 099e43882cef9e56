"""Probe overhead: process start -> port accepting connections, and resident memory, vs a bare Flask app.

Each run starts a fresh process and polls its port every millisecond; the time is from just before the
process is spawned to the first accepted connection. The probe runs as it would on ECS: it reads emulated
task metadata and exports its startup trace to a real OTLP/HTTP receiver. Probe and baseline runs
alternate so that drift on the machine hits both alike. RSS is read from /proc 1.5 s after ready, once the
probe has exported its trace.

    .venv/bin/python benchmarks/probe_overhead.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from otel_scale.emulator.ecs import EcsMetadataEmulator, default_task
from otel_scale.sinks.memory import InMemoryTraceSink
from otel_scale.sinks.otlp_http import OtlpHttpReceiver

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one_run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv} exited with {proc.returncode}") from None
                time.sleep(0.001)
        ready_s = time.perf_counter() - began
        time.sleep(1.5)
        return ready_s, rss_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summarize(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[max(0, round(0.9 * len(ordered)) - 1)],
        "min": ordered[0],
        "max": ordered[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    sink = InMemoryTraceSink()
    with OtlpHttpReceiver(sink.on_traces) as receiver, EcsMetadataEmulator() as emulator:
        probe_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "PROBE_LOG_LEVEL": "WARNING"}
        variants = {
            "bare flask": ([sys.executable, "benchmarks/bare_flask.py"], {}),
            "probe": ([sys.executable, "-m", "probe"], probe_env),
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
        for i in range(args.warmup + args.runs):
            for name, (argv, env) in variants.items():
                if name == "probe":
                    env = {
                        **env,
                        "ECS_CONTAINER_METADATA_URI_V4": emulator.add(default_task("fargate-linux", time.time_ns())),
                    }
                outcome = one_run(argv, env)
                if i >= args.warmup:
                    results[name].append(outcome)
        traces = sum(1 for s in sink.spans if s.name == "container.startup")

    report = {}
    for name, runs in results.items():
        report[name] = {
            "ready_ms": {k: v * 1000 for k, v in summarize([r[0] for r in runs]).items()},
            "rss_mib": {k: v / 1024 for k, v in summarize([float(r[1]) for r in runs]).items()},
        }
    added_ms = report["probe"]["ready_ms"]["median"] - report["bare flask"]["ready_ms"]["median"]
    added_mib = report["probe"]["rss_mib"]["median"] - report["bare flask"]["rss_mib"]["median"]
    print(f"runs: {args.runs} each (after {args.warmup} warm-up), interleaved; startup traces received: {traces}")
    print(f"{'':12} {'ready median':>13} {'p90':>8} {'min':>8} {'RSS median':>11}")
    for name, r in report.items():
        ready, rss = r["ready_ms"], r["rss_mib"]
        print(
            f"{name:12} {ready['median']:10.1f} ms {ready['p90']:5.1f} ms {ready['min']:5.1f} ms"
            f" {rss['median']:8.1f} MiB"
        )
    print(
        f"probe adds {added_ms:.1f} ms at the median (target <= 150 ms) and {added_mib:.1f} MiB RSS (target <= 25 MB)"
    )
    print(json.dumps({"report": report, "added_ms": added_ms, "added_mib": added_mib}))
    return 0 if traces >= args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
