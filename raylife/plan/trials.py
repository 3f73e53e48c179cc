"""Expand a suite's matrix into trials and reject impossible ones before anything touches the cluster.

Everything a trial needs is resolved here, on the driver, without Ray or a framework: the workload and its
data source (whose ``describe`` checks paths, layouts and columns), the model (a workload's, or the user's own
builders, found without importing them), the input check of the model, and the storage formats.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from raylife.errors import PlanError, RaylifeError, close_matches
from raylife.frameworks import FRAMEWORKS
from raylife.lifecycle import DEPLOY_STAGES, DEVELOP_STAGES
from raylife.plan.builders import check_options, read_builder
from raylife.plan.identity import TrialName
from raylife.plan.serving import SearchPlan, ServingConfig, search_plan, serving_configs
from raylife.suite.spec import DataSpec, FaultsSpec, LoadSpec, ModelSpec, ServeSpec, SuiteSpec, TokensSpec, TrainSpec, UpdateSpec
from raylife.workloads import WORKLOADS, DataFacts, ModelInfo, Workload
from raylife.workloads.reference import DataRef

# Matrix axes of [train], in the order they appear in trial names.
TRAIN_AXES = ("num_workers", "batch_size", "epochs", "learning_rate", "cpus_per_worker", "device", "precision", "platform",
              "checkpoint_upload")
AXIS_TAGS = {"num_workers": "w", "batch_size": "bs", "epochs": "ep", "learning_rate": "lr", "cpus_per_worker": "cpu",
             "checkpoint_upload": "ckpt-"}


def axis_values(train: TrainSpec, axis: str) -> list[Any]:
    """The values of one matrix axis; an axis left out (platform) is one value, None."""
    return getattr(train, axis) or [None]

# More trials than this is a matrix typo (three 300-value axes are 27 million trials), not a benchmark.
MAX_TRIALS = 1000


@dataclass(frozen=True)
class Trial:
    """One cell of the matrix: a model in a framework on a platform, with everything needed to run it."""

    index: int
    key: TrialName
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
    # [serve] settings given as lists: every combination, deployed and measured in turn (the first is ``serve``)
    serve_configs: tuple[ServingConfig, ...] = ()
    serve_search: SearchPlan | None = None  # how the configurations measured are chosen (with serve_configs)
    data_format: str | None = None  # an on-disk format, with data_path
    data_path: str | None = None  # absolute
    data_source: str = ""  # what the data is, as its source describes it
    synthetic_data: bool = False
    measures_quality: bool = True  # False for random inputs: no accuracy is measured
    streamed: bool = False  # files streamed through Ray Data to the training workers
    model_args: dict[str, Any] = field(default_factory=dict)  # data-dependent builder arguments (vocab size, ...)
    python_path: tuple[str, ...] = ()  # folders holding user model modules
    custom_model: bool = False
    prices: dict[str, float] = field(default_factory=dict)  # [cost]: what the costs view charges per CPU/GPU hour
    platform: str | None = None  # a name from [platforms]
    platform_resources: dict[str, float] = field(default_factory=dict)  # Ray custom resources per worker and replica
    platform_labels: dict[str, str] = field(default_factory=dict)  # node labels workers and replicas must run on
    max_failures: int = 0  # worker failures one fit survives
    precision: str = "fp32"  # fp32 | bf16 | fp16: training and serving
    checkpoint_upload: str = "sync"  # sync | async: how Ray Train copies a checkpoint to storage_path
    faults: FaultsSpec | None = None
    load: LoadSpec | None = None  # open-loop load to the latency limit
    repeat: int = 0  # which of the suite's `repeats` runs of this trial (0-based)
    repeats: int = 1
    steps: int | None = None  # train for this many optimizer steps (one recorded epoch) instead of `epochs`
    weights: str | None = None  # pretrained weights (absolute path or URI) the first fit starts from
    tokens_per_sample: int | None = None  # a decoder's: each row trains and scores a next token at every position
    tokens: TokensSpec | None = None  # a decoder's token-by-token serving ([tokens]), when the suite serves

    @property
    def run_key(self) -> str:
        """Unique within a run: the name, and the repeat when the suite repeats trials."""
        return self.name if self.repeats == 1 else f"{self.name}#{self.repeat + 1}"

    def params(self) -> dict[str, Any]:
        """Everything that defines the trial, as stored in ``trials.params``."""
        out = asdict(self)
        out.pop("index")
        out.pop("key")
        for key in ("formats", "stages", "python_path"):
            out[key] = list(out[key])
        out["serve"] = self.serve.model_dump() if self.serve else None
        out["serve_configs"] = [c.as_params() for c in self.serve_configs]
        out["serve_search"] = self.serve_search.as_params() if self.serve_search else None
        out["update"] = self.update.model_dump() if self.update else None
        out["faults"] = self.faults.model_dump() if self.faults else None
        out["load"] = self.load.model_dump() if self.load else None
        out["tokens"] = self.tokens.model_dump() if self.tokens else None
        return out

    @property
    def serve_device(self) -> str:
        """Where the replicas run: [serve] device, or the trial's own."""
        return (self.serve.device if self.serve and self.serve.device else None) or self.device

    @property
    def name(self) -> str:
        return str(self.key)

    @property
    def data(self) -> DataRef:
        """The one reference to this trial's data that every process loads from."""
        return DataRef(self.workload, self.dataset, self.data_format, self.data_options, self.seed)

    @property
    def dataset_label(self) -> str:
        return self.dataset if self.data_format is None else f"{self.data_format}:{self.data_path}"


def _where(source: str, key: str) -> str:
    return f"{source}, {key}"


def _relocate(error: RaylifeError, where: str) -> PlanError:
    inner = f" ({error.where})" if error.where and error.where not in where else ""
    return PlanError(error.what + inner, where=where, hint=error.hint)


def signature_of(target: str) -> tuple[str, ...]:
    """The parameter names of a data source's ``module:function`` (its options)."""
    import inspect

    from raylife.registry import import_object

    return tuple(inspect.signature(import_object(target, what="data source")).parameters)


def resolve_data(workload: Workload, spec: DataSpec, base: Path, where: str) -> tuple[DataFacts, dict[str, Any], str | None]:
    """The data's facts, loader options (with an absolute path) and absolute path; PlanError otherwise."""
    options = dict(spec.options)
    if spec.on_bad_file is not None:
        source = workload.sources.get(spec.format or "")
        if source is None or "on_bad_file" not in signature_of(source.stream or source.load):
            raise PlanError(f"data.on_bad_file applies to files decoded one by one (imagefolder), not to "
                            f"{spec.format or spec.dataset or workload.default_dataset}", where=f"{where}.on_bad_file",
                            hint="remove data.on_bad_file")
        options["on_bad_file"] = spec.on_bad_file
    path = None
    if spec.path is not None:
        path = str((base / spec.path).resolve()) if not Path(spec.path).is_absolute() else spec.path
        options["path"] = path
    named = workload.sources.get(spec.format or spec.dataset or workload.default_dataset)
    for key in named.path_options if named is not None else ():
        if isinstance(options.get(key), str) and not Path(options[key]).is_absolute():
            options[key] = str((base / options[key]).resolve())
    try:
        facts = workload.facts(spec.dataset, spec.format, options)
    except PlanError as exc:  # an unknown data set or format name
        raise _relocate(exc, f"{where}.{'format' if spec.format else 'dataset'}") from None
    except RaylifeError as exc:  # the data itself: path, layout, columns, options
        if exc.where and exc.where.startswith("data."):  # the key inside [data]: name it in the suite's terms
            raise PlanError(exc.what, where=where + exc.where[len("data"):], hint=exc.hint) from None
        raise _relocate(exc, where) from None
    return facts, options, path


def _model_info(spec: ModelSpec, workload: Workload, key: str, source: str) -> ModelInfo:
    if spec.builders is None:
        try:
            return workload.model(spec.name)
        except RaylifeError as exc:
            raise _relocate(exc, _where(source, f"{key}.name")) from None
    return ModelInfo(name=spec.name, description="user model", builders=dict(spec.builders))


def _check_builders(info: ModelInfo, spec: ModelSpec, frameworks: list[str], options: dict[str, Any], facts: DataFacts,
                    key: str, source: str, python_path: tuple[str, ...]) -> None:
    """Each builder exists and takes the options, read from source: no user or framework code runs here."""
    for framework in frameworks:
        target = info.builders.get(framework)
        if target is None:
            continue  # reported with the framework's trials
        where = _where(source, f"{key}.builders.{framework}" if spec.builders else f"{key}.options")
        try:
            builder = read_builder(target, list(python_path))
        except PlanError as exc:
            raise _relocate(exc, where) from None
        problem = check_options(builder, options, set(facts.model_args), builtin=spec.builders is None)
        if problem:
            raise PlanError(f"model '{info.name}': {problem}", where=_where(source, f"{key}.options"),
                            hint="change the model's options")


def check_storage(path: str, where: str) -> None:
    """A path, or a URI of a filesystem pyarrow (and so Ray Train) reads; that it can be written is checked once,
    before Ray starts (``raylife.artifacts.check_writable``)."""
    from raylife.artifacts import SCHEME_HINT, URI_SCHEMES, Location, is_uri

    if is_uri(path) and Location(path).scheme not in URI_SCHEMES:
        raise PlanError(
            f"storage_path '{Location(path).redacted()}' has scheme '{Location(path).scheme}', which raylife cannot "
            f"write to (it reads {', '.join(s + '://' for s in URI_SCHEMES)})", where=where, hint=SCHEME_HINT,
        )


def _check_matrix(suite: SuiteSpec, source: str) -> None:
    """Count the trials before building any: a huge matrix is refused with the axes that multiply."""
    total, parts = 0, []
    for m, spec in enumerate(suite.models):
        train = suite.train
        axes = {axis: len(axis_values(train, axis)) for axis in TRAIN_AXES}
        for axis, value in spec.train.items():
            if axis in axes:
                axes[axis] = len(value) if isinstance(value, list) else 1
        frameworks = len(spec.frameworks) if spec.frameworks else len(spec.builders or {}) or 2
        count = frameworks * math.prod(axes.values())
        total += count
        factors = [f"{frameworks} frameworks"] + [f"{axis} {n}" for axis, n in axes.items() if n > 1]
        parts.append(f"models[{m}] '{spec.name}': {' x '.join(factors)} = {count:,}")
    if suite.repeats > 1:
        total *= suite.repeats
        parts.append(f"x repeats {suite.repeats}")
    if total > MAX_TRIALS:
        raise PlanError(f"the suite would run {total:,} trials ({'; '.join(parts)}); raylife runs at most {MAX_TRIALS:,} per suite",
                        where=_where(source, "train"), hint="shorten the lists in [train] (each list is a matrix axis)")


def _check_persist_keys(suite: SuiteSpec, source: str) -> None:
    if not isinstance(suite.persist.formats, dict):
        return
    known = FRAMEWORKS.names()
    for name in suite.persist.formats:
        if name not in known:
            suggestion = close_matches(name, known)
            raise PlanError(f"unknown framework '{name}' in persist.formats", where=_where(source, f"persist.formats.{name}"),
                            hint=(suggestion + " " if suggestion else "") + f"known frameworks: {', '.join(known)}")


def _check_platforms(suite: SuiteSpec, train: TrainSpec, key: str, source: str) -> None:
    for name in train.platform or []:
        if name not in suite.platforms:
            known = sorted(suite.platforms)
            suggestion = close_matches(name, known)
            where = f"{key}.train.platform" if "platform" in (suite.models[int(key[7:-1])].train or {}) else "train.platform"
            raise PlanError(
                f"platform '{name}' is not defined", where=_where(source, where),
                hint=(suggestion + " " if suggestion else "") + (
                    f"defined: {', '.join(known)}" if known else f'define it: [platforms.{name}] resources = {{ ... }} or labels = {{ ... }}'),
            )


def _check_faults(suite: SuiteSpec, train: TrainSpec, source: str) -> None:
    """A fault that could never fire is a mistake in the suite, not a clean run."""
    faults = suite.faults
    if faults is None:
        return
    if faults.kill_worker_at_epoch is not None:
        if faults.kill_worker_at_epoch > min(train.epochs):
            raise PlanError(
                f"faults.kill_worker_at_epoch = {faults.kill_worker_at_epoch} but train.epochs = {min(train.epochs)}: "
                "the worker would never be killed", where=_where(source, "faults.kill_worker_at_epoch"),
                hint="kill at an epoch the training reaches",
            )
        if faults.kill_worker_rank >= min(train.num_workers):
            raise PlanError(
                f"faults.kill_worker_rank = {faults.kill_worker_rank} but train.num_workers = {min(train.num_workers)}",
                where=_where(source, "faults.kill_worker_rank"), hint="ranks count from 0",
            )
    if faults.kill_replica_after_s is not None and suite.serve is None:
        raise PlanError("faults.kill_replica_after_s needs a [serve] section: no replica runs without it",
                        where=_where(source, "faults.kill_replica_after_s"), hint="add [serve], or remove the fault")


def _train_for(suite: SuiteSpec, spec: ModelSpec, key: str, source: str) -> TrainSpec:
    if not spec.train:
        return suite.train
    try:
        # only the keys the suite set: a dumped default (epochs) beside the suite's steps would read as both given
        return TrainSpec.model_validate({**suite.train.model_dump(exclude_unset=True), **spec.train})
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"] if isinstance(p, str))
        raise PlanError(f"{key}.train.{loc}: {error['msg']}", where=source, hint="fix the override in [[models]]") from None


def _checked_trace(load: LoadSpec, base: Path, source: str) -> LoadSpec:
    """[load] trace read once before anything runs (a bad line is named), its path made absolute for the load stage."""
    from raylife.clients.profile import TraceError, read_trace

    path = Path(load.trace).expanduser()
    path = path if path.is_absolute() else (base / path).resolve()
    try:
        read_trace(path)
    except TraceError as exc:
        raise PlanError(str(exc), where=_where(source, "load.trace"),
                        hint="one send time in seconds per line (sorted, from 0 up), optionally a batch size after a "
                        "comma; a path relative to the suite file") from None
    return load.model_copy(update={"trace": str(path)})


# A decoder is served token by token from PyTorch (transformers' KV cache); a TensorFlow twin's trials in a suite that
# serves train, score, save and retrain, and are not deployed (`raylife plan` lists their stages).
SERVED_DECODER_FRAMEWORKS = ("torch",)


def _check_sections(suite: SuiteSpec, source: str) -> None:
    """The sections that measure a deployment need [serve]."""
    for section, why in (("load", "open-loop load is sent to a deployment"),
                         ("update", "an update rolls out to a deployment"),
                         ("tokens", "tokens are streamed from a deployment")):
        if getattr(suite, section) is not None and suite.serve is None:
            raise PlanError(f"[{section}] needs a [serve] section: {why}", where=_where(source, section),
                            hint=f"add [serve], or remove [{section}]")


def _check_token_serving(suite: SuiteSpec, facts: DataFacts, options: dict[str, Any], source: str) -> None:
    """What a served decoder cannot do yet, or cannot do with these settings, said before Ray starts."""
    if suite.serve is None:
        return
    for section in ("load", "update"):
        if getattr(suite, section) is not None:
            raise PlanError(f"[{section}] measures a classifier's requests; a decoder is measured token by token "
                            "([tokens])", where=_where(source, section), hint=f"remove [{section}]")
    serve = suite.serve
    listed = [f for f in ("format", "replicas", "cpus_per_replica", "gpus_per_replica", "max_batch_size",
                          "batch_wait_timeout_s", "max_ongoing_requests") if isinstance(getattr(serve, f), list)]
    if listed or serve.search is not None or serve.autoscaling is not None:
        what = f"serve.{listed[0]} as a list" if listed else "serve.search" if serve.search else "serve.autoscaling"
        raise PlanError(f"{what}: a decoder is served in one configuration (serving configurations and autoscaling "
                        "are measured for classifiers)", where=_where(source, "serve"),
                        hint="give one value; compare decoders' serving through [tokens] concurrency and batching")
    tokens = suite.tokens or TokensSpec()
    positions = int(options.get("positions", 0) or 0)
    if positions and tokens.prompt_tokens + tokens.max_tokens > positions:
        raise PlanError(f"prompt_tokens + max_tokens = {tokens.prompt_tokens + tokens.max_tokens} exceed the model's "
                        f"{positions} positions", where=_where(source, "tokens"),
                        hint="lower tokens.prompt_tokens or tokens.max_tokens, or raise the model's positions")
    if tokens.prompt_tokens > facts.input_shape[0]:
        raise PlanError(f"prompt_tokens = {tokens.prompt_tokens}: prompts are held-out rows of {facts.input_shape[0]} "
                        "tokens", where=_where(source, "tokens.prompt_tokens"),
                        hint="lower tokens.prompt_tokens, or raise data.options.seq_len")


def plan_trials(suite: SuiteSpec, source: str = "<suite>", base_dir: Path | None = None) -> list[Trial]:
    """All trials of the suite in run order; PlanError (naming the key) for anything that cannot run."""
    base = base_dir or (Path(source).parent if Path(source).exists() else Path.cwd())
    python_path = tuple(str((base / p).resolve()) for p in suite.run.python_path)
    _check_sections(suite, source)
    if suite.load is not None and suite.load.trace is not None:
        suite = suite.model_copy(update={"load": _checked_trace(suite.load, base, source)})
    check_storage(suite.run.storage_path, _where(source, "run.storage_path"))
    _check_persist_keys(suite, source)
    _check_matrix(suite, source)
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
        info = _model_info(model_spec, workload, key, source)
        options = {**info.options, **model_spec.options}
        _check_builders(info, model_spec, model_spec.framework_names(info.frameworks), options, facts, key, source,
                        python_path)
        problem = info.problem_with(facts, options)
        if problem:
            raise PlanError(f"model '{info.name}' cannot take this data: {problem}", where=_where(source, key),
                            hint="choose another model or data options")
        if facts.sequence_targets:
            _check_token_serving(suite, facts, options, source)
        train = _train_for(suite, model_spec, key, source)
        if train.target_accuracy is not None and not facts.measures_quality:
            target_key = f"{key}.train.target_accuracy" if "target_accuracy" in model_spec.train else "train.target_accuracy"
            raise PlanError(f"target_accuracy = {train.target_accuracy} on {facts.source}: random inputs have nothing to "
                            "learn, so no accuracy is measured", where=_where(source, target_key),
                            hint="remove target_accuracy, or train on a data set")
        _check_platforms(suite, train, key, source)
        _check_faults(suite, train, source)
        if suite.update is not None and train.retrain_epochs == 0:
            raise PlanError("[update] rolls out the retrained model, but train.retrain_epochs = 0",
                            where=_where(source, "train.retrain_epochs"), hint="set retrain_epochs >= 1, or remove [update]")
        plan = ModelPlan(suite, source, key, model_spec, info, workload, facts, data_spec, data_options, data_path,
                         options, train, python_path)
        for framework_name in model_spec.framework_names(info.frameworks):
            new = _trials_for(plan, framework_name, start=len(trials))
            weights = _weights_for(model_spec, info, framework_name, facts, options, base, key, source, python_path)
            new = [replace(t, weights=weights) for t in new] if weights else new
            taken = {t.name for t in trials}
            for trial in new:
                if trial.name in taken:
                    raise PlanError(f"two trials would both be '{trial.name}'", where=_where(source, key),
                                    hint="each [[models]] entry needs a distinct name or options")
            trials.extend(new)
    if suite.tokens is not None and not any(t.tokens_per_sample for t in trials):
        raise PlanError("[tokens] measures a decoder served token by token; no model of this suite is one",
                        where=_where(source, "tokens"), hint='use workload = "generative", or remove [tokens]')
    if suite.repeats == 1:
        return trials
    # Repeat-major order (every trial once, then again): a slow drift of the machine spreads over all trials
    # instead of biasing whichever trial ran last.
    return [replace(t, index=r * len(trials) + t.index, repeat=r, repeats=suite.repeats)
            for r in range(suite.repeats) for t in trials]


def _weights_for(spec: ModelSpec, info: ModelInfo, framework: str, facts: DataFacts, options: dict[str, Any],
                 base: Path, key: str, source: str, python_path: tuple[str, ...]) -> str | None:
    """The weights this model starts from in ``framework`` (absolute path or URI), checked against the architecture."""
    if spec.weights is None:
        return None
    where = f"{key}.weights"
    if isinstance(spec.weights, dict):
        unknown = sorted(set(spec.weights) - set(spec.framework_names(info.frameworks)))
        if unknown:
            raise PlanError(f"weights for '{unknown[0]}', which this model is not trained in", where=_where(source, where),
                            hint=f"name one of: {', '.join(spec.framework_names(info.frameworks))}")
        if framework not in spec.weights:
            return None
        where, location = f"{where}.{framework}", spec.weights[framework]
    else:
        location = spec.weights
    from raylife.frameworks.model import Recipe
    from raylife.frameworks.weights import check_weights
    from raylife.artifacts import is_uri

    location = location if is_uri(location) or Path(location).is_absolute() else str((base / location).resolve())
    recipe = Recipe(builder=info.builders[framework], input_shape=tuple(facts.input_shape), num_classes=facts.num_classes,
                    framework=framework, model=info.name, options=dict(options), model_args=dict(facts.model_args))
    check_weights(framework, recipe, location, _where(source, where), python_path=python_path)
    return location


@dataclass(frozen=True)
class ModelPlan:
    """One ``[[models]]`` entry resolved: what every trial of it shares, whatever its framework and train axes."""

    suite: SuiteSpec
    source: str  # the suite file, for errors
    key: str  # "models[i]"
    spec: ModelSpec
    info: ModelInfo
    workload: Workload
    facts: DataFacts
    data_spec: DataSpec
    data_options: dict[str, Any]
    data_path: str | None
    options: dict[str, Any]  # the builder's: the model's defaults, then the suite's
    train: TrainSpec
    python_path: tuple[str, ...]

    def where(self, key: str) -> str:
        return _where(self.source, key)

    @property
    def label(self) -> str:
        """The trial name's model part: the name, its options, another workload than the suite's."""
        spec = self.spec
        label = self.info.name + ("[" + ",".join(f"{k}={v}" for k, v in sorted(spec.options.items())) + "]"
                                  if spec.options else "")
        return f"{spec.workload}.{label}" if spec.workload and spec.workload != self.suite.workload else label

    @property
    def stages(self) -> tuple[str, ...]:
        suite = self.suite
        stages = [s for s in DEVELOP_STAGES if not (s == "retrain" and self.train.retrain_epochs == 0)]
        if suite.serve is not None:
            stages += [s for s in DEPLOY_STAGES if (s != "update" or suite.update is not None)
                       and (s != "load" or suite.load is not None)]
        return tuple(stages)


@dataclass(frozen=True)
class Serving:
    """What a framework's trials of one model deploy: the formats persist saves, the served format, the trial's own
    deployment and its serving configurations and search."""

    formats: tuple[str, ...]
    serve_format: str | None = None
    serve: Any = None
    configs: tuple[ServingConfig, ...] = ()
    search: Any = None


def _serving_for(plan: ModelPlan, framework: Any) -> Serving:
    suite = plan.suite
    try:
        formats = tuple(dict.fromkeys(framework.resolve_format(f) for f in suite.persist.formats_for(framework.name)))
    except RaylifeError as exc:
        raise _relocate(exc, plan.where("persist.formats")) from None
    if suite.serve is None:
        return Serving(formats)
    try:
        configs = serving_configs(suite.serve, framework.resolve_format)
        serve_format = configs[0].format if configs else framework.resolve_format(suite.serve.format)
    except RaylifeError as exc:
        raise _relocate(exc, plan.where("serve.format")) from None
    serve, search = suite.serve, None
    if configs:
        serve = configs[0].spec  # the trial's own deployment: the first configuration
        search = search_plan(suite.serve, len(configs), plan.where("serve.search"),
                             suite.load is not None and not suite.load.changing)
    elif suite.serve.search is not None:
        raise PlanError("[serve.search] with one serving configuration: there is nothing to choose among",
                        where=plan.where("serve.search"),
                        hint="give serving settings as lists, e.g. replicas = [1, 2], max_batch_size = [1, 8]")
    for needed in [serve_format, *(c.format for c in configs)]:
        if needed not in formats:
            formats = (*formats, needed)  # replicas load what persist saved
    return Serving(formats, serve_format, serve, tuple(configs), search)


def _check_setting(plan: ModelPlan, setting: dict[str, Any]) -> None:
    """One point of the train axes that can run: a batch that splits over the workers, fp16 only on a GPU."""
    if setting["batch_size"] % setting["num_workers"]:
        raise PlanError(
            f"train.batch_size = {setting['batch_size']} does not divide over num_workers = {setting['num_workers']}: "
            "the batch is global, split evenly over the workers",
            where=plan.where(f"{plan.key}.train" if "batch_size" in plan.spec.train else "train.batch_size"),
            hint=f"use a multiple of {setting['num_workers']}",
        )
    if setting["precision"] == "fp16" and setting["device"] == "cpu":
        raise PlanError(
            "precision fp16 needs a GPU: CPUs have no fp16 training path (autocast on the CPU is bf16)",
            where=plan.where("train.precision"), hint='use "bf16" or "fp32" on the CPU, or device = "gpu"',
        )


def _trials_for(plan: ModelPlan, framework_name: str, start: int) -> list[Trial]:
    """The trials of one model in one framework: one per point of the train axes."""
    try:
        framework = FRAMEWORKS.get(framework_name)
    except RaylifeError as exc:
        raise _relocate(exc, plan.where(f"{plan.key}.frameworks")) from None
    if framework_name not in plan.info.builders:
        raise PlanError(
            f"model '{plan.info.name}' has no {framework_name} implementation",
            where=plan.where(f"{plan.key}.frameworks"),
            hint=f"'{plan.info.name}' supports: {', '.join(plan.info.frameworks)}",
        )
    serving = _serving_for(plan, framework)
    axes = [axis_values(plan.train, axis) for axis in TRAIN_AXES]
    varying = {axis for axis, values in zip(TRAIN_AXES, axes) if len(values) > 1}
    trials = []
    for values in itertools.product(*axes):
        setting = dict(zip(TRAIN_AXES, values))
        _check_setting(plan, setting)
        tags = [f"{AXIS_TAGS.get(a, '')}{setting[a]}" for a in TRAIN_AXES if a in varying and a != "num_workers"]
        trials.append(_trial(plan, framework_name, setting, serving, start + len(trials),
                             TrialName(plan.label, framework_name, setting["num_workers"], tuple(tags))))
    return trials


def _stages_of(plan: ModelPlan, framework: str) -> tuple[str, ...]:
    if plan.facts.sequence_targets and framework not in SERVED_DECODER_FRAMEWORKS:
        return tuple(s for s in plan.stages if s in DEVELOP_STAGES)
    return plan.stages


def _trial(plan: ModelPlan, framework_name: str, setting: dict[str, Any], serving: Serving, index: int,
           key: TrialName) -> Trial:
    suite, train, facts, data_spec, platform = plan.suite, plan.train, plan.facts, plan.data_spec, setting["platform"]
    return Trial(
        index=index,
        key=key,
        workload=plan.workload.name,
        dataset=None if data_spec.format else (data_spec.dataset or plan.workload.default_dataset),
        data_options=plan.data_options,
        model=plan.info.name,
        model_options=plan.options,
        builder=plan.info.builders[framework_name],
        framework=framework_name,
        device=setting["device"],
        precision=setting["precision"],
        checkpoint_upload=setting["checkpoint_upload"],
        num_workers=setting["num_workers"],
        cpus_per_worker=setting["cpus_per_worker"],
        batch_size=setting["batch_size"],
        epochs=1 if train.steps else setting["epochs"],
        steps=train.steps,
        learning_rate=setting["learning_rate"],
        target_accuracy=train.target_accuracy,
        retrain_epochs=train.retrain_epochs,
        formats=serving.formats,
        seed=suite.seed,
        timeout_s=train.timeout_s,
        stages=_stages_of(plan, framework_name),
        serve=serving.serve,
        serve_configs=serving.configs,
        serve_search=serving.search,
        update=suite.update,
        load=suite.load,
        serve_format=serving.serve_format,
        data_format=data_spec.format,
        data_path=plan.data_path,
        data_source=facts.source,
        synthetic_data=facts.synthetic,
        measures_quality=facts.measures_quality,
        streamed=facts.streamed,
        model_args=dict(facts.model_args),
        python_path=plan.python_path,
        custom_model=plan.spec.builders is not None,
        prices=suite.cost.model_dump(),
        platform=platform,
        platform_resources=dict(suite.platforms[platform].resources) if platform else {},
        platform_labels=dict(suite.platforms[platform].labels) if platform else {},
        max_failures=train.max_failures,
        faults=suite.faults,
        tokens_per_sample=int(facts.input_shape[0]) if facts.sequence_targets else None,
        tokens=(suite.tokens or TokensSpec()) if facts.sequence_targets and suite.serve is not None
        and framework_name in SERVED_DECODER_FRAMEWORKS else None,
    )
