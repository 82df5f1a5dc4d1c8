"""Sections of docs/benchmarks.md written by the smaller benches, kept across full runs.

`python -m bench` rewrites the whole file; a bench of its own (processes on one SQLite
file, say) writes one section between `<!-- section:NAME:begin -->` and
`<!-- section:NAME:end -->`, which the full run carries over unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["carry_sections", "write_section"]

_SECTION = re.compile(
    r"<!-- section:(?P<name>[\w-]+):begin -->.*?<!-- section:(?P=name):end -->", re.S
)


def write_section(path: Path, name: str, content: str) -> None:
    """Put `content` in section `name` of `path`, replacing it or appending it."""
    block = f"<!-- section:{name}:begin -->\n{content.strip()}\n<!-- section:{name}:end -->"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(
        rf"<!-- section:{re.escape(name)}:begin -->.*?<!-- section:{re.escape(name)}:end -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _match: block, text)
    else:
        text = f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text)


def carry_sections(old: str, new: str) -> str:
    """`new` with every section of `old` that `new` lacks appended."""
    present = {match["name"] for match in _SECTION.finditer(new)}
    kept = [m.group(0) for m in _SECTION.finditer(old) if m["name"] not in present]
    return new if not kept else new.rstrip() + "\n\n" + "\n\n".join(kept) + "\n"
