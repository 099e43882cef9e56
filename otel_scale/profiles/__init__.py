"""Simulated-fleet profiles: TOML files a user can read and edit, calibrated to published figures.

A profile describes how one platform launches containers (Fargate's token bucket, per-service rate, the
delay before the first launch), how long each phase takes (per-AZ image-pull mixtures, container start, app
init), the clocks (ClockDrift error bounds) and how often launches fail. `load_profile("fargate-linux-spot")`
finds a built-in profile; any path to a `.toml` file works too. docs/profiles.md documents the format and the
calibration of each built-in profile.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_scale.emulator.ecs import TASK_KINDS

BUILTIN_DIR = Path(__file__).parent


class ProfileError(ValueError):
    """A profile that cannot be found or does not make sense; the message says which and why."""


@dataclass(frozen=True)
class Distribution:
    """A distribution of seconds (or milliseconds), sampled with a caller's `random.Random`.

    Kinds: constant {value}; normal {mean, sd}; lognormal {median, sigma}; uniform {low, high};
    mixture {components = [{weight, <a distribution>}...]}. `min` (default 0) truncates from below.
    """

    kind: str
    params: Mapping[str, float]
    components: tuple[tuple[float, Distribution], ...] = ()
    minimum: float = 0.0

    def sample(self, rng: random.Random) -> float:
        value = self._draw(rng)
        return value if value >= self.minimum else self.minimum

    def _draw(self, rng: random.Random) -> float:
        p = self.params
        if self.kind == "constant":
            return p["value"]
        if self.kind == "normal":
            return rng.gauss(p["mean"], p["sd"])
        if self.kind == "lognormal":
            return p["median"] * math.exp(rng.gauss(0.0, p["sigma"]))
        if self.kind == "uniform":
            return rng.uniform(p["low"], p["high"])
        # mixture
        pick = rng.random() * sum(w for w, _ in self.components)
        for weight, component in self.components:
            pick -= weight
            if pick <= 0:
                return component.sample(rng)
        return self.components[-1][1].sample(rng)

    def mean(self) -> float:
        """The untruncated mean (for documentation and sanity checks)."""
        p = self.params
        if self.kind == "constant":
            return p["value"]
        if self.kind == "normal":
            return p["mean"]
        if self.kind == "lognormal":
            return p["median"] * math.exp(p["sigma"] ** 2 / 2)
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        total = sum(w for w, _ in self.components)
        return sum(w * c.mean() for w, c in self.components) / total


_REQUIRED = {
    "constant": ("value",),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "mixture": (),
}


def parse_distribution(spec: object, where: str) -> Distribution:
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Distribution("constant", {"value": float(spec)})
    if not isinstance(spec, dict):
        raise ProfileError(f"{where}: a distribution is a number or a table with 'dist', got {spec!r}")
    kind = spec.get("dist")
    if kind not in _REQUIRED:
        raise ProfileError(f"{where}: unknown dist {kind!r}; choose one of {', '.join(_REQUIRED)}")
    params: dict[str, float] = {}
    for key in _REQUIRED[kind]:
        value = spec.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ProfileError(f"{where}: {kind} needs a number {key!r}")
        params[key] = float(value)
    if (kind in ("normal",) and params["sd"] < 0) or (kind == "lognormal" and params["sigma"] < 0):
        raise ProfileError(f"{where}: spread must not be negative")
    if kind == "uniform" and params["high"] < params["low"]:
        raise ProfileError(f"{where}: uniform needs low <= high")
    components: list[tuple[float, Distribution]] = []
    if kind == "mixture":
        raw = spec.get("components")
        if not isinstance(raw, list) or not raw:
            raise ProfileError(f"{where}: a mixture needs a non-empty 'components' list")
        for i, component in enumerate(raw):
            if not isinstance(component, dict):
                raise ProfileError(f"{where}.components[{i}]: expected a table")
            weight = component.get("weight", 1.0)
            if not isinstance(weight, int | float) or weight <= 0:
                raise ProfileError(f"{where}.components[{i}]: weight must be a positive number")
            rest = {k: v for k, v in component.items() if k != "weight"}
            components.append((float(weight), parse_distribution(rest, f"{where}.components[{i}]")))
    minimum = spec.get("min", 0.0)
    if not isinstance(minimum, int | float):
        raise ProfileError(f"{where}: min must be a number")
    return Distribution(kind, params, tuple(components), float(minimum))


@dataclass(frozen=True)
class Zone:
    name: str  # availability zone name, as task metadata publishes it
    weight: float
    pull_s: Distribution
    published_id: str = ""  # the AZ id of the published figures this zone stands for, if any


@dataclass(frozen=True)
class LaunchModel:
    """How fast the platform launches tasks: an account-wide token bucket and per-service rate limits."""

    services: int
    account_burst: int
    account_rate_per_s: float
    service_burst: int
    service_rate_per_min: float
    start_delay_s: Distribution  # before the first launch (capacity that must scale first, e.g. EC2)
    provisioning_s: Distribution  # launch -> PullStartedAt
    failure_probability: float  # a launch that fails before its container starts, replaced by a new one
    failure_after_s: Distribution  # how long a failing launch takes to fail


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    kind: str  # the task metadata shape: fargate-linux | fargate-windows | ec2-linux
    os_type: str
    arch: str
    capacity_type: str
    region: str
    account_id: str
    cluster: str
    image: str
    launch: LaunchModel
    zones: tuple[Zone, ...]
    container_start_s: Distribution
    app_init_s: Distribution
    clock_error_bound_ms: Distribution | None  # None: no ClockDrift published (Windows)
    clock_unsynchronized_probability: float
    source: Path

    def zone_for(self, rng: random.Random) -> Zone:
        pick = rng.random() * sum(z.weight for z in self.zones)
        for zone in self.zones:
            pick -= zone.weight
            if pick <= 0:
                return zone
        return self.zones[-1]


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        candidate = BUILTIN_DIR / f"{name_or_path}.toml"
        if not candidate.exists():
            raise ProfileError(
                f"unknown profile {str(name_or_path)!r}; built-in profiles: {', '.join(builtin_profiles())}"
            )
        path = candidate
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"profile file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile file {path} cannot be read: {exc}") from None
    try:
        return _profile_from(doc, path)
    except (KeyError, TypeError) as exc:
        raise ProfileError(f"profile file {path}: missing or malformed {exc}") from None


def _number(doc: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = doc.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ProfileError(f"{where}: {key!r} must be a number")
    return float(value)


def _profile_from(doc: Mapping[str, Any], path: Path) -> Profile:
    where = str(path)
    kind = doc.get("kind")
    if kind not in TASK_KINDS:
        raise ProfileError(f"{where}: kind must be one of {', '.join(TASK_KINDS)}, got {kind!r}")
    launch = doc["launch"]
    phases = doc["phases"]
    clock = doc.get("clock", {})
    failure = _number(launch, "failure_probability", f"{where} [launch]", 0.0)
    if not 0 <= failure < 0.5:
        raise ProfileError(f"{where} [launch]: failure_probability must be in [0, 0.5)")
    model = LaunchModel(
        services=int(_number(launch, "services", f"{where} [launch]", 1)),
        account_burst=int(_number(launch, "account_burst", f"{where} [launch]")),
        account_rate_per_s=_number(launch, "account_rate_per_s", f"{where} [launch]"),
        service_burst=int(_number(launch, "service_burst", f"{where} [launch]")),
        service_rate_per_min=_number(launch, "service_rate_per_min", f"{where} [launch]"),
        start_delay_s=parse_distribution(launch.get("start_delay_s", 0), f"{where} [launch].start_delay_s"),
        provisioning_s=parse_distribution(launch["provisioning_s"], f"{where} [launch].provisioning_s"),
        failure_probability=failure,
        failure_after_s=parse_distribution(launch.get("failure_after_s", 30), f"{where} [launch].failure_after_s"),
    )
    if model.services < 1 or model.account_rate_per_s <= 0 or model.service_rate_per_min <= 0:
        raise ProfileError(f"{where} [launch]: services and rates must be positive")
    zones = tuple(
        Zone(
            name=str(z["name"]),
            weight=_number(z, "weight", f"{where} [[zones]]", 1.0),
            pull_s=parse_distribution(z["pull_s"], f"{where} zone {z.get('name')}.pull_s"),
            published_id=str(z.get("published_id", "")),
        )
        for z in doc["zones"]
    )
    if not zones:
        raise ProfileError(f"{where}: at least one [[zones]] entry is needed")
    bound = clock.get("error_bound_ms")
    return Profile(
        name=str(doc.get("name", path.stem)),
        description=str(doc.get("description", "")),
        kind=str(kind),
        os_type=str(doc.get("os_type", "windows" if kind == "fargate-windows" else "linux")),
        arch=str(doc.get("arch", "amd64")),
        capacity_type=str(doc.get("capacity_type", "on-demand")),
        region=str(doc.get("region", "us-east-1")),
        account_id=str(doc.get("account_id", "123456789012")),
        cluster=str(doc.get("cluster", "bench")),
        image=str(doc.get("image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/probe:1.0.0")),
        launch=model,
        zones=zones,
        container_start_s=parse_distribution(phases["container_start_s"], f"{where} [phases].container_start_s"),
        app_init_s=parse_distribution(phases["app_init_s"], f"{where} [phases].app_init_s"),
        clock_error_bound_ms=None if bound is None else parse_distribution(bound, f"{where} [clock].error_bound_ms"),
        clock_unsynchronized_probability=_number(clock, "unsynchronized_probability", f"{where} [clock]", 0.0),
        source=path,
    )
