"""submit: run a suite on Ray and store every measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from raylife.cli.common import DEFAULT_DB_PATH, DbOption, SuiteArgument, console, err_console
from raylife.cli.suite_commands import load_and_plan
from raylife.errors import RaylifeError, StoreError
from raylife.report import format as fmt
from raylife.report.progress import RichProgress
from raylife.report.tables import deployment_table, summary_table, token_table
from raylife.store import Store


def submit(
    suite: SuiteArgument,
    run: Annotated[
        Optional[str],
        typer.Argument(help="With --resume: the run to continue (id, unique prefix or 'last'). Default: the suite's newest run.",
                       show_default=False),
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
    address: Annotated[
        Optional[str],
        typer.Option(envvar="RAY_ADDRESS", help="Existing Ray cluster (host:port or ray://host:port). Default: embedded local Ray."),
    ] = None,
    num_cpus: Annotated[
        Optional[int], typer.Option(min=1, help="Logical CPUs of the embedded Ray (default: this machine's cores).")
    ] = None,
    storage_path: Annotated[
        Optional[str], typer.Option(help="Where checkpoints and saved models go (overrides the suite's run.storage_path).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Ray's and the workers' logs.")] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue an interrupted run of this suite: keep its finished trials, run the rest."),
    ] = False,
) -> None:
    """Run a suite's trials on Ray and store the results in DuckDB (--resume [RUN] continues a stopped run)."""
    from raylife.runner import run_suite
    from raylife.runner.preflight import preflight

    if run is not None and not resume:
        raise StoreError(f"unexpected argument '{run}'", hint="a run id is taken only with --resume: raylife submit SUITE --resume RUN")
    spec, text, trials = load_and_plan(str(suite))
    # Everything knowable is checked before any output or Ray start-up.
    checked = preflight(spec, trials, db_path=db, address=address, num_cpus=num_cpus, storage_path=storage_path,
                        resume=(run or "last") if resume else None, source=str(suite))
    where = f"Ray at {checked.address}" if checked.address else "an embedded local Ray"
    if checked.resume:
        left = len(checked.remaining(trials))
        console.print(f"raylife: resuming run [bold]{checked.resume.run_id}[/] of suite [bold]{spec.name}[/]: "
                      f"{len(trials) - left} of {len(trials)} trials stored, {left} to run, on {where} → {db}")
    else:
        console.print(f"raylife: suite [bold]{spec.name}[/] ({len(trials)} trials) on {where} → {db}")
    with RichProgress(console) as progress:
        try:
            outcome = run_suite(
                spec, trials, suite_path=str(suite), suite_text=text, db_path=db, address=checked.address,
                num_cpus=num_cpus, storage_path=storage_path, verbose=verbose, observer=progress, checked=checked,
            )
        except KeyboardInterrupt:
            err_console.print(
                f"Interrupted: finished trials are stored and the run is marked 'interrupted'; "
                f"continue it with: raylife submit {suite} --resume"
            )
            raise typer.Exit(130) from None
    print_outcome(db, outcome.run_id, f"run {outcome.run_id} · {spec.name} · {fmt.seconds(outcome.wall_s)}")
    console.print(
        f"Stored in {db}. Explore: raylife show {outcome.run_id} · raylife query \"select * from lifecycle\""
    )
    if outcome.failed:
        err_console.print(f"[red]{len(outcome.failed)} of {len(outcome.records)} trials failed[/]")
        for record in outcome.failed:  # what the user can fix (a bad file, a bad option): one Error: line each
            fixable = user_error(record.error)
            if fixable:
                typer.echo(f"Error: trial {record.trial.run_key}: {fixable}", err=True)
        raise typer.Exit(1)


def print_outcome(db: Path, run_id: str, title: str) -> None:
    """The run's summary: a row per trial, the deployments, a decoder's streams."""
    with Store(db, read_only=True) as store:
        rows = store.lifecycle(run_id)
        streams = store.token_summary(run_id)
    console.print(summary_table(rows, title=title))
    deployed = deployment_table(rows, title="deployment on Ray Serve")
    if deployed is not None:
        console.print(deployed)
    for trial in dict.fromkeys(r["trial"] for r in streams):
        console.print(token_table([r for r in streams if r["trial"] == trial], title=f"token by token · {trial}"))


def user_error(error: str | None) -> str | None:
    """A failed trial's stored error without its type when raylife raised it for the user to fix (a RaylifeError:
    ``DataError: cannot decode image …``), else None (a bug or a framework error keeps the trial's ✗ line only)."""
    kinds = {RaylifeError.__name__, *(kind.__name__ for kind in RaylifeError.__subclasses__())}
    kind, _, what = (error or "").partition(": ")
    return what if kind in kinds and what else None
