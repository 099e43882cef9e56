"""A small threaded HTTP service: the shared lifecycle of the metadata emulator and the OTLP receiver."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class HTTPService:
    """Serves `handler` on `host:port` (port 0 = any free port) in a daemon thread until `stop()`."""

    thread_name = "http-service"

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True  # a slow client never holds up stop()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://[{text}]:{port}" if ":" in text else f"http://{text}:{port}"

    def start(self) -> Self:
        # A short poll interval so that stop() returns promptly.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
