"""What a bench prints and, with ``--write-docs``, writes into docs/PERFORMANCE.md.

Each bench owns one section of that file, ``## <title> (`bench/<name>.py`)``, and rewrites only its body
(or, like the ERP sync, only the table inside it), so hand-written sections and notes around it stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

PERFORMANCE = Path(__file__).resolve().parents[2] / "docs" / "PERFORMANCE.md"
TABLE = re.compile(r"(?m)^\|.*\|\n(?:^\|.*\|\n?)*")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter a column, ``l`` (left) or ``r`` (right). No final newline."""
    rule = ["---:" if a == "r" else "---" for a in align]
    return "\n".join(_row(cells) for cells in [header, rule, *rows])


def write_section(heading: str, body: str, *, before: str | None = None) -> None:
    """Replace the body of the section headed ``heading`` with ``body``.

    A missing section is an error, unless ``before`` names the heading it should then be added in front of.
    """
    update_section(heading, lambda _old: body, before=before)


def write_table(heading: str, new_table: str) -> None:
    """Replace the first table of the section headed ``heading`` (or append one); its other text stays."""

    def swap(old: str) -> str:
        found = TABLE.search(old)
        if found is None:
            return old + "\n" + new_table + "\n"
        return old[: found.start()] + new_table + "\n" + old[found.end() :]

    update_section(heading, swap)


def update_section(heading: str, change: Callable[[str], str], *, before: str | None = None) -> None:
    """Rewrite the body of a section of docs/PERFORMANCE.md: everything between its heading's blank line
    and the next ``## `` heading (or the end) becomes ``change(old body)``."""
    content = PERFORMANCE.read_text()
    pattern = re.compile("(" + re.escape(heading) + r"\n\n)(.*?)(\n## |\Z)", re.S)
    if pattern.search(content):
        content = pattern.sub(lambda m: m.group(1) + change(m.group(2)) + m.group(3), content, count=1)
    elif before is not None and "\n" + before in content:
        content = content.replace("\n" + before, "\n" + heading + "\n\n" + change("") + "\n" + before, 1)
    else:
        raise SystemExit(f"docs/PERFORMANCE.md has no '{heading}' section")
    PERFORMANCE.write_text(content)


def _row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"
