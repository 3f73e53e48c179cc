"""A trial's identity as a structured value, rendered to text in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrialName:
    """model (with its options, and its workload when not the suite's) / framework / w<workers> / varying axes.

    ``str()`` is the trial's name everywhere (database, progress, errors); ``variant`` drops the parts that
    tables show in columns of their own (framework, workers).
    """

    model: str
    framework: str
    num_workers: int
    tags: tuple[str, ...] = ()  # the other axes that vary in the suite, e.g. ("bs64", "lr0.01")

    def __str__(self) -> str:
        return "/".join([self.model, self.framework, f"w{self.num_workers}", *self.tags])

    @property
    def variant(self) -> str:
        return "/".join([self.model, *self.tags])
