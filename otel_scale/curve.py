"""Scale-curve arithmetic shared by the runner's headline and the analysis (no heavy imports)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def time_to_fraction(ready_s: Sequence[float], target: int, fraction: float) -> float | None:
    """Seconds since t0 until at least `fraction` of `target` containers were ready; None if that never happened.

    `ready_s` is ascending. "At least": the ⌈fraction × target⌉-th container, so 99 % of 9,995 is the 9,896th.
    """
    needed = max(1, math.ceil(fraction * target - 1e-9))
    return ready_s[needed - 1] if len(ready_s) >= needed else None
