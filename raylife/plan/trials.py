"""Expand a suite's matrix into trials and reject impossible ones before anything touches the cluster."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from raylife.errors import PlanError, RaylifeError
from raylife.frameworks import FRAMEWORKS
from raylife.suite.spec import ServeSpec, SuiteSpec, UpdateSpec
from raylife.workloads import WORKLOADS

# Matrix axes of [train], in the order they appear in trial names.
TRAIN_AXES = ("num_workers", "batch_size", "epochs", "learning_rate", "cpus_per_worker", "device")
AXIS_TAGS = {"num_workers": "w", "batch_size": "bs", "epochs": "ep", "learning_rate": "lr", "cpus_per_worker": "cpu"}

# The development stages in lifecycle order; deployment stages are appended when the suite asks for them.
DEVELOP_STAGES = ("train", "evaluate", "persist", "retrain")
DEPLOY_STAGES = ("deploy", "serve", "update", "teardown")


@dataclass(frozen=True)
class Trial:
    """One cell of the matrix: a model in a framework on a platform, with everything needed to run it."""

    index: int
    name: str
    workload: str
    dataset: str
    data_options: dict[str, Any]
    model: str
    model_options: dict[str, Any]
    builder: str
    framework: str
    device: str
    num_workers: int
    cpus_per_worker: float
    batch_size: int
    epochs: int
    learning_rate: float
    target_accuracy: float | None
    retrain_epochs: int
    formats: tuple[str, ...]
    seed: int
    timeout_s: float
    stages: tuple[str, ...] = field(default=DEVELOP_STAGES)
    serve: ServeSpec | None = None
    update: UpdateSpec | None = None
    serve_format: str | None = None  # the storage format Serve replicas load

    def params(self) -> dict[str, Any]:
        """Everything that defines the trial, as stored in ``trials.params``."""
        out = asdict(self)
        out.pop("index")
        out.pop("name")
        out["formats"] = list(self.formats)
        out["stages"] = list(self.stages)
        out["serve"] = self.serve.model_dump() if self.serve else None
        out["update"] = self.update.model_dump() if self.update else None
        return out


def _where(source: str, key: str) -> str:
    return f"{source}, {key}"


def plan_trials(suite: SuiteSpec, source: str = "<suite>") -> list[Trial]:
    """All trials of the suite in run order; PlanError (naming the key) for anything that cannot run."""
    try:
        workload = WORKLOADS.get(suite.workload)
    except RaylifeError as exc:
        raise PlanError(exc.what, where=_where(source, "workload"), hint=exc.hint) from None
    dataset = suite.data.dataset or workload.default_dataset
    if dataset not in workload.datasets:
        try:
            workload.dataset_loader(dataset)
        except RaylifeError as exc:
            raise PlanError(exc.what, where=_where(source, "data.dataset"), hint=exc.hint) from None

    train = suite.train
    if suite.update is not None and suite.serve is None:
        raise PlanError("[update] needs a [serve] section: an update rolls out to a deployment",
                        where=_where(source, "update"), hint="add [serve], or remove [update]")
    if suite.update is not None and train.retrain_epochs == 0:
        raise PlanError("[update] rolls out the retrained model, but train.retrain_epochs = 0",
                        where=_where(source, "train.retrain_epochs"), hint="set retrain_epochs >= 1, or remove [update]")
    axes = [getattr(train, axis) for axis in TRAIN_AXES]
    varying = {axis for axis, values in zip(TRAIN_AXES, axes) if len(values) > 1}
    trials: list[Trial] = []
    for m, model_spec in enumerate(suite.models):
        key = f"models[{m}]"
        try:
            info = workload.model(model_spec.name)
        except RaylifeError as exc:
            raise PlanError(exc.what, where=_where(source, f"{key}.name"), hint=exc.hint) from None
        for framework_name in model_spec.frameworks:
            try:
                framework = FRAMEWORKS.get(framework_name)
            except RaylifeError as exc:
                raise PlanError(exc.what, where=_where(source, f"{key}.frameworks"), hint=exc.hint) from None
            if framework_name not in info.builders:
                raise PlanError(
                    f"model '{info.name}' has no {framework_name} implementation",
                    where=_where(source, f"{key}.frameworks"),
                    hint=f"'{info.name}' supports: {', '.join(info.frameworks)}",
                )
            try:
                formats = tuple(dict.fromkeys(framework.resolve_format(f) for f in suite.persist.formats_for(framework_name)))
            except RaylifeError as exc:
                raise PlanError(exc.what, where=_where(source, "persist.formats"), hint=exc.hint) from None
            serve_format = None
            if suite.serve is not None:
                try:
                    serve_format = framework.resolve_format(suite.serve.format)
                except RaylifeError as exc:
                    raise PlanError(exc.what, where=_where(source, "serve.format"), hint=exc.hint) from None
                if serve_format not in formats:
                    formats = (*formats, serve_format)  # replicas load what persist saved
            for values in itertools.product(*axes):
                setting = dict(zip(TRAIN_AXES, values))
                tags = [f"{AXIS_TAGS.get(a, '')}{setting[a]}" for a in TRAIN_AXES if a in varying and a != "num_workers"]
                label = info.name + (
                    "[" + ",".join(f"{k}={v}" for k, v in sorted(model_spec.options.items())) + "]" if model_spec.options else ""
                )
                name = "/".join([label, framework_name, f"w{setting['num_workers']}", *tags])
                if any(t.name == name for t in trials):
                    raise PlanError(
                        f"two trials would both be '{name}'",
                        where=_where(source, key),
                        hint="each [[models]] entry needs a distinct name or options",
                    )
                stages = [s for s in DEVELOP_STAGES if not (s == "retrain" and train.retrain_epochs == 0)]
                if suite.serve is not None:
                    stages += [s for s in DEPLOY_STAGES if s != "update" or suite.update is not None]
                trials.append(
                    Trial(
                        index=len(trials),
                        name=name,
                        workload=workload.name,
                        dataset=dataset,
                        data_options=dict(suite.data.options),
                        model=info.name,
                        model_options={**info.options, **model_spec.options},
                        builder=info.builders[framework_name],
                        framework=framework_name,
                        device=setting["device"],
                        num_workers=setting["num_workers"],
                        cpus_per_worker=setting["cpus_per_worker"],
                        batch_size=setting["batch_size"],
                        epochs=setting["epochs"],
                        learning_rate=setting["learning_rate"],
                        target_accuracy=train.target_accuracy,
                        retrain_epochs=train.retrain_epochs,
                        formats=formats,
                        seed=suite.seed,
                        timeout_s=train.timeout_s,
                        stages=tuple(stages),
                        serve=suite.serve,
                        update=suite.update,
                        serve_format=serve_format,
                    )
                )
    return trials
