"""The baseline for benchmarks/probe_overhead.py: a bare Flask hello-world on the same WSGI server."""

import os

from flask import Flask
from werkzeug.serving import make_server

app = Flask("hello")


@app.get("/")
def hello() -> str:
    return "hello\n"


if __name__ == "__main__":
    make_server("127.0.0.1", int(os.environ["PORT"]), app, threaded=True).serve_forever()
