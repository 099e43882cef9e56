from __future__ import annotations

from otel_scale.curve import time_to_fraction


def test_at_least_the_fraction() -> None:
    ready = [float(i) for i in range(1, 9996)]  # the i-th container ready at i s
    assert time_to_fraction(ready, 9995, 0.99) == 9896.0  # 9,895 would be below 99 %
    assert time_to_fraction(ready, 9995, 0.5) == 4998.0
    assert time_to_fraction(ready, 9995, 1.0) == 9995.0
    assert time_to_fraction(ready[:10], 9995, 0.5) is None
    assert time_to_fraction([3.0], 1000, 0.0) == 3.0  # at least one container
