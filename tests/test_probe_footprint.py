"""The probe stays light: what it imports, what its images copy, and what they install agree."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("duckdb", "pandas", "numpy", "pyarrow", "matplotlib", "boto3", "botocore", "orjson", "rich", "pytest")

# Everything the probe runs, including what it imports lazily after ready.
PROBE_IMPORTS = "import probe.app, probe.telemetry, otel_scale.resource, otel_scale.startup"


@pytest.fixture(scope="module")
def probe_modules() -> list[str]:
    code = f"import sys, json; {PROBE_IMPORTS}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    modules: list[str] = json.loads(out)
    return modules


def test_probe_imports_nothing_heavy(probe_modules: list[str]) -> None:
    heavy = [m for m in probe_modules if m.split(".")[0] in HEAVY]
    assert heavy == []


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.windows"])
def test_images_copy_every_module_the_probe_imports(probe_modules: list[str], dockerfile: str) -> None:
    text = (ROOT / "probe" / dockerfile).read_text()
    copied = [src for line in re.findall(r"^COPY (.+)$", text, re.M) for src in line.split()[:-1]]
    ours = [m for m in probe_modules if m.split(".")[0] in ("otel_scale", "probe")]
    for module in ours:
        path = module.replace(".", "/")
        file = f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"
        assert any(file == src or file.startswith(src) for src in copied if src.endswith(("/", ".py"))), (
            f"{dockerfile} does not copy {file}"
        )


def test_image_requirements_pin_runtime_dependencies() -> None:
    declared = {
        Requirement(r).name.lower(): Requirement(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    lines = (ROOT / "probe" / "requirements.txt").read_text().splitlines()
    pinned = {Requirement(r).name.lower(): Requirement(r) for r in lines if r and not r.startswith("#")}
    assert set(pinned) <= set(declared)
    for name, requirement in pinned.items():
        [spec] = list(requirement.specifier)
        assert spec.operator == "==", f"{name} is not pinned"
        assert declared[name].specifier.contains(spec.version, prereleases=True), f"{name} {spec.version}"


def test_version_matches_pyproject() -> None:
    import otel_scale

    assert otel_scale.__version__ == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
