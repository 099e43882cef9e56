"""When did this process start? The probe's only instant that the platform does not publish."""

from __future__ import annotations

import os
import time


def process_start_ns(fallback_ns: int) -> int:
    """This process's start in Unix nanoseconds, to the kernel's clock-tick resolution (10 ms on Linux).

    Linux: /proc/self/stat's start time (ticks since boot) set against CLOCK_BOOTTIME, which avoids the
    whole-second `btime` that psutil-style readers round to. Elsewhere, or if /proc is unreadable,
    `fallback_ns` (the earliest timestamp the probe took itself).
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        # The command name (field 2) may contain spaces and parentheses: split after its closing ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        start_ticks = int(fields[19])  # field 22 overall
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        since_boot_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        now_ns = time.time_ns()
    except (OSError, ValueError, IndexError, AttributeError):
        return fallback_ns
    started = now_ns - (since_boot_ns - start_ticks * 1_000_000_000 // ticks_per_s)
    # Tick rounding can put the start a few ms after our own first timestamp; never report it later.
    return min(started, fallback_ns)
