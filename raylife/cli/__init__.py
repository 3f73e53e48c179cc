"""The ``raylife`` command line: a thin layer that parses, calls the library, and renders."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

import raylife

from raylife.cli.catalog import metrics, workloads
from raylife.cli.cluster_command import cluster
from raylife.cli.common import RaylifeGroup
from raylife.cli.data_commands import make_images
from raylife.cli.decide import choose, compare
from raylife.cli.results import query, report, runs, show
from raylife.cli.submit import submit
from raylife.cli.suite_commands import plan, validate

app = typer.Typer(
    name="raylife",
    cls=RaylifeGroup,  # turns a RaylifeError from any command into one `Error: …` line, exit 1
    help="Measure the whole lifecycle of deep-learning models on Ray (train, store, retrain, …) into DuckDB.",
    no_args_is_help=True,
    add_completion=True,  # Typer's own --install-completion / --show-completion
    pretty_exceptions_enable=False,  # unexpected errors keep a plain traceback; user errors are one line
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"raylife {raylife.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print raylife's version and exit.")
    ] = None,
) -> None:
    """Measure the whole lifecycle of deep-learning models on Ray (train, store, retrain, …) into DuckDB."""


app.command()(submit)
app.command()(validate)
app.command()(plan)
app.command()(runs)
app.command()(show)
app.command()(query)
app.command()(workloads)
app.command()(metrics)
app.command()(cluster)
app.command()(compare)
app.command()(choose)
app.command()(report)
app.command(name="make-images")(make_images)


def main() -> None:
    app(prog_name="raylife")


__all__ = ["app", "main"]
