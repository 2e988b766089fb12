"""A read queued on a shared pipeline: how many answers it takes, and how to make sense of them.

Lets one round trip carry the reads of several pieces (the queues, the budget, the breaker) while each
piece keeps its own keys and parsing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Reading(Generic[T]):
    size: int  # the commands it queued, so the answers it takes
    parse: Callable[[list[Any]], T]

    def __call__(self, answers: list[Any]) -> T:
        if len(answers) != self.size:
            raise ValueError(f"this read takes {self.size} answers, not {len(answers)}")
        return self.parse(answers)
