"""Numbers read from text a caller controls (headers, query strings, cursors): ASCII digits only.

`str.isdigit` and `int()` accept far more than "0-9" (`"²".isdigit()` is true and `int("²")` raises; `int`
takes Arabic-Indic digits, underscores and surrounding spaces), so every such number is read here.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits: below 2**63, so a Redis or Lua integer too


def ascii_int(text: str | None) -> int | None:
    """The non-negative integer `text` spells in ASCII digits (nothing else, not even a sign), else None."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    return int(text)
