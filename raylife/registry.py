"""Name → implementation registries, imported on first use.

Keys are the literal strings users write in suite files (``"torch"``, ``"vision"``). Values are
``"package.module:attr"`` strings, so a registry lists what exists without importing heavy dependencies;
the implementation is imported only when a trial actually uses it. Third-party packages add entries
through a Python entry-point group (``[project.entry-points."raylife.workloads"]``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from raylife.errors import RegistryError, close_matches

T = TypeVar("T")
_MISSING = object()


def import_object(target: str, *, what: str = "object") -> Any:
    """Import ``"package.module:attr"`` (attr may be dotted), raising RegistryError with the reason."""
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise RegistryError(
            f"{what} '{target}' is not of the form 'package.module:attribute'",
            hint="write the import path and the attribute separated by ':'",
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(
            f"cannot import module '{module_name}' for {what} '{target}': {exc}",
            hint="check the module name and that its package is installed (or on PYTHONPATH)",
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistryError(
                f"module '{module_name}' has no attribute '{attr_path}' (for {what} '{target}')",
                hint="check the name after ':'",
            ) from None
    return obj


class Registry(Generic[T]):
    """Maps names to lazily imported objects; built-ins first, then the entry-point group."""

    def __init__(self, kind: str, builtins: dict[str, str], entry_point_group: str | None = None) -> None:
        self.kind = kind
        self._targets: dict[str, str | T] = dict(builtins)
        self._loaded: dict[str, T] = {}
        self._group = entry_point_group
        self._entry_points_read = False

    def _read_entry_points(self) -> None:
        if self._entry_points_read or self._group is None:
            return
        self._entry_points_read = True
        for ep in entry_points(group=self._group):
            # Built-ins win: a plug-in cannot silently replace a name users already rely on.
            self._targets.setdefault(ep.name, ep.value)

    @contextmanager
    def override(self, name: str, target: str | T) -> Iterator[None]:
        """Register ``name`` for the duration of a ``with`` block, then restore what was there (for tests)."""
        before = self._targets.get(name, _MISSING)
        self.register(name, target)
        try:
            yield
        finally:
            self._loaded.pop(name, None)
            if before is _MISSING:
                self._targets.pop(name, None)
            else:
                self._targets[name] = before

    def register(self, name: str, target: str | T) -> None:
        """Add (or replace) an entry: an import string or the object itself."""
        self._targets[name] = target
        self._loaded.pop(name, None)

    def names(self) -> list[str]:
        self._read_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        self._read_entry_points()
        return name in self._targets

    def get(self, name: str) -> T:
        """The object registered under ``name``; RegistryError listing the known names otherwise."""
        self._read_entry_points()
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._targets:
            known = ", ".join(self.names()) or "none"
            hint = close_matches(name, self._targets)
            raise RegistryError(
                f"unknown {self.kind} '{name}'",
                hint=(hint + " " if hint else "") + f"known {self.kind}s: {known}",
            )
        target = self._targets[name]
        obj = import_object(target, what=f"{self.kind} '{name}'") if isinstance(target, str) else target
        self._loaded[name] = obj
        return obj
