"""`ffgate worker`: an RQ worker plus the scheduler (worker.scheduler) on the process's own event loop.

The split, measured: an RQ job costs ~57 Redis commands and RQ's scheduler ticks once a second with 10-minute
failover, so RQ cannot hold 2,000 polls in flight, and submits must go out within the org budget the moment
it allows. Submits (worker.dispatcher, from the fair queue), polls and webhook deliveries (worker.scheduler)
therefore run on the leased Redis schedule, concurrently on the event loop; two workers hold 2,000 jobs in
flight (bench/inflight.py). RQ runs the one-shot, retryable work worth seeing in `rq info`: cancels at
Firefly (worker.tasks), retried at growing intervals by RQ's own scheduler, which this worker runs.
"""

from __future__ import annotations

import logging
import os
import socket

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from ffgate.config import Settings
from ffgate.logs import configure_logging
from worker import runtime
from worker.context import LoopThread, WorkerContext, open_context
from worker.metrics_server import MetricsServer
from worker.scheduler import Scheduler

log = logging.getLogger(__name__)


async def _open(settings: Settings) -> WorkerContext:
    return open_context(settings)


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, "worker", settings.log_format)
    loop = LoopThread()
    ctx = loop.run(_open(settings))
    runtime.install(ctx, loop)
    scheduler = Scheduler(ctx)
    scheduler_task = loop.submit(scheduler.run())
    probes = MetricsServer(ctx, lambda: scheduler.last_turn)
    if settings.worker_metrics_port:
        loop.run(probes.start(settings.worker_metrics_host, settings.worker_metrics_port))
    # SimpleWorker runs jobs in this process: our jobs are short, awaited on the loop, and never sleep on
    # Firefly, so forking a work-horse per job (~20 ms CPU each) would buy nothing.
    worker = SimpleWorker(
        [ctx.queue],
        connection=ctx.sync_redis,
        serializer=JSONSerializer,
        name=f"ffgate-{socket.gethostname()}-{os.getpid()}",
        maintenance_interval=settings.maintenance_interval_s,
        # A killed worker's job is taken back once its heartbeat lapses: this interval + RQ's fixed 60 s.
        job_monitoring_interval=10,
    )
    log.info(
        "worker %s started (queue %s, poll concurrency %d)",
        worker.name,
        ctx.queue.name,
        settings.poll_concurrency,
    )
    try:
        # RQ logs every job at INFO; ours say what matters (with the request id), so keep RQ to warnings.
        worker.work(with_scheduler=True, logging_level="WARNING")
    finally:
        loop.run(probes.stop(), timeout=5)
        loop.run(scheduler.stop(), timeout=settings.drain_s + 5)
        scheduler_task.cancel()
        loop.run(ctx.aclose(), timeout=5)
        loop.stop()
        log.info("worker stopped")
