"""The funnel: how many documents each stage took in and let through, and why the rest were rejected."""
from __future__ import annotations

from rich.table import Table


def funnel_table(stats: dict) -> Table:
    table = Table(title=f"funnel: {stats['input']:,} in -> {stats['kept']:,} kept", title_justify="left")
    table.add_column("stage")
    table.add_column("in", justify="right")
    table.add_column("out", justify="right")
    table.add_column("kept %", justify="right")
    table.add_column("cpu s", justify="right")
    for stage in stats["stages"]:
        share = f"{100 * stage['out'] / stage['in']:.1f}" if stage["in"] else "-"
        cpu = "-" if stage["cpu_seconds"] is None else f"{stage['cpu_seconds']:.1f}"
        table.add_row(stage["name"], f"{stage['in']:,}", f"{stage['out']:,}", share, cpu)
    return table


def reasons_table(stats: dict, top: int = 15) -> Table:
    table = Table(title="reject reasons", title_justify="left")
    table.add_column("reason")
    table.add_column("documents", justify="right")
    reasons = list(stats["rejected"].items())
    for reason, count in reasons[:top]:
        table.add_row(reason, f"{count:,}")
    if len(reasons) > top:
        table.add_row(f"… {len(reasons) - top} more", f"{sum(n for _, n in reasons[top:]):,}")
    return table
