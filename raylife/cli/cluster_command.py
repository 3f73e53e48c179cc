"""cluster: what a Ray cluster offers trials — nodes, resources, labels — before submitting to it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from raylife.cli.common import console
from raylife.cli.results import OutputFormat, emit
from raylife.report.tables import node_rows

def cluster(
    address: Annotated[
        Optional[str],
        typer.Option(envvar="RAY_ADDRESS", help="Ray cluster (host:port, ray://host:port or auto). Default: the embedded "
                     "local Ray that `raylife submit` would start."),
    ] = None,
    num_cpus: Annotated[Optional[int], typer.Option(min=1, help="Logical CPUs of the embedded Ray.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Show the cluster's nodes with their resources and labels, and its Ray version (what [platforms] can select)."""
    import ray

    from raylife.runner.cluster import check_reachable, connect, disconnect

    if address and address != "local":
        check_reachable(address)
    info = connect(address if address != "local" else None, num_cpus=num_cpus).info
    try:
        version = ray.__version__
    finally:
        disconnect()
    nodes = info.nodes or ()
    emit(*node_rows(nodes), output)
    if output is OutputFormat.table:
        where = address or "embedded local Ray"
        console.print(f"{where}: {len(nodes)} node{'s' if len(nodes) != 1 else ''}, {info.cpus:g} CPUs, "
                      f"{info.gpus:g} GPUs · Ray {version}")
