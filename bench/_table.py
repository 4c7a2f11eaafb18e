"""A plain-text table of measurements with a ratio column against a peer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    """Rows of cells under a title; ``render`` aligns them for a terminal."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""

    def add(self, *cells: str) -> None:
        """Append a row; it must have one cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: row {cells} does not match columns {self.columns}")
        self.rows.append(cells)

    def render(self) -> str:
        """The table as aligned text, title first, note last."""
        cells = [self.columns, *self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [self.title, "=" * len(self.title)]
        for index, row in enumerate(cells):
            lines.append(
                "  ".join(
                    cell.rjust(w) if index and _numeric(cell) else cell.ljust(w)
                    for cell, w in zip(row, widths, strict=True)
                ).rstrip()
            )
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return cell.replace(".", "", 1).replace("x", "", 1).replace("%", "", 1).strip().isdigit()


def ratio(ours: float, peer: float) -> str:
    """``ours / peer`` as ``0.42x`` (below 1 means we are cheaper)."""
    return f"{ours / peer:.2f}x" if peer > 0 else "n/a"
