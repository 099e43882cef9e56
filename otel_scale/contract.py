"""The span data contract: every span name and attribute key otel-scale writes or reads.

This module is the single source of truth. The probe, the simulator and every platform build spans through
`otel_scale.startup`, which takes its names from here; the analysis reads them back by the same constants.
`docs/data-model.md` documents the same contract with an example trace.

One trace per container. Its root span `container.startup` has up to three children, each present only when
the platform reported both of its instants:

    container.startup   earliest known instant            -> app ready (port accepts connections)
      image.pull        PullStartedAt                     -> PullStoppedAt
      container.start   PullStoppedAt                     -> the container's StartedAt
      app.init          StartedAt (or the process start)  -> app ready

Semantic-convention keys are spelled out here rather than imported from the incubating semconv package so the
probe imports nothing it does not need; tests/test_contract.py checks each against that package.
"""

from __future__ import annotations

from typing import Final, Literal

# --- span names -------------------------------------------------------------------------------------------
SPAN_STARTUP: Final = "container.startup"
SPAN_IMAGE_PULL: Final = "image.pull"
SPAN_CONTAINER_START: Final = "container.start"
SPAN_APP_INIT: Final = "app.init"
SPAN_SCENARIO: Final = "scale.scenario"  # t0 of a scale run; every container's root links to it
PHASE_SPANS: Final = (SPAN_IMAGE_PULL, SPAN_CONTAINER_START, SPAN_APP_INIT)

# Instrumentation scope of the startup spans.
SCOPE_NAME: Final = "otel_scale.startup"

DEFAULT_SERVICE_NAME: Final = "otel-scale-probe"

# --- resource attributes: OpenTelemetry semantic conventions ---------------------------------------------
SERVICE_NAME: Final = "service.name"
CLOUD_PROVIDER: Final = "cloud.provider"
CLOUD_PLATFORM: Final = "cloud.platform"
CLOUD_REGION: Final = "cloud.region"
CLOUD_ACCOUNT_ID: Final = "cloud.account.id"
CLOUD_AVAILABILITY_ZONE: Final = "cloud.availability_zone"
CLOUD_RESOURCE_ID: Final = "cloud.resource_id"
AWS_ECS_CLUSTER_ARN: Final = "aws.ecs.cluster.arn"
AWS_ECS_TASK_ARN: Final = "aws.ecs.task.arn"
AWS_ECS_TASK_ID: Final = "aws.ecs.task.id"
AWS_ECS_TASK_FAMILY: Final = "aws.ecs.task.family"
AWS_ECS_TASK_REVISION: Final = "aws.ecs.task.revision"
AWS_ECS_LAUNCHTYPE: Final = "aws.ecs.launchtype"
AWS_ECS_CONTAINER_ARN: Final = "aws.ecs.container.arn"
AWS_LOG_GROUP_NAMES: Final = "aws.log.group.names"
AWS_LOG_GROUP_ARNS: Final = "aws.log.group.arns"
AWS_LOG_STREAM_NAMES: Final = "aws.log.stream.names"
AWS_LOG_STREAM_ARNS: Final = "aws.log.stream.arns"
CONTAINER_ID: Final = "container.id"
CONTAINER_NAME: Final = "container.name"
CONTAINER_IMAGE_NAME: Final = "container.image.name"
CONTAINER_IMAGE_TAGS: Final = "container.image.tags"
CONTAINER_IMAGE_ID: Final = "container.image.id"
OS_TYPE: Final = "os.type"
HOST_ARCH: Final = "host.arch"

CLOUD_PROVIDER_AWS: Final = "aws"
CLOUD_PLATFORM_AWS_ECS: Final = "aws_ecs"

# --- project namespace: benchmark.* ----------------------------------------------------------------------
# Resource attributes that arrive through OTEL_RESOURCE_ATTRIBUTES (set by the scenario runner or the user).
BENCHMARK_RUN_ID: Final = "benchmark.run.id"
BENCHMARK_CAPACITY_TYPE: Final = "benchmark.capacity_type"  # "spot" | "on-demand", a label the runner sets

# Root-span attributes describing what the probe could learn.
METADATA_STATUS: Final = "benchmark.metadata.status"
METADATA_PROBLEMS: Final = "benchmark.metadata.problems"  # string[]: one entry per problem found
CLOCK_ERROR_BOUND_MS: Final = "benchmark.clock.error_bound_ms"  # double, from ClockDrift.ClockErrorBound
CLOCK_SYNC_STATUS: Final = "benchmark.clock.sync_status"  # SYNCHRONIZED | NOT_SYNCHRONIZED (as published)
CLOCK_REFERENCE_TIME: Final = "benchmark.clock.reference_time"  # RFC3339, as published
# Which instant app.init starts from: "container" (metadata StartedAt) or "process" (this process's start).
APP_INIT_START_SOURCE: Final = "benchmark.app_init.start_source"

MetadataStatus = Literal["ok", "absent", "error"]
METADATA_OK: Final = "ok"  # metadata read and every field we use was valid
METADATA_ABSENT: Final = "absent"  # not on a platform that publishes metadata (no endpoint variable)
METADATA_ERROR: Final = "error"  # endpoint failed, or answered with something we could not fully use

# Which platform produced a container's trace: "sim", "local", "ecs", ... (set by the runner on every container).
BENCHMARK_PLATFORM: Final = "benchmark.platform"

# --- the scale.scenario span (t0) --------------------------------------------------------------------------
# It starts at t0 (the instant the scale-out was requested) and ends when the run stopped waiting.
SCENARIO_SCOPE_NAME: Final = "otel_scale.scenario"
SCENARIO_SERVICE_NAME: Final = "otel-scale"
SCALE_PLATFORM: Final = "scale.platform"
SCALE_PROFILE: Final = "scale.profile"
SCALE_FROM: Final = "scale.from"  # containers running before t0
SCALE_TO: Final = "scale.to"  # containers asked for
SCALE_EXPECTED: Final = "scale.expected"  # new startup traces expected: to - from
SCALE_SEED: Final = "scale.seed"
SCALE_SPEED: Final = "scale.speed"  # virtual seconds per real second; 0 = as fast as possible
