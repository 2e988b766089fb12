"""The limits of a generation's `metadata`, the only free-form JSON a client stores: checked when a request
arrives (a 422 naming the limit) and again when a stored record is rendered, so a record written before a
limit existed is shown without its metadata rather than breaking its client's reads."""

from __future__ import annotations

import json
from typing import Any

METADATA_MAX_BYTES = 4096
METADATA_MAX_DEPTH = 16  # objects and arrays inside one another; the top-level object counts as 1


def depth(value: Any) -> int:
    """How deeply objects and arrays nest in a JSON value (a scalar: 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def metadata_problem(metadata: dict[str, Any]) -> str | None:
    """Why `metadata` cannot be kept (too deep or too large), or None when it can."""
    nested = depth(metadata)
    if nested > METADATA_MAX_DEPTH:
        return f"metadata is nested {nested} levels deep; at most {METADATA_MAX_DEPTH}"
    try:
        size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:  # not JSON at all (only a corrupt record can be)
        return f"metadata is not JSON: {exc}"
    if size > METADATA_MAX_BYTES:
        return f"metadata is {size} bytes; at most {METADATA_MAX_BYTES}"
    return None
