"""The worker process's one context and event loop, set by `worker.main.run` before RQ starts."""

from __future__ import annotations

from worker.context import LoopThread, WorkerContext

_current: tuple[WorkerContext, LoopThread] | None = None


def install(ctx: WorkerContext, loop: LoopThread) -> None:
    global _current
    _current = (ctx, loop)


def current() -> tuple[WorkerContext, LoopThread]:
    if _current is None:
        raise RuntimeError("worker tasks run only inside `ffgate worker`")
    return _current
