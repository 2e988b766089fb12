"""`ascii_int` (ffgate/numbers.py): the one reader of numbers in headers, query strings and cursors."""

from __future__ import annotations

import pytest

from ffgate.numbers import ascii_int


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), ("0042", 42), ("9" * 18, 10**18 - 1)])
def test_ascii_digits_are_read(text: str, value: int) -> None:
    assert ascii_int(text) == value


@pytest.mark.parametrize(
    "text", [None, "", "²", "٣", "1_0", " 1", "1 ", "-1", "+1", "1.0", "1e3", "0x10", "9" * 19]
)
def test_anything_else_is_not_a_number(text: str | None) -> None:
    assert ascii_int(text) is None
