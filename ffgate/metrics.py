"""Every Prometheus metric ffgate exports, defined once (names: `ffgate_*`, `_total`, `_seconds`).

Two kinds:

- *Events*, counted where they happen (requests, generations created and finished, upstream calls, token
  fetches, webhook attempts): per process. With several processes behind one scrape target
  (`ffgate serve --workers N`) they go through prometheus-client's multiprocess mode: each process writes
  its values to files in `PROMETHEUS_MULTIPROC_DIR` and a scrape of any of them adds them up
  (`render`). `ffgate serve --workers N` makes that directory itself; a single process needs none.
- *State*, read from Redis when scraped (`cluster_state`): queue depth and oldest wait per client, jobs
  at Firefly, the org budget, the breaker. The same value from every process (dashboards take `max`), so
  they never need adding up, and they are right even after a process restarts.

Labels are bounded: routes are templates, statuses and endpoints fixed lists, error codes the known ones
(anything else is `other`), clients the `MAX_CLIENTS` longest queues (the rest summed as `_other`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis.exceptions import NoScriptError

from ffgate.budget.breaker import BreakerState, state_name
from ffgate.budget.org_budget import BudgetState
from ffgate.redis.scripts import Script

if TYPE_CHECKING:  # the fair queue's records report to these metrics: no import at run time
    from ffgate.budget.fair_queue import FairQueue

__all__ = ["CONTENT_TYPE_LATEST"]

MAX_CLIENTS = 50
RECENT_CLIENT_S = 3600.0
# Error codes a finished generation may carry that are worth a label of their own.
KNOWN_ERROR_CODES = frozenset(
    {
        "timeout",
        "queue_timeout",
        "upstream_unavailable",
        "upstream_auth",
        "upstream_outcome_unknown",
        "upstream_rejected",
        "unknown_job_id",
        "content_policy_violation",
        "invalid_request",
        "validation_error",
        "failed",
    }
)
UPSTREAM_ENDPOINTS = frozenset({"generate", "status", "cancel", "models", "ims_token"})

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

HTTP_REQUEST_DURATION = Histogram(
    "ffgate_http_request_duration_seconds",
    "Gateway requests answered, by route template, method and status, and how long they took.",
    ["route", "method", "status"],
    buckets=_SECONDS,
)
GENERATIONS_CREATED = Counter("ffgate_generations_created_total", "Generations accepted (202).")
GENERATIONS_FINISHED = Counter(
    "ffgate_generations_finished_total",
    "Generations that reached a final status, by status and error code ('' when it succeeded).",
    ["status", "error_code"],
)
GENERATION_STAGE = Histogram(
    "ffgate_generation_stage_seconds",
    "Time of a generation in each stage: queued (created to sent), upstream (sent to finished), total.",
    ["stage"],
    buckets=_STAGE_SECONDS,
)
UPSTREAM_REQUESTS = Counter(
    "ffgate_upstream_requests_total",
    "Calls to Firefly and IMS by endpoint and HTTP status ('error': no answer).",
    ["endpoint", "status"],
)
RETRY_AFTER_PAUSES = Counter(
    "ffgate_upstream_retry_after_pauses_total",
    "429s from Firefly that paused a budget for every process (retry-after).",
)
IMS_TOKEN_FETCHES = Counter(
    "ffgate_ims_token_fetches_total",
    "IMS token fetches by outcome (ok, refused, unavailable).",
    ["outcome"],
)
STATUS_CALLS_PER_JOB = Histogram(
    "ffgate_status_calls_per_job",
    "Status calls made for one job until Firefly reported it finished.",
    buckets=(1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50),
)
WEBHOOK_ATTEMPTS = Counter(
    "ffgate_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, failed, refused, gave_up).",
    ["outcome"],
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "ffgate_webhook_delivery_lag_seconds",
    "From the event to its webhook delivered.",
    buckets=_STAGE_SECONDS,
)


def error_code_label(code: str | None) -> str:
    if not code:
        return ""
    return code if code in KNOWN_ERROR_CODES else "other"


def upstream_call(endpoint: str, status: int | None) -> None:
    UPSTREAM_REQUESTS.labels(endpoint, str(status) if status is not None else "error").inc()


def generation_sent(created_at: float | None, sent_at: float) -> None:
    if created_at is not None:
        GENERATION_STAGE.labels("queued").observe(max(0.0, sent_at - created_at))


def generation_finished(
    status: str,
    code: str | None,
    *,
    created_at: float | None,
    submitted_at: float | None,
    now: float | None = None,
) -> None:
    now = time.time() if now is None else now
    GENERATIONS_FINISHED.labels(status, error_code_label(code)).inc()
    if created_at is not None:
        GENERATION_STAGE.labels("total").observe(max(0.0, now - created_at))
    if submitted_at is not None:
        GENERATION_STAGE.labels("upstream").observe(max(0.0, now - submitted_at))


# --- state read from Redis when scraped ------------------------------------------------------------------


async def cluster_state(queue: FairQueue | None) -> list[Metric]:
    """The gauges of the shared state, read now (three Redis round trips: the lanes, budget and breaker;
    the queue fronts and the jobs at Firefly; loading that script)."""
    if queue is None:
        return []
    redis, keys = queue.redis, queue.keys
    pipe = redis.pipeline(transaction=False)
    await queue.lanes(pipe)
    budget_read = queue.budget.read_into(pipe)
    breaker_read = queue.breaker.read_into(pipe)
    pipe.hgetall(keys.queue_rates)
    try:
        flat, *rest, rates = await pipe.execute()
    except NoScriptError:  # Redis restarted or failed over: its script cache is empty
        queue.forget_loaded_scripts()
        return await cluster_state(queue)
    now = time.time()
    waiting = {flat[i].decode(): int(flat[i + 2]) for i in range(0, len(flat), 3)}
    # Clients that queued something in the last hour show 0 once their queue is empty, not nothing.
    recent = {c.decode(): 0 for c, raw in rates.items() if now - float(raw.split()[1]) < RECENT_CLIENT_S}
    lanes = sorted((recent | waiting).items(), key=lambda x: (-x[1], x[0]))
    shown, hidden = lanes[:MAX_CLIENTS], lanes[MAX_CLIENTS:]
    pipe = redis.pipeline(transaction=False)
    for client, _ in shown:
        pipe.zrange(keys.queue(client), 0, 0, withscores=True)
    await Script(redis, "count_at_firefly")(keys={"schedule": keys.schedule}, args={}, client=pipe)
    *fronts, inflight = await pipe.execute()
    budget = budget_read(rest[: budget_read.size])
    breaker = breaker_read(rest[budget_read.size :])

    depth = GaugeMetricFamily(
        "ffgate_queue_depth", "Generations waiting to be sent, by client.", labels=["client"]
    )
    oldest = GaugeMetricFamily(
        "ffgate_queue_oldest_wait_seconds", "How long the oldest waiting one has waited.", labels=["client"]
    )
    for (client, count), front in zip(shown, fronts, strict=True):
        depth.add_metric([client], count)
        oldest.add_metric([client], max(0.0, now - float(front[0][1])) if front else 0.0)
    if hidden:
        depth.add_metric(["_other"], sum(count for _, count in hidden))
    at_firefly = GaugeMetricFamily(
        "ffgate_upstream_inflight_jobs", "Jobs Firefly has accepted and not finished (being polled)."
    )
    at_firefly.add_metric([], int(inflight))
    return [depth, oldest, at_firefly, *_budget_families(queue, budget), _breaker_family(queue, breaker)]


def _budget_families(queue: FairQueue, budget: BudgetState) -> Iterable[Metric]:
    cred = queue.budget.client_id
    remaining = GaugeMetricFamily(
        "ffgate_org_budget_remaining",
        "Submits the Adobe org's budget allows now, by credential and window (minute, day).",
        labels=["credential", "window"],
    )
    used = GaugeMetricFamily(
        "ffgate_org_budget_used",
        "Submits counted in the Adobe org's budget, by credential and window (minute, day).",
        labels=["credential", "window"],
    )
    in_minute = len(budget.window)
    used.add_metric([cred, "minute"], in_minute)
    used.add_metric([cred, "day"], budget.used_today)
    if budget.rpm:
        remaining.add_metric([cred, "minute"], max(0, budget.rpm - in_minute))
    if budget.rpd:
        remaining.add_metric([cred, "day"], max(0, budget.rpd - budget.used_today))
    return [remaining, used]


def _breaker_family(queue: FairQueue, breaker: BreakerState | None) -> Metric:
    family = GaugeMetricFamily(
        "ffgate_breaker_state",
        "Submit circuit breaker: 0 closed, 1 open, 2 half-open.",
        labels=["credential"],
    )
    value = {"closed": 0, "open": 1, "half-open": 2}[state_name(breaker, time.time())]
    family.add_metric([queue.budget.client_id], value)
    return family


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """PROMETHEUS_MULTIPROC_DIR for the processes started inside: the one given (an existing directory,
    for this one `ffgate serve` alone), emptied of an earlier run's files, or a fresh one removed
    afterwards."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="ffgate-metrics-") as made:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        try:
            yield Path(made)
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def render(cluster: list[Metric]) -> bytes:
    """The text exposition: this process's metrics (or every process's, in multiprocess mode) and
    `cluster` (from `cluster_state`)."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        own = generate_latest(registry)
    else:
        own = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(_Fixed(cluster))
    return own + generate_latest(state)
