"""Read ECS task metadata v4 from the endpoint the agent names in `ECS_CONTAINER_METADATA_URI_V4`.

Short per-request timeouts and a bounded retry: the whole read never takes more than `budget_s` (2 s by
default), whatever the endpoint does. Never raises: every failure becomes a `MetadataReading` with status
`error` and a problem that says what happened.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import replace

from otel_scale import contract
from otel_scale.metadata.ecs import MetadataReading, parse_task_metadata

ENV_V4 = "ECS_CONTAINER_METADATA_URI_V4"
ENV_V3 = "ECS_CONTAINER_METADATA_URI"

# Responses larger than this are not metadata; refuse them rather than buffer them.
_MAX_BODY = 4 * 1024 * 1024


class _Retryable(Exception):
    pass


class _Final(Exception):
    pass


def read_ecs_metadata(
    environ: Mapping[str, str] | None = None,
    *,
    budget_s: float = 2.0,
    request_timeout_s: float = 0.5,
) -> MetadataReading:
    """Read this container's and its task's metadata, spending at most `budget_s` seconds in all."""
    env = os.environ if environ is None else environ
    base = env.get(ENV_V4, "").strip()
    if not base:
        if env.get(ENV_V3, "").strip():
            return MetadataReading.failed(
                f"only {ENV_V3} (task metadata v3) is set; otel-scale reads v4, which Fargate platform "
                "1.4.0+ and ECS agent 1.39.0+ provide"
            )
        return MetadataReading.absent()
    if not base.startswith(("http://", "https://")):
        return MetadataReading.failed(f"{ENV_V4} is not an http URL: {base!r}", endpoint=base)
    base = base.rstrip("/")
    deadline = time.monotonic() + budget_s
    try:
        task_doc = _get_json(f"{base}/task", deadline, request_timeout_s)
    except _Final as exc:
        return MetadataReading.failed(str(exc), endpoint=base)
    container_problem = None
    try:
        container_doc: object | None = _get_json(base, deadline, request_timeout_s)
    except _Final as exc:
        container_doc, container_problem = None, str(exc)
    task, problems = parse_task_metadata(task_doc, container_doc)
    if container_problem is not None:
        problems.insert(0, container_problem)
    status: contract.MetadataStatus = contract.METADATA_ERROR if problems else contract.METADATA_OK
    reading = MetadataReading(status=status, task=task, problems=tuple(problems), endpoint=base)
    return reading if task is not None else replace(reading, status=contract.METADATA_ERROR)


def _get_json(url: str, deadline: float, request_timeout_s: float) -> object:
    """GET a JSON document, retrying network failures and 5xx/429 with backoff until `deadline`."""
    delay = 0.05
    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Final(f"task metadata endpoint {url} did not answer in time: {last or 'no time left'}")
        try:
            return _get_once(url, min(request_timeout_s, remaining))
        except _Retryable as exc:
            last = exc
        sleep = min(delay, max(0.0, deadline - time.monotonic()))
        time.sleep(sleep)
        delay = min(delay * 2, 0.4)


def _get_once(url: str, timeout: float) -> object:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(_MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise _Final(f"task metadata endpoint {url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, DNS
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"{type(reason).__name__}: {reason}") from None
    if len(body) > _MAX_BODY:
        raise _Final(f"task metadata endpoint {url} sent more than {_MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Final(f"task metadata endpoint {url} sent invalid JSON: {exc}") from None
