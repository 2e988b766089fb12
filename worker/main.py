"""`ffgate worker`: an RQ worker for submits and cancels, plus the poller on the process's event loop."""

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
from worker.scheduler import Poller

log = logging.getLogger(__name__)


async def _open(settings: Settings) -> WorkerContext:
    return open_context(settings)


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, "worker", settings.log_format)
    loop = LoopThread()
    ctx = loop.run(_open(settings))
    runtime.install(ctx, loop)
    poller = Poller(ctx)
    poller_task = loop.submit(poller.run())
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
        worker.work(with_scheduler=False, logging_level="WARNING")
    finally:
        loop.run(poller.stop(), timeout=15)
        poller_task.cancel()
        loop.run(ctx.aclose(), timeout=5)
        loop.stop()
        log.info("worker stopped")
