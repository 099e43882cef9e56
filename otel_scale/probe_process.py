"""Run `python -m probe` as a child process: start it, learn its port, stop it without leaving orphans."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_SERVING = re.compile(r"serving on http://([^\s:]+|\[[^\]]+\]):(\d+)")


class ProbeProcess:
    """One probe child process. `env` is added to (and overrides) this process's environment."""

    def __init__(self, env: Mapping[str, str], python: str = sys.executable, cwd: Path = REPO_ROOT) -> None:
        # The port is learnt from the probe's INFO line "serving on ...": keep INFO visible.
        full_env = {**os.environ, "PORT": "0", "PYTHONUNBUFFERED": "1", **env, "PROBE_LOG_LEVEL": "INFO"}
        self.popen = subprocess.Popen(
            [python, "-m", "probe"],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop the probes ourselves
        )
        self.port: int | None = None
        self.lines: list[str] = []
        self._port_known = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"probe-{self.popen.pid}-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.port is None:
                match = _SERVING.search(line)
                if match:
                    self.port = int(match.group(2))
                    self._port_known.set()
        self._port_known.set()  # exited: nobody should keep waiting

    def wait_ready(self, timeout: float = 15.0) -> int:
        """Wait until the probe logs its port; returns it. Raises RuntimeError if it exits or times out."""
        if not self._port_known.wait(timeout) or self.port is None:
            raise RuntimeError(f"probe did not start listening within {timeout:.0f} s:\n{self.output}")
        return self.port

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 6.0) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout=2)
        return self.popen.returncode

    def __enter__(self) -> ProbeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
