"""Which spans a startup becomes, with which instants, for good and broken metadata."""

from __future__ import annotations

from dataclasses import replace

from otel_scale import contract
from otel_scale.metadata.ecs import MetadataReading, parse_task_metadata
from otel_scale.startup import plan_startup
from otel_scale.timefmt import parse_rfc3339_ns
from tests.conftest import load_sample

PULL_START = parse_rfc3339_ns("2023-07-21T15:45:33.532811081Z")
PULL_STOP = parse_rfc3339_ns("2023-07-21T15:45:38.541068435Z")
STARTED = parse_rfc3339_ns("2023-07-21T15:45:44.954460255Z")
PROCESS = STARTED + 120_000_000
READY = STARTED + 731_000_001


def reading_of(doc: dict[str, object]) -> MetadataReading:
    task, problems = parse_task_metadata(doc, doc["Containers"][0])  # type: ignore[index]
    return MetadataReading(status="error" if problems else "ok", task=task, problems=tuple(problems))


def test_full_metadata_gives_three_phases_with_exact_instants() -> None:
    plan = plan_startup(reading_of(load_sample("fargate-linux")), process_started_ns=PROCESS, ready_ns=READY)
    assert [p.name for p in plan.phases] == [
        contract.SPAN_IMAGE_PULL,
        contract.SPAN_CONTAINER_START,
        contract.SPAN_APP_INIT,
    ]
    pull, start, init = plan.phases
    assert (pull.start_ns, pull.end_ns) == (PULL_START, PULL_STOP)
    assert (start.start_ns, start.end_ns) == (PULL_STOP, STARTED)
    assert (init.start_ns, init.end_ns) == (STARTED, READY)
    assert (plan.root.name, plan.root.start_ns, plan.root.end_ns) == (
        contract.SPAN_STARTUP,
        PULL_START,
        READY,
    )
    assert plan.root.attributes[contract.METADATA_STATUS] == "ok"
    assert plan.root.attributes[contract.APP_INIT_START_SOURCE] == "container"
    assert plan.root.attributes[contract.CLOCK_ERROR_BOUND_MS] == 0.446931
    assert plan.root.attributes[contract.CLOCK_SYNC_STATUS] == "SYNCHRONIZED"
    assert plan.root.attributes[contract.CLOCK_REFERENCE_TIME] == "2023-07-21T16:09:17Z"
    assert contract.METADATA_PROBLEMS not in plan.root.attributes
    assert plan.error_description is None


def test_no_metadata_gives_app_init_from_process_start() -> None:
    plan = plan_startup(MetadataReading.absent(), process_started_ns=PROCESS, ready_ns=READY)
    assert [p.name for p in plan.phases] == [contract.SPAN_APP_INIT]
    assert (plan.root.start_ns, plan.root.end_ns) == (PROCESS, READY)
    assert plan.root.attributes[contract.METADATA_STATUS] == "absent"
    assert plan.root.attributes[contract.APP_INIT_START_SOURCE] == "process"
    assert plan.error_description is None


def test_failed_endpoint_is_an_error_on_the_root() -> None:
    plan = plan_startup(
        MetadataReading.failed("endpoint answered HTTP 500"), process_started_ns=PROCESS, ready_ns=READY
    )
    assert [p.name for p in plan.phases] == [contract.SPAN_APP_INIT]
    assert plan.root.attributes[contract.METADATA_STATUS] == "error"
    assert plan.root.attributes[contract.METADATA_PROBLEMS] == ["endpoint answered HTTP 500"]
    assert plan.error_description == "task metadata error: endpoint answered HTTP 500"


def test_pull_stopped_before_started_omits_the_spans_that_need_it() -> None:
    doc = load_sample("fargate-linux") | {"PullStoppedAt": "2023-07-21T15:45:30Z"}
    plan = plan_startup(reading_of(doc), process_started_ns=PROCESS, ready_ns=READY)
    assert [p.name for p in plan.phases] == [contract.SPAN_APP_INIT]
    assert plan.phase(contract.SPAN_APP_INIT).start_ns == STARTED  # type: ignore[union-attr]
    assert plan.root.start_ns == STARTED
    assert "is before 'PullStartedAt'" in (plan.error_description or "")


def test_no_pull_published_means_no_pull_span() -> None:
    doc = load_sample("ec2-linux")
    del doc["PullStartedAt"], doc["PullStoppedAt"]  # a cached image on EC2: omitempty
    reading = reading_of(doc)
    assert reading.task is not None and reading.task.container is not None
    started = reading.task.container.started_ns
    assert started is not None
    plan = plan_startup(reading, process_started_ns=started + 10, ready_ns=started + 500_000_000)
    assert [p.name for p in plan.phases] == [contract.SPAN_APP_INIT]
    assert plan.metadata_status == "ok"


def test_started_after_ready_falls_back_to_process_start() -> None:
    plan = plan_startup(reading_of(load_sample("fargate-linux")), process_started_ns=STARTED - 5, ready_ns=STARTED - 1)
    init = plan.phase(contract.SPAN_APP_INIT)
    assert init is not None and (init.start_ns, init.end_ns) == (STARTED - 5, STARTED - 1)
    assert plan.root.attributes[contract.APP_INIT_START_SOURCE] == "process"
    assert plan.metadata_status == "error"
    assert "clock skew" in (plan.error_description or "")


def test_several_problems_are_counted_in_the_description() -> None:
    reading = replace(MetadataReading.failed("a"), problems=("a", "b", "c"))
    plan = plan_startup(reading, process_started_ns=PROCESS, ready_ns=READY)
    assert plan.error_description == "task metadata error: a (and 2 more problems)"
