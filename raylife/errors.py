"""The one family of user-facing errors.

Every error a user can fix (bad suite, unknown model, unreachable cluster, unwritable database) is a
``RaylifeError``. The CLI catches this family once and prints ``Error: <what> (<where>); <hint>`` on one line
with exit code 1. Anything else is a bug and keeps its traceback.

The classes are plain picklable exceptions (args round-trip), since some are raised inside Ray workers.
"""

from __future__ import annotations


class RaylifeError(Exception):
    """A problem the user can fix; rendered as one line without a traceback."""

    def __init__(self, what: str, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(what, where, hint)
        self.what = what
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.hint:
            text += f"; {self.hint}"
        return text


class SuiteError(RaylifeError):
    """The suite file is missing, not valid TOML, or does not match the schema."""


class PlanError(RaylifeError):
    """The suite is well-formed but asks for something that cannot run (unknown model, unsupported format)."""


class RegistryError(RaylifeError):
    """A name in a registry is unknown or its implementation cannot be imported."""


class DataError(RaylifeError):
    """A data set path is missing or not in the expected layout."""


class ClusterError(RaylifeError):
    """The Ray cluster cannot be reached or cannot fit what the suite asks for."""


class StorageError(RaylifeError):
    """storage_path cannot be used: an unknown scheme, no bucket, no credentials, an unreachable endpoint."""


class StoreError(RaylifeError):
    """The results database cannot be opened, written, or queried as asked."""


def close_matches(word: str, candidates: list[str] | tuple[str, ...] | set[str]) -> str:
    """A 'did you mean …' fragment for hints, or '' when nothing is close."""
    import difflib

    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else ""
