"""Live progress of a run (trial x stage, elapsed) on a Rich console; implements RunObserver."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from raylife.plan import Trial
from raylife.records import TrialRecord
from raylife.report import format as fmt


class RichProgress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[stage]}[/] {task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[int, TaskID] = {}

    def __enter__(self) -> RichProgress:
        return self  # the live display starts with the first trial, so early errors print alone

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def run_started(self, run_id: str, trials: list[Trial]) -> None:
        self.console.print(f"run [bold]{run_id}[/]: {len(trials)} trial{'s' if len(trials) != 1 else ''}")
        self.progress.start()

    def trial_started(self, trial: Trial) -> None:
        self.tasks[trial.index] = self.progress.add_task(
            escape(trial.run_key), total=len(trial.stages), stage="", detail=""
        )

    def stage_started(self, trial: Trial, stage: str) -> None:
        task = self.tasks[trial.index]
        done = trial.stages.index(stage)
        self.progress.update(task, completed=done, stage=stage, detail="")

    def detail(self, trial: Trial, text: str) -> None:
        self.progress.update(self.tasks[trial.index], detail=text)

    def config_finished(self, trial: Trial, key: str, done: int, planned: int, error: str | None) -> None:
        said = f"[red]failed[/]: {escape(error)}" if error else "measured"
        self.console.print(f"  · {escape(trial.run_key)} @ {escape(key)} {said} ({done} of {planned} configurations)")

    def trial_finished(self, record: TrialRecord) -> None:
        task = self.tasks.pop(record.trial.index)
        self.progress.remove_task(task)
        wall = (record.finished_at - record.started_at).total_seconds() if record.finished_at else None
        if record.status == "ok":
            accuracy = fmt.ratio(record.value("evaluate", "accuracy")) if record.trial.measures_quality else "–, random inputs"
            self.console.print(f"[green]✓[/] {escape(record.trial.run_key)}  accuracy {accuracy}  in {fmt.seconds(wall)}")
        else:
            self.console.print(f"[red]✗ {escape(record.trial.run_key)}  failed after {fmt.seconds(wall)}: {escape(record.error or '')}[/]")
