"""The suite schema: what a user may write in a suite TOML file.

Pieces the user declares end in ``Spec`` so they never blur with Ray's ScalingConfig/RunConfig.
A field typed ``Axis[...]`` takes one value or a list; a list is a matrix axis that expands into
trials (see ``raylife.plan``). Unknown keys are rejected (``extra="forbid"``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

T = TypeVar("T")


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


# One value or a list of values; a list is a matrix axis. Always a non-empty list after validation.
Axis = Annotated[list[T], BeforeValidator(_as_list), Field(min_length=1)]

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(StrictModel):
    """Which data the workload trains on: a named data set it ships, with loader options."""

    dataset: str | None = Field(default=None, description="a data set of the workload; default: the workload's own")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the data set loader")


class ModelSpec(StrictModel):
    """One architecture of the workload, trained in each listed framework."""

    name: str = Field(min_length=1)
    frameworks: Axis[str] = Field(default_factory=lambda: ["torch", "tensorflow"])
    options: dict[str, Any] = Field(default_factory=dict, description="builder keyword arguments, e.g. width")

    @field_validator("frameworks")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"frameworks are listed twice: {value}")
        return value


class TrainSpec(StrictModel):
    """Training through Ray Train. ``batch_size`` is global: split evenly over the workers."""

    epochs: Axis[PositiveInt] = Field(default_factory=lambda: [5])
    batch_size: Axis[PositiveInt] = Field(default_factory=lambda: [64])
    learning_rate: Axis[PositiveFloat] = Field(default_factory=lambda: [1e-3])
    num_workers: Axis[PositiveInt] = Field(default_factory=lambda: [1])
    cpus_per_worker: Axis[PositiveFloat] = Field(default_factory=lambda: [1.0])
    device: Axis[Literal["cpu", "gpu"]] = Field(default_factory=lambda: ["cpu"])
    target_accuracy: float | None = Field(default=None, gt=0, le=1)
    retrain_epochs: NonNegativeInt = Field(default=1, description="0 skips the retrain stage")
    timeout_s: PositiveFloat = Field(default=1800, description="a training run that takes longer fails")


class PersistSpec(StrictModel):
    """Storage formats to save, reload and compare. ``native`` is each framework's own format.

    A list applies to every framework; a table gives each framework its own list,
    e.g. ``formats = { torch = ["native", "onnx"], tensorflow = ["native", "savedmodel"] }``.
    """

    formats: list[str] | dict[str, list[str]] = Field(default_factory=lambda: ["native"])

    def formats_for(self, framework: str) -> list[str]:
        if isinstance(self.formats, dict):
            return list(self.formats.get(framework, ["native"]))
        return list(self.formats)


class RunSpec(StrictModel):
    """Where artifacts go. On a multi-node cluster storage_path must be shared storage (NFS, or a URI
    such as s3://bucket/path), as Ray Train requires for checkpoints."""

    storage_path: str = "./raylife-artifacts"


class SuiteSpec(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    workload: str
    seed: int = 0
    data: DataSpec = Field(default_factory=DataSpec)
    models: list[ModelSpec] = Field(min_length=1)
    train: TrainSpec = Field(default_factory=TrainSpec)
    persist: PersistSpec = Field(default_factory=PersistSpec)
    run: RunSpec = Field(default_factory=RunSpec)
