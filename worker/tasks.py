"""RQ job functions, enqueued by dotted path (`worker.tasks.cancel_generation`) with JSON arguments.

They run on the worker's main thread and hand their async work to the process's event loop.
"""

from __future__ import annotations

from worker import runtime
from worker.submit import cancel


def cancel_generation(gen_id: str) -> None:
    """Ask Firefly to cancel a generation it holds."""
    ctx, loop = runtime.current()
    loop.run(cancel(ctx, gen_id))
