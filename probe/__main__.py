"""`python -m probe`: start the probe (see probe/app.py)."""

import time

# The earliest instant this process can stamp itself; used only where the OS cannot say when it started.
_IMPORTED_NS = time.time_ns()

from probe.app import main  # noqa: E402  (after the timestamp on purpose)

if __name__ == "__main__":
    raise SystemExit(main(imported_ns=_IMPORTED_NS))
