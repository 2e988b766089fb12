"""Both /metrics after a short run: every family the dashboard uses, with values that match what happened."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from emulator.seed import ROUTER_MODEL_ID
from tests.stack import free_port, running_stack, wait_terminal

pytestmark = pytest.mark.e2e
JOBS = 4

# Every family the dashboard (deploy/grafana/ffgate.json) uses, on both /metrics.
FAMILIES = [
    "ffgate_http_request_duration_seconds",
    "ffgate_generations_created_total",
    "ffgate_generations_finished_total",
    "ffgate_generation_stage_seconds",
    "ffgate_queue_depth",
    "ffgate_queue_oldest_wait_seconds",
    "ffgate_upstream_inflight_jobs",
    "ffgate_org_budget_remaining",
    "ffgate_org_budget_used",
    "ffgate_upstream_requests_total",
    "ffgate_upstream_retry_after_pauses_total",
    "ffgate_breaker_state",
    "ffgate_ims_token_fetches_total",
    "ffgate_status_calls_per_job",
    "ffgate_webhook_attempts_total",
    "ffgate_webhook_delivery_lag_seconds",
]


def scrape(url: str) -> dict[str, list[Sample]]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {}
    for family in text_string_to_metric_families(response.text):
        families[family.name] = family.samples
        if family.type == "counter":  # the parser names a counter without its `_total`
            families[f"{family.name}_total"] = family.samples
    return families


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_gateway_and_worker_metrics_after_a_short_run(workdir: Path) -> None:
    port = free_port()
    budget = {"FFGATE_UPSTREAM_RPM": "600", "FFGATE_UPSTREAM_RPD": "10000"}
    with running_stack(workdir, workers=0, **budget) as stack:
        stack.start_worker("worker-1", FFGATE_WORKER_METRICS_PORT=str(port))
        worker = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{worker}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{worker}/readyz").json() == {"status": "ok"}
        client_id, key = stack.create_client()
        body = {"prompt": "a router on a hill", "customModelId": ROUTER_MODEL_ID}
        with stack.client(key=key) as client:
            ids = [client.post("/v1/generations", json=body).json()["id"] for _ in range(JOBS)]
            assert all(wait_terminal(client, i)["status"] == "succeeded" for i in ids)
            client.get(f"/v1/generations/{ids[0]}")
        emulator = stack.emu_stats()
        gateway, work = scrape(stack.gateways["gateway"]), scrape(worker)

    for name in FAMILIES:
        assert name in gateway, name
        assert name in work, name
    assert not work["ffgate_http_request_duration_seconds"]  # the worker answers no API requests
    assert not gateway["ffgate_generations_finished_total"]  # nor does the gateway finish any here

    # The gateway's requests, by route template (never a raw id).
    duration = gateway["ffgate_http_request_duration_seconds"]
    created = value(duration, "ffgate_http_request_duration_seconds_count", route="/v1/generations")
    assert created >= JOBS
    got = value(duration, "ffgate_http_request_duration_seconds_count", route="/v1/generations/{genId}")
    assert got >= 1
    assert not any(i in str(s.labels) for s in duration for i in ids)
    assert value(gateway["ffgate_generations_created_total"], "ffgate_generations_created_total") == JOBS

    finished = work["ffgate_generations_finished_total"]
    assert value(finished, "ffgate_generations_finished_total", status="succeeded", error_code="") == JOBS
    stages = work["ffgate_generation_stage_seconds"]
    for stage in ("queued", "upstream", "total"):
        assert value(stages, "ffgate_generation_stage_seconds_count", stage=stage) == JOBS, stage
    total = value(stages, "ffgate_generation_stage_seconds_sum", stage="total")
    parts = value(stages, "ffgate_generation_stage_seconds_sum", stage="queued") + value(
        stages, "ffgate_generation_stage_seconds_sum", stage="upstream"
    )
    assert 0 < parts <= total + 0.5

    # Status calls: as many as the emulator answered, all counted for the jobs that finished.
    calls = work["ffgate_status_calls_per_job"]
    assert value(calls, "ffgate_status_calls_per_job_count") == JOBS
    assert value(calls, "ffgate_status_calls_per_job_sum") == emulator["requests"]["status"]
    upstream = work["ffgate_upstream_requests_total"]
    assert (
        value(upstream, "ffgate_upstream_requests_total", endpoint="generate", status="202")
        + value(upstream, "ffgate_upstream_requests_total", endpoint="generate", status="200")
        == emulator["requests"]["generate"]
    )
    assert value(upstream, "ffgate_upstream_requests_total", endpoint="generate") == JOBS

    # State read from Redis: the same from both; the queue is empty again, the budget spent on each submit.
    for samples in (gateway, work):
        assert value(samples["ffgate_queue_depth"], "ffgate_queue_depth", client=client_id) == 0
        assert [s.labels["client"] for s in samples["ffgate_queue_depth"]] == [client_id]
        assert value(samples["ffgate_upstream_inflight_jobs"], "ffgate_upstream_inflight_jobs") == 0
        used = samples["ffgate_org_budget_used"]
        assert value(used, "ffgate_org_budget_used", window="minute") == emulator["requests"]["generate"]
        assert value(used, "ffgate_org_budget_used", window="day") == emulator["requests"]["generate"]
        assert value(samples["ffgate_breaker_state"], "ffgate_breaker_state") == 0
        remaining = samples["ffgate_org_budget_remaining"]
        assert value(remaining, "ffgate_org_budget_remaining", window="minute") == 600 - JOBS
        assert value(remaining, "ffgate_org_budget_remaining", window="day") == 10000 - JOBS

    # One token for the deployment: fetched by one process, read from Redis by the other.
    fetches = value(gateway["ffgate_ims_token_fetches_total"], "ffgate_ims_token_fetches_total") + value(
        work["ffgate_ims_token_fetches_total"], "ffgate_ims_token_fetches_total"
    )
    assert fetches == emulator["tokenRequests"] == 1
