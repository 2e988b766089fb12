"""RQ job functions, enqueued by dotted path (`worker.tasks.submit_generation`) with JSON arguments.

They run on the worker's main thread and hand their async work to the process's event loop.
"""

from __future__ import annotations

from worker import runtime
from worker.submit import cancel, submit


def submit_generation(gen_id: str) -> None:
    """Send a queued generation to Firefly (or put it back with a delay if the budget says wait)."""
    ctx, loop = runtime.current()
    loop.run(submit(ctx, gen_id))


def cancel_generation(gen_id: str) -> None:
    """Ask Firefly to cancel a generation it holds."""
    ctx, loop = runtime.current()
    loop.run(cancel(ctx, gen_id))
