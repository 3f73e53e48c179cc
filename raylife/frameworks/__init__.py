"""Frameworks, looked up by the name a suite uses ("torch", "tensorflow").

A ``Framework`` is a light descriptor the planner can read on the driver (which storage formats exist,
what environment its processes need). Its ``backend`` — trainer wiring, checkpoints, storage formats,
prediction — is imported only inside the cluster processes that run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from raylife.errors import PlanError
from raylife.registry import Registry, import_object

if TYPE_CHECKING:
    from raylife.frameworks.backend import Backend

NATIVE = "native"


@dataclass(frozen=True)
class Framework:
    name: str
    display_name: str
    distribution: str  # the package whose version the results record
    native_format: str
    formats: Mapping[str, str]  # storage format → one-line description
    backend: str  # "module:attr" of the Backend, imported lazily
    env_vars: Mapping[str, str] = field(default_factory=dict)  # set in every process that runs this framework

    def resolve_format(self, name: str) -> str:
        """Map ``native`` to this framework's own format; reject formats it cannot save and load."""
        resolved = self.native_format if name == NATIVE else name
        if resolved not in self.formats:
            raise PlanError(
                f"framework '{self.name}' cannot save or load format '{name}'",
                hint=f"formats for {self.name}: {NATIVE} (= {self.native_format}), "
                + ", ".join(f for f in self.formats if f != self.native_format),
            )
        return resolved

    def load_backend(self) -> Backend:
        return import_object(self.backend, what=f"backend of framework '{self.name}'")()


FRAMEWORKS: Registry[Framework] = Registry(
    "framework",
    {
        "torch": "raylife.frameworks.torch:FRAMEWORK",
        "tensorflow": "raylife.frameworks.tensorflow:FRAMEWORK",
    },
    entry_point_group="raylife.frameworks",
)

__all__ = ["FRAMEWORKS", "NATIVE", "Framework"]
