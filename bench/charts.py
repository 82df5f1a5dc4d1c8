"""One chart per case (PNG beside docs/benchmarks.md): each variant's median ratio to
its baseline, per backend, with the min-max of the per-round ratios as a whisker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.case_http import HttpMeasured
from bench.harness import Measured

__all__ = ["draw_case"]


def draw_case(
    path: Path,
    title: str,
    by_backend: Mapping[str, Sequence[Measured | HttpMeasured]],
    labels: dict[str, str],
    xlabel: str = "time x baseline (lower is better)",
) -> None:
    """Write `path`: a panel per backend, a bar per variant or server."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    keys = list(by_backend)
    figure, axes = plt.subplots(
        1,
        len(keys),
        figsize=(5.2 * len(keys), 0.5 * max(len(v) for v in by_backend.values()) + 1.6),
        squeeze=False,
    )
    for axis, key in zip(axes[0], keys, strict=True):
        rows = by_backend[key]
        names = [m.name.split(" (")[0].replace("`", "") for m in rows]
        ratios = [1.0 if m.baseline else m.ratio for m in rows]
        low = [
            0.0 if m.baseline or not m.ratios else r - min(m.ratios)
            for m, r in zip(rows, ratios, strict=True)
        ]
        high = [
            0.0 if m.baseline or not m.ratios else max(m.ratios) - r
            for m, r in zip(rows, ratios, strict=True)
        ]
        colours = ["#2b6cb0" if n.startswith("toolkit") else "#a0aec0" for n in names]
        positions = range(len(rows))
        axis.barh(list(positions), ratios, xerr=[low, high], color=colours, capsize=3)
        axis.set_yticks(list(positions), names, fontsize=8)
        axis.invert_yaxis()
        axis.axvline(1.0, color="black", linewidth=0.8)
        axis.set_title(labels[key], fontsize=10)
        axis.set_xlabel(xlabel, fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
