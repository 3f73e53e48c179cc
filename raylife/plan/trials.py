"""Expand a suite's matrix into trials and reject impossible ones before anything touches the cluster.

Everything a trial needs is resolved here, on the driver, without Ray or a framework: the workload and its
data source (whose ``describe`` checks paths, layouts and columns), the model (a workload's, or the user's own
builders, found without importing them), the input check of the model, and the storage formats.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from raylife.errors import PlanError, RaylifeError
from raylife.frameworks import FRAMEWORKS
from raylife.suite.spec import DataSpec, ModelSpec, ServeSpec, SuiteSpec, TrainSpec, UpdateSpec
from raylife.workloads import WORKLOADS, DataFacts, ModelInfo, Workload

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
    dataset: str | None  # a built-in data set (or "random"); None when reading files
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
    data_format: str | None = None  # an on-disk format, with data_path
    data_path: str | None = None  # absolute
    data_source: str = ""  # what the data is, as its source describes it
    synthetic_data: bool = False
    measures_quality: bool = True  # False for random inputs: no accuracy is measured
    model_args: dict[str, Any] = field(default_factory=dict)  # data-dependent builder arguments (vocab size, ...)
    python_path: tuple[str, ...] = ()  # folders holding user model modules
    custom_model: bool = False
    prices: dict[str, float] = field(default_factory=dict)  # [cost]: what the costs view charges per CPU/GPU hour

    def params(self) -> dict[str, Any]:
        """Everything that defines the trial, as stored in ``trials.params``."""
        out = asdict(self)
        out.pop("index")
        out.pop("name")
        for key in ("formats", "stages", "python_path"):
            out[key] = list(out[key])
        out["serve"] = self.serve.model_dump() if self.serve else None
        out["update"] = self.update.model_dump() if self.update else None
        return out

    @property
    def dataset_label(self) -> str:
        return self.dataset if self.data_format is None else f"{self.data_format}:{self.data_path}"


def _where(source: str, key: str) -> str:
    return f"{source}, {key}"


def _relocate(error: RaylifeError, where: str) -> PlanError:
    inner = f" ({error.where})" if error.where and error.where not in where else ""
    return PlanError(error.what + inner, where=where, hint=error.hint)


@contextmanager
def extra_sys_path(paths: tuple[str, ...]) -> Iterator[None]:
    added = [p for p in paths if p not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            sys.path.remove(p)


def check_builder(target: str, where: str) -> None:
    """The user's builder module must exist; found without running it (it would import its framework)."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise PlanError(f"builder '{target}' is not of the form 'package.module:function'", where=where,
                        hint="write the module's import path and the function name separated by ':'")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        spec = None
        reason = str(exc)
    else:
        reason = "no such module"
    if spec is None:
        raise PlanError(
            f"cannot import builder module '{module}' ({reason})", where=where,
            hint="check the name, install its package, or add its folder to run.python_path",
        )
    origin = Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    source = origin.read_text(encoding="utf-8", errors="replace") if origin is not None else ""
    if origin is not None and f"def {attr}" not in source and f"{attr} =" not in source:
        raise PlanError(f"module '{module}' ({origin}) defines no '{attr}'", where=where, hint="check the name after ':'")


def resolve_data(workload: Workload, spec: DataSpec, base: Path, where: str) -> tuple[DataFacts, dict[str, Any], str | None]:
    """The data's facts, loader options (with an absolute path) and absolute path; PlanError otherwise."""
    options = dict(spec.options)
    path = None
    if spec.path is not None:
        path = str((base / spec.path).resolve()) if not Path(spec.path).is_absolute() else spec.path
        options["path"] = path
    try:
        facts = workload.facts(spec.dataset, spec.format, options)
    except PlanError as exc:  # an unknown data set or format name
        raise _relocate(exc, f"{where}.{'format' if spec.format else 'dataset'}") from None
    except RaylifeError as exc:  # the data itself: path, layout, columns
        raise _relocate(exc, where) from None
    return facts, options, path


def _model_info(spec: ModelSpec, workload: Workload, key: str, source: str, python_path: tuple[str, ...]) -> ModelInfo:
    if spec.builders is None:
        try:
            return workload.model(spec.name)
        except RaylifeError as exc:
            raise _relocate(exc, _where(source, f"{key}.name")) from None
    with extra_sys_path(python_path):
        for framework, target in spec.builders.items():
            check_builder(target, _where(source, f"{key}.builders.{framework}"))
    return ModelInfo(name=spec.name, description="user model", builders=dict(spec.builders))


def _train_for(suite: SuiteSpec, spec: ModelSpec, key: str, source: str) -> TrainSpec:
    if not spec.train:
        return suite.train
    try:
        return TrainSpec.model_validate({**suite.train.model_dump(), **spec.train})
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"] if isinstance(p, str))
        raise PlanError(f"{key}.train.{loc}: {error['msg']}", where=source, hint="fix the override in [[models]]") from None


def plan_trials(suite: SuiteSpec, source: str = "<suite>", base_dir: Path | None = None) -> list[Trial]:
    """All trials of the suite in run order; PlanError (naming the key) for anything that cannot run."""
    base = base_dir or (Path(source).parent if Path(source).exists() else Path.cwd())
    python_path = tuple(str((base / p).resolve()) for p in suite.run.python_path)
    if suite.update is not None and suite.serve is None:
        raise PlanError("[update] needs a [serve] section: an update rolls out to a deployment",
                        where=_where(source, "update"), hint="add [serve], or remove [update]")
    trials: list[Trial] = []
    for m, model_spec in enumerate(suite.models):
        key = f"models[{m}]"
        workload_name = model_spec.workload or suite.workload
        try:
            workload = WORKLOADS.get(workload_name)
        except RaylifeError as exc:
            raise _relocate(exc, _where(source, f"{key}.workload" if model_spec.workload else "workload")) from None
        data_spec = model_spec.data or suite.data
        data_key = f"{key}.data" if model_spec.data else "data"
        facts, data_options, data_path = resolve_data(workload, data_spec, base, _where(source, data_key))
        info = _model_info(model_spec, workload, key, source, python_path)
        options = {**info.options, **model_spec.options}
        problem = info.problem_with(facts, options)
        if problem:
            raise PlanError(f"model '{info.name}' cannot take this data: {problem}", where=_where(source, key),
                            hint="choose another model or data options")
        train = _train_for(suite, model_spec, key, source)
        if suite.update is not None and train.retrain_epochs == 0:
            raise PlanError("[update] rolls out the retrained model, but train.retrain_epochs = 0",
                            where=_where(source, "train.retrain_epochs"), hint="set retrain_epochs >= 1, or remove [update]")
        for framework_name in model_spec.framework_names(info.frameworks):
            new = _trials_for(
                suite, source, key, model_spec, info, workload, facts, data_spec, data_options, data_path,
                framework_name, options, train, python_path, start=len(trials),
            )
            taken = {t.name for t in trials}
            for trial in new:
                if trial.name in taken:
                    raise PlanError(f"two trials would both be '{trial.name}'", where=_where(source, key),
                                    hint="each [[models]] entry needs a distinct name or options")
            trials.extend(new)
    return trials


def _trials_for(
    suite: SuiteSpec, source: str, key: str, model_spec: ModelSpec, info: ModelInfo, workload: Workload,
    facts: DataFacts, data_spec: DataSpec, data_options: dict[str, Any], data_path: str | None,
    framework_name: str, options: dict[str, Any], train: TrainSpec, python_path: tuple[str, ...], start: int,
) -> list[Trial]:
    try:
        framework = FRAMEWORKS.get(framework_name)
    except RaylifeError as exc:
        raise _relocate(exc, _where(source, f"{key}.frameworks")) from None
    if framework_name not in info.builders:
        raise PlanError(
            f"model '{info.name}' has no {framework_name} implementation",
            where=_where(source, f"{key}.frameworks"), hint=f"'{info.name}' supports: {', '.join(info.frameworks)}",
        )
    try:
        formats = tuple(dict.fromkeys(framework.resolve_format(f) for f in suite.persist.formats_for(framework_name)))
    except RaylifeError as exc:
        raise _relocate(exc, _where(source, "persist.formats")) from None
    serve_format = None
    if suite.serve is not None:
        try:
            serve_format = framework.resolve_format(suite.serve.format)
        except RaylifeError as exc:
            raise _relocate(exc, _where(source, "serve.format")) from None
        if serve_format not in formats:
            formats = (*formats, serve_format)  # replicas load what persist saved
    axes = [getattr(train, axis) for axis in TRAIN_AXES]
    varying = {axis for axis, values in zip(TRAIN_AXES, axes) if len(values) > 1}
    label = info.name + ("[" + ",".join(f"{k}={v}" for k, v in sorted(model_spec.options.items())) + "]" if model_spec.options else "")
    if model_spec.workload and model_spec.workload != suite.workload:
        label = f"{model_spec.workload}.{label}"
    stages = [s for s in DEVELOP_STAGES if not (s == "retrain" and train.retrain_epochs == 0)]
    if suite.serve is not None:
        stages += [s for s in DEPLOY_STAGES if s != "update" or suite.update is not None]
    trials = []
    for values in itertools.product(*axes):
        setting = dict(zip(TRAIN_AXES, values))
        tags = [f"{AXIS_TAGS.get(a, '')}{setting[a]}" for a in TRAIN_AXES if a in varying and a != "num_workers"]
        trials.append(Trial(
            index=start + len(trials),
            name="/".join([label, framework_name, f"w{setting['num_workers']}", *tags]),
            workload=workload.name,
            dataset=None if data_spec.format else (data_spec.dataset or workload.default_dataset),
            data_options=data_options,
            model=info.name,
            model_options=options,
            builder=info.builders[framework_name],
            framework=framework_name,
            device=setting["device"],
            num_workers=setting["num_workers"],
            cpus_per_worker=setting["cpus_per_worker"],
            batch_size=setting["batch_size"],
            epochs=setting["epochs"],
            learning_rate=setting["learning_rate"],
            target_accuracy=train.target_accuracy if facts.measures_quality else None,
            retrain_epochs=train.retrain_epochs,
            formats=formats,
            seed=suite.seed,
            timeout_s=train.timeout_s,
            stages=tuple(stages),
            serve=suite.serve,
            update=suite.update,
            serve_format=serve_format,
            data_format=data_spec.format,
            data_path=data_path,
            data_source=facts.source,
            synthetic_data=facts.synthetic,
            measures_quality=facts.measures_quality,
            model_args=dict(facts.model_args),
            python_path=python_path,
            custom_model=model_spec.builders is not None,
            prices=suite.cost.model_dump(),
        ))
    return trials
