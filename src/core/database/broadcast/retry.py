"""Reconnect delays for the listening connections: exponential, capped, with jitter."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """`first`, then doubling up to `cap` seconds; jitter keeps workers out of step."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        if not 0 < first <= cap:
            raise ValueError("Backoff needs 0 < first <= cap")
        self.first, self.cap = first, cap
        self._next = first

    def next_delay(self) -> float:
        """The delay before the next attempt; each failure doubles the following one."""
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        """A connection succeeded: the next failure starts from `first` again."""
        self._next = self.first
