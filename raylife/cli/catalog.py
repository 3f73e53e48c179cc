"""workloads, metrics: what raylife can measure out of the box, and every metric it stores."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from raylife.cli.common import console
from raylife.cli.results import OutputFormat, emit
from raylife.frameworks import FRAMEWORKS
from raylife.workloads import RANDOM, WORKLOADS


def workloads(
    name: Annotated[Optional[str], typer.Argument(help="One workload to describe in full (default: all).")] = None,
) -> None:
    """List the workloads: tasks, models and their frameworks, data sets and on-disk formats."""
    names = [name] if name else WORKLOADS.names()
    for workload in (WORKLOADS.get(n) for n in names):
        table = Table(title=f"{workload.name}: {workload.task}", title_justify="left", box=box.SIMPLE_HEAD,
                      caption=workload.description, caption_justify="left")
        table.add_column("kind")
        table.add_column("name")
        table.add_column("frameworks / use")
        table.add_column("description")
        for model in workload.models.values():
            defaults = ", ".join(f"{k}={v}" for k, v in model.options.items())
            table.add_row("model", model.name, ", ".join(model.frameworks), model.description + (f" ({defaults})" if defaults else ""))
        for source in workload.sources.values():
            use = f'format = "{source.name}", path = ...' if source.needs_path else f'dataset = "{source.name}"'
            default = " (default)" if source.name == workload.default_dataset else ""
            table.add_row("format" if source.needs_path else "dataset", source.name + default, use, source.description)
        if workload.random_facts is not None:
            table.add_row("dataset", RANDOM, f'dataset = "{RANDOM}"',
                          "random inputs of the workload's shape, for speed runs: no accuracy is measured "
                          "(options: shape, classes, samples)")
        console.print(table)
    console.print(
        "frameworks: " + ", ".join(f"{f} ({FRAMEWORKS.get(f).display_name}; formats: {', '.join(FRAMEWORKS.get(f).formats)})"
                                   for f in FRAMEWORKS.names())
    )


def metrics(
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """List every metric raylife stores: name, unit, the stages that record it, and what it means."""
    from raylife.measure.metrics import CATALOGUE

    # "quality": how right a model is, never stored for random inputs
    rows = [(m.name, m.unit, ", ".join(m.stages), m.meaning + (" [quality]" if m.quality else "")) for m in CATALOGUE]
    emit(["metric", "unit", "stages", "meaning"], rows, output)
