"""Interleaved measurement: variants run A B C, C B A, ... for several rounds; medians win.

The machine is shared and noisy, so a variant is compared with its baseline
within the same round (a paired ratio) and the median of those ratios is the
result; absolute times are context.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Measured", "Op", "Variant", "interleave", "ratio_of"]

Op = Callable[[], Awaitable[Any]]


@dataclass
class Variant:
    """One way of doing the operation; `reset` runs untimed before each batch."""

    name: str
    op: Op
    baseline: bool = False
    reset: Op | None = None
    note: str = ""
    batch: int = 0  # operations per round, if not the case's default


@dataclass
class Measured:
    """Per-operation seconds of one variant, one value per round."""

    name: str
    per_op: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    baseline: bool = False
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.per_op)

    @property
    def ratio(self) -> float:
        """Median over rounds of (this variant / the baseline in the same round)."""
        return statistics.median(self.ratios) if self.ratios else float("nan")


def ratio_of(values: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Paired ratios, round by round."""
    return [value / base for value, base in zip(values, baseline, strict=True)]


async def interleave(
    variants: Sequence[Variant], *, rounds: int, batch: int, warmup: int = 1
) -> list[Measured]:
    """Time `batch` operations per variant per round, alternating the order each round."""
    for variant in variants:
        for _ in range(warmup):
            if variant.reset is not None:
                await variant.reset()
            await variant.op()
    results = {v.name: Measured(v.name, baseline=v.baseline, note=v.note) for v in variants}
    for round_no in range(rounds):
        order = list(variants) if round_no % 2 == 0 else list(reversed(variants))
        for variant in order:
            results[variant.name].per_op.append(await _timed(variant, variant.batch or batch))
    base = next((results[v.name] for v in variants if v.baseline), None)
    if base is not None:
        for measured in results.values():
            measured.ratios = ratio_of(measured.per_op, base.per_op)
    return [results[v.name] for v in variants]


async def _timed(variant: Variant, batch: int) -> float:
    """Seconds per operation: the batch timed as a whole, or op by op around a reset."""
    if variant.reset is None:
        gc.collect()
        started = time.perf_counter()
        for _ in range(batch):
            await variant.op()
        return (time.perf_counter() - started) / batch
    total = 0.0
    for _ in range(batch):
        await variant.reset()
        gc.collect()
        started = time.perf_counter()
        await variant.op()
        total += time.perf_counter() - started
    return total / batch
