"""What every command shares: consoles, the user-error boundary, common options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from raylife.errors import RaylifeError
from raylife.store import DEFAULT_DB


def _console(stderr: bool = False) -> Console:
    made = Console(stderr=stderr)
    if not made.is_terminal:
        # Logs and pipes have no width to fit: an 80-column default would wrap every summary table, and tables
        # only take their natural width anyway. COLUMNS can widen it further.
        columns = os.environ.get("COLUMNS", "")
        made.width = max(200, int(columns) if columns.isdigit() else 0)
    return made


console = _console()
err_console = _console(stderr=True)


def one_line(text: str) -> str:
    """Control characters a user's input carried into a message (a key named "a\rb") shown escaped: one line, always."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class RaylifeGroup(TyperGroup):
    """The one place a RaylifeError becomes one plain ``Error: …`` line on stderr and exit code 1.

    Plain text (not Rich) so the line is never wrapped or styled; anything else keeps its traceback.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RaylifeError as exc:
            typer.echo(f"Error: {one_line(str(exc))}", err=True)
            raise typer.Exit(1) from None


DbOption = Annotated[
    Path,
    typer.Option("--db", envvar="RAYLIFE_DB", help="DuckDB results file.", show_default=True),
]
SuiteArgument = Annotated[Path, typer.Argument(help="Suite TOML file, e.g. suites/smoke.toml.", show_default=False)]
DEFAULT_DB_PATH = Path(DEFAULT_DB)
