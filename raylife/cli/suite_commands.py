"""validate / plan: check a suite and show its trials without running anything."""

from __future__ import annotations

from raylife.cli.common import SuiteArgument, console
from raylife.plan import Trial, plan_trials
from raylife.report.tables import plan_table
from raylife.suite import SuiteSpec, load_suite


def load_and_plan(path: str) -> tuple[SuiteSpec, str, list[Trial]]:
    suite, text = load_suite(path)
    return suite, text, plan_trials(suite, path)


def validate(suite: SuiteArgument) -> None:
    """Check a suite file (syntax, keys, values, models, frameworks, formats) without running it."""
    spec, _, trials = load_and_plan(str(suite))
    frameworks = sorted({t.framework for t in trials})
    console.print(
        f"[green]✓[/] {suite} is valid: suite '{spec.name}', workload '{spec.workload}', "
        f"{len(trials)} trial{'s' if len(trials) != 1 else ''} ({', '.join(frameworks)})"
    )


def plan(suite: SuiteArgument) -> None:
    """Print the trials a suite would run, as a table."""
    spec, _, trials = load_and_plan(str(suite))
    console.print(plan_table(trials, title=f"{spec.name}: {len(trials)} trials"))
