"""Platforms that scale containers, behind one small interface (`Platform` in base.py).

`sim`: a simulated fleet; `local`: real probe processes on this machine. Later: `ecs`, `eks`.
"""

from __future__ import annotations

from otel_scale.platforms.base import Platform

PLATFORMS = ("sim", "local")


def make_platform(name: str, **options: object) -> Platform:
    """The platform called `name`, imported lazily."""
    if name == "sim":
        from otel_scale.platforms.sim import SimPlatform

        return SimPlatform(**options)  # type: ignore[arg-type]
    if name == "local":
        from otel_scale.platforms.local import LocalPlatform

        return LocalPlatform(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown platform {name!r}; choose one of {', '.join(PLATFORMS)}")
