"""The suite schema: what a user may write in a suite TOML file.

Pieces the user declares end in ``Spec`` so they never blur with Ray's ScalingConfig/RunConfig.
A field typed ``Axis[...]`` takes one value or a list; a list is a matrix axis that expands into
trials (see ``raylife.plan``). Unknown keys are rejected (``extra="forbid"``).
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

T = TypeVar("T")

# Seeds feed numpy and scikit-learn's splitters, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1
DAY_S = 86_400.0


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _distinct(value: list[Any]) -> list[Any]:
    # Two equal values in an axis would plan two trials with one name (and measure the same thing twice).
    seen: list[Any] = []
    for item in value:
        if item in seen:
            raise ValueError(f"{item!r} is listed twice; each value of a list must differ")
        seen.append(item)
    return value


# One value or a list of distinct values; a list is a matrix axis. Always a non-empty list after validation.
Axis = Annotated[list[T], BeforeValidator(_as_list), Field(min_length=1), AfterValidator(_distinct)]
Distinct = Annotated[list[T], Field(min_length=1), AfterValidator(_distinct)]


def _one_or_list(value: list[Any]) -> Any:
    return value[0] if len(value) == 1 else value


# A serving setting: one value, or a list of distinct values — serving configurations, each deployed and measured in
# turn on the one trained model of a trial (``ServeSpec.configs``), never a new training. Validated as a list (so an
# error names the value), then one value stays one value.
ServeAxis = Annotated[list[T], BeforeValidator(_as_list), Field(min_length=1), AfterValidator(_distinct),
                      AfterValidator(_one_or_list), PlainSerializer(lambda value: value, return_type=Any)]

# Upper bounds keep numbers sane: past them a value is a typo (epochs = 10**15), not an experiment.
Seconds = Annotated[float, Field(gt=0, le=DAY_S)]
SmallCount = Annotated[int, Field(ge=1, le=4096)]  # workers, replicas, clients
BatchSize = Annotated[int, Field(ge=1, le=1_048_576)]
Epochs = Annotated[int, Field(ge=1, le=10_000)]


class StrictModel(BaseModel):
    # allow_inf_nan=False: `learning_rate = inf` or `nan` is refused, not trained with. strict: TOML has real
    # types, so `epochs = true` or `seed = "1"` is an error, not a silent 1.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class DataSpec(StrictModel):
    """Which data the workload trains on: a data set it ships (``dataset``, ``"random"`` for speed runs), or
    files in a format it reads (``format`` + ``path``; a relative path starts at the suite file's folder)."""

    dataset: str | None = Field(default=None, description="a data set of the workload; default: the workload's own")
    format: str | None = Field(default=None, description="an on-disk format the workload reads, e.g. imagefolder, csv")
    path: str | None = Field(default=None, min_length=1, description="where the files are (with format)")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the data set loader")
    on_bad_file: Literal["fail", "skip"] | None = Field(
        default=None, description="a file that does not decode (imagefolder): fail the trial naming it (default), or "
        "skip it, train on the rest and store files_skipped with its name")

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if self.format is not None and self.dataset is not None:
            raise ValueError("give either dataset or format + path, not both")
        if (self.format is None) != (self.path is None):
            raise ValueError("format and path go together")
        return self


class ModelSpec(StrictModel):
    """One architecture, trained in each listed framework.

    ``name`` is a model of the workload, or with ``builders`` a model of your own: one
    ``"package.module:function"`` per framework, called as ``function(input_shape, num_classes, **options)``.
    ``workload``, ``data`` and ``train`` override the suite's for this model only.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    frameworks: Axis[Annotated[str, Field(min_length=1)]] | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="builder keyword arguments, e.g. width")
    builders: dict[str, str] | None = Field(default=None, description="your own model: framework → 'module:function'")
    weights: str | dict[str, str] | None = Field(
        default=None, description="pretrained weights to fine-tune from: a path or URI (PyTorch state_dict, Keras HDF5 "
        "weights), or one per framework: { torch = '...', tensorflow = '...' }")
    workload: str | None = None
    data: DataSpec | None = None
    train: dict[str, Any] = Field(default_factory=dict, description="[train] keys that differ for this model")

    def framework_names(self, available: list[str]) -> list[str]:
        """The frameworks to train in: as listed, else every one the model has a builder for."""
        if self.frameworks is not None:
            return list(self.frameworks)
        if self.builders is not None:
            return list(self.builders)
        return [f for f in ("torch", "tensorflow") if f in available] or available


class TrainSpec(StrictModel):
    """Training through Ray Train. ``batch_size`` is global: split evenly over the workers."""

    epochs: Axis[Epochs] = Field(default_factory=lambda: [5])
    batch_size: Axis[BatchSize] = Field(default_factory=lambda: [64])
    learning_rate: Axis[Annotated[float, Field(gt=0, le=10)]] = Field(default_factory=lambda: [1e-3])
    num_workers: Axis[SmallCount] = Field(default_factory=lambda: [1])
    cpus_per_worker: Axis[Annotated[float, Field(gt=0, le=1024)]] = Field(default_factory=lambda: [1.0])
    device: Axis[Literal["cpu", "gpu"]] = Field(default_factory=lambda: ["cpu"])
    precision: Axis[Literal["fp32", "bf16", "fp16"]] = Field(
        default_factory=lambda: ["fp32"], description="fp32, or mixed precision: bf16 (autocast), fp16 (with a grad scaler)"
    )
    platform: Axis[Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]] | None = Field(
        default=None, description="kinds of node from [platforms]; each one is a matrix value"
    )
    checkpoint_upload: Axis[Literal["sync", "async"]] = Field(
        default_factory=lambda: ["sync"], description="how Ray Train copies a checkpoint to storage_path: sync (the "
        "training loop waits for the copy) or async (a background thread copies; the loop waits only for the save)"
    )
    max_failures: Annotated[int, Field(ge=0, le=100)] = Field(
        default=0, description="worker failures a fit survives (Ray Train FailureConfig): it resumes from its last checkpoint"
    )
    target_accuracy: float | None = Field(default=None, gt=0, le=1)
    retrain_epochs: Annotated[int, Field(ge=0, le=10_000)] = Field(default=1, description="0 skips the retrain stage")
    timeout_s: Annotated[float, Field(gt=0, le=7 * DAY_S)] = Field(default=1800, description="a training run that takes longer fails")
    steps: Annotated[int, Field(ge=1, le=100_000_000)] | None = Field(
        default=None, description="train for this many optimizer steps (global batches) instead of epochs: one pass "
        "over the data as often as it takes, recorded as one epoch; for cost runs at reference scale"
    )

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> TrainSpec:
        if self.steps is not None and "epochs" in self.model_fields_set:
            raise ValueError(f"give steps or epochs, not both (steps = {self.steps}, epochs = {self.epochs})")
        return self


class PersistSpec(StrictModel):
    """Storage formats to save, reload and compare. ``native`` is each framework's own format.

    A list applies to every framework; a table gives each framework its own list,
    e.g. ``formats = { torch = ["native", "onnx"], tensorflow = ["native", "savedmodel"] }``.
    """

    formats: Distinct[str] | dict[str, Distinct[str]] = Field(default_factory=lambda: ["native"])

    def formats_for(self, framework: str) -> list[str]:
        if isinstance(self.formats, dict):
            return list(self.formats.get(framework, ["native"]))
        return list(self.formats)


DEFAULT_REQUESTS = 200
# The serving settings a list turns into configurations, in the order their combinations are measured.
SERVE_AXES = ("replicas", "cpus_per_replica", "gpus_per_replica", "max_batch_size", "batch_wait_timeout_s",
              "max_ongoing_requests", "format")
MAX_SERVING_CONFIGS = 256  # each is a deploy and a measurement of minutes: more is a typo, not a plan


# What a serving-configuration search may optimise or bound: the headline figures of the ``serving_configs`` view.
SEARCH_FIGURES = ("max_rps_at_slo", "peak_samples_per_s", "peak_throughput_rps", "p50_ms_small", "p99_ms_small",
                  "usd_per_million_predictions", "replica_rss_mb", "deploy_ready_s")


class ServeSearchSpec(StrictModel):
    """How the serving configurations are chosen: every combination in order (``grid``), or a guided search by one
    of Ray Tune's search algorithms, which proposes the next configuration from the figures of those measured."""

    algorithm: Literal["grid", "optuna", "random"] = Field(
        default="grid", description="grid: every combination; optuna: Tune's OptunaSearch (TPE); random: Tune's "
        "OptunaSearch with a random sampler (the baseline a guided search must beat)")
    objective: str = Field(default="max_rps_at_slo", description=f"the figure to optimise: {', '.join(SEARCH_FIGURES)}")
    mode: Literal["max", "min"] | None = Field(default=None, description="default: the objective's better side")
    per_cpu: bool = Field(default=False, description="divide the objective by the configuration's replica CPUs")
    max_configs: Annotated[int, Field(ge=1, le=4096)] | None = Field(
        default=None, description="configurations measured at most (default: all for grid, 30% of them guided)")
    constraints: dict[str, float | str] = Field(
        default_factory=dict, description="upper limits, e.g. { p99_ms_small = \"50ms\", replica_rss_mb = \"2GiB\" }: "
        "a configuration past one scores nothing, and is stopped as soon as a figure shows it")
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    confirm_top: Annotated[int, Field(ge=0, le=16)] = Field(
        default=3, description="before naming the best configuration, measure this many of the best again in fresh "
        "windows and rank them on those figures (0: rank on the first measurement; the best of many noisy figures "
        "is mostly luck)")

    @model_validator(mode="after")
    def _known_figures(self) -> ServeSearchSpec:
        for name in (self.objective, *self.constraints):
            if name not in SEARCH_FIGURES:
                raise ValueError(f"'{name}' names no serving figure; one of: {', '.join(SEARCH_FIGURES)}")
        return self


class AutoscalingSpec(StrictModel):
    """``[serve.autoscaling]``: Serve's ``AutoscalingConfig`` (Ray 2.60's names; unset ones keep Serve's defaults),
    and the fixed-replica baseline raylife measures under the same load beside it."""

    min_replicas: SmallCount = Field(default=1, description="fewest replicas (scale to zero is not measured yet)")
    max_replicas: SmallCount = 1
    initial_replicas: SmallCount | None = Field(default=None, description="replicas at deploy (Serve's default: min_replicas)")
    target_ongoing_requests: Annotated[float, Field(gt=0, le=100_000)] | None = Field(
        default=None, description="requests running and queued per replica that Serve scales towards (Serve's default: 2)")
    upscale_delay_s: Annotated[float, Field(ge=0, le=DAY_S)] | None = Field(
        default=None, description="load must stay high this long before Serve adds replicas (Serve's default: 30 s)")
    downscale_delay_s: Annotated[float, Field(ge=0, le=DAY_S)] | None = Field(
        default=None, description="load must stay low this long before Serve removes replicas (Serve's default: 600 s)")
    look_back_period_s: Annotated[float, Field(gt=0, le=DAY_S)] | None = Field(
        default=None, description="the window Serve averages the load over (Serve's default: 30 s)")
    metrics_interval_s: Annotated[float, Field(gt=0, le=DAY_S)] | None = Field(
        default=None, description="how often replicas and routers send their load to the controller (Serve's default: "
        "10 s; deprecated in Ray 2.60 for environment variables, still honoured)")
    upscaling_factor: Annotated[float, Field(gt=0, le=100)] | None = None
    downscaling_factor: Annotated[float, Field(gt=0, le=100)] | None = None
    aggregation_function: Literal["mean", "max", "min"] | None = None
    baseline_replicas: SmallCount | None = Field(
        default=None, description="also measure this many fixed replicas under the same load (the baseline that "
        "replica_seconds and the SLO misses compare against)")

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSpec:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas = {self.max_replicas} is below min_replicas = {self.min_replicas}")
        if self.look_back_period_s is not None and self.look_back_period_s <= (self.metrics_interval_s or 10.0):
            raise ValueError(f"look_back_period_s = {self.look_back_period_s:g} must exceed metrics_interval_s "
                             f"({self.metrics_interval_s or 10.0:g}, Serve's default 10 when unset): the window would "
                             "hold at most one report of the load")
        if self.initial_replicas is not None and not self.min_replicas <= self.initial_replicas <= self.max_replicas:
            raise ValueError(f"initial_replicas = {self.initial_replicas} is outside min_replicas .. max_replicas "
                             f"({self.min_replicas} .. {self.max_replicas})")
        return self

    def serve_config(self) -> dict[str, Any]:
        """Serve's ``autoscaling_config``: the settings given, under Serve's own names."""
        return self.model_dump(exclude={"baseline_replicas"}, exclude_none=True)

    @property
    def start_replicas(self) -> int:
        return self.initial_replicas or self.min_replicas

    @property
    def key(self) -> str:
        return f"auto{self.min_replicas}-{self.max_replicas}"


class ServeSpec(StrictModel):
    """Deploy the trained model on Ray Serve and measure latency and throughput under load.

    ``batch_sizes`` (samples per request) x ``concurrency`` (clients in a closed loop) is swept inside
    the trial, on one deployment. ``max_batch_size`` > 1 turns on server-side batching (``@serve.batch``).
    """

    # A list in any of the next seven settings makes serving configurations: every combination is deployed, measured
    # and deleted in turn on the trial's one trained model (see ``configs``).
    format: ServeAxis[Annotated[str, Field(min_length=1)]] = Field(default="native", description="storage format the replicas load")
    replicas: ServeAxis[SmallCount] = 1
    cpus_per_replica: ServeAxis[Annotated[float, Field(gt=0, le=1024)]] = 0.5
    device: Literal["cpu", "gpu"] | None = Field(default=None, description="where replicas run; default: the trial's device")
    gpus_per_replica: ServeAxis[Annotated[float, Field(gt=0, le=64)]] = Field(
        default=1.0, description="with device gpu: fractions let several replicas share a GPU"
    )
    max_batch_size: ServeAxis[Annotated[int, Field(ge=1, le=65_536)]] = Field(default=1, description="1 = no server-side batching")
    batch_wait_timeout_s: ServeAxis[Annotated[float, Field(ge=0, le=60)]] = 0.005
    max_ongoing_requests: ServeAxis[Annotated[int, Field(ge=1, le=100_000)]] = 32
    batch_sizes: Distinct[Annotated[int, Field(ge=1, le=65_536)]] = Field(default_factory=lambda: [1, 8, 32])
    concurrency: Distinct[SmallCount] = Field(default_factory=lambda: [1, 4])
    requests: Annotated[int, Field(ge=1, le=10_000_000)] | None = Field(
        default=None, description="measured requests per batch size x concurrency (default 200)")
    duration_s: Seconds | None = Field(default=None, description="instead of a request count")
    warmup_requests: Annotated[int, Field(ge=0, le=1_000_000)] = 20
    paths: Distinct[Literal["http", "handle"]] = Field(default_factory=lambda: ["http"])
    host: str = Field(default="127.0.0.1", min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    request_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30
    ready_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 180
    repeats: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1, description="measure every cell this often on the same deployment (no retraining): confidence intervals"
    )
    stable_windows: Annotated[int, Field(ge=1, le=100)] = Field(
        default=3, description="a cell measures windows of `requests` (or duration_s) until this many in a row agree"
    )
    max_windows: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=6, description="windows before a cell that never agreed is stored with stable = 0"
    )
    stability_tolerance: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.10, description="windows agree when throughput and p99 are each within this fraction of their mean"
    )
    # Serve's own settings for a stopping replica. Unset, Serve's defaults apply (and are what teardown_s and a
    # rollout's figures measure): a stopping replica checks for requests still running every 2 s, so a teardown takes
    # at least 2 s even when idle.
    graceful_shutdown_wait_loop_s: Annotated[float, Field(gt=0, le=3600)] | None = Field(
        default=None, description="how often a stopping replica checks for unfinished requests (Serve's default: 2 s)")
    graceful_shutdown_timeout_s: Annotated[float, Field(ge=0, le=3600)] | None = Field(
        default=None, description="the longest a stopping replica waits for unfinished requests (Serve's default: 20 s)")

    search: ServeSearchSpec | None = Field(default=None, description="[serve.search]: how configurations are chosen")
    autoscaling: AutoscalingSpec | None = Field(
        default=None, description="[serve.autoscaling]: Serve adds and removes replicas with the load (instead of replicas)")

    @property
    def start_replicas(self) -> int:
        """Replicas running once deployed: the fixed count, or the autoscaler's initial one."""
        return self.autoscaling.start_replicas if self.autoscaling else self.replicas

    @property
    def most_replicas(self) -> int:
        """The most replicas this deployment may run (what must fit the cluster)."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas

    def axes(self) -> dict[str, list[Any]]:
        """The serving settings given as lists of more than one value, by name, in SERVE_AXES order."""
        return {a: v for a in SERVE_AXES if isinstance(v := getattr(self, a), list) and len(v) > 1}

    def configs(self) -> list[ServeSpec]:
        """Every combination of the listed settings, each a ServeSpec of single values (the first is the trial's
        own: its update and every single-configuration view read it)."""
        values = [v if isinstance(v := getattr(self, a), list) else [v] for a in SERVE_AXES]
        combos = [self.model_copy(update=dict(zip(SERVE_AXES, combo))) for combo in itertools.product(*values)]
        scaling = self.autoscaling
        if scaling is None or scaling.baseline_replicas is None:
            return combos
        # each combination autoscaled, then with the baseline's fixed replicas under the same load
        return [c for combo in combos
                for c in (combo, combo.model_copy(update={"autoscaling": None, "replicas": scaling.baseline_replicas}))]

    @property
    def has_baseline(self) -> bool:
        return self.autoscaling is not None and self.autoscaling.baseline_replicas is not None

    def graceful_shutdown(self) -> dict[str, float]:
        """The graceful-shutdown settings this suite sets, as Serve's deployment options name them."""
        return self.model_dump(include={"graceful_shutdown_wait_loop_s", "graceful_shutdown_timeout_s"}, exclude_none=True)

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> ServeSpec:
        if self.autoscaling is not None and "replicas" in self.model_fields_set:
            raise ValueError("replicas and [serve.autoscaling] are both set: with autoscaling, Serve chooses the "
                             "replica count between min_replicas and max_replicas; remove replicas (a fixed-replica "
                             "baseline under the same load is autoscaling.baseline_replicas)")
        return self

    @model_validator(mode="after")
    def _few_configs(self) -> ServeSpec:
        count = math.prod(len(v) for v in self.axes().values()) * (2 if self.has_baseline else 1)
        if count > MAX_SERVING_CONFIGS:
            raise ValueError(f"{count} serving configurations ({' x '.join(str(len(v)) for v in self.axes().values())});"
                             f" at most {MAX_SERVING_CONFIGS} are measured one after another in a trial")
        return self

    @model_validator(mode="after")
    def _requests_or_duration(self) -> ServeSpec:
        if self.max_windows < self.stable_windows:
            raise ValueError(f"max_windows = {self.max_windows} is below stable_windows = {self.stable_windows}: "
                             "a cell could never be stable")
        if self.requests is not None and self.duration_s is not None:
            raise ValueError("give requests or duration_s, not both: each serve cell stops at one of them")
        if self.requests is None and self.duration_s is None:
            object.__setattr__(self, "requests", DEFAULT_REQUESTS)  # frozen model: set once, while validating
        return self


class UpdateSpec(StrictModel):
    """Roll the retrained model out while a client keeps sending ``rate_rps`` requests per second.

    ``reconfigure`` loads new weights into the live replicas (Serve ``user_config``); ``rollout``
    deploys a new version that Serve replaces replica by replica.
    """

    strategies: Distinct[Literal["reconfigure", "rollout"]] = Field(default_factory=lambda: ["reconfigure", "rollout"])
    rate_rps: Annotated[float, Field(gt=0, le=100_000)] = 20
    batch_size: Annotated[int, Field(ge=1, le=65_536)] = 1
    before_s: Annotated[float, Field(gt=0, le=3600)] = Field(default=2.0, description="steady load before the update (the p99 baseline)")
    settle_s: Annotated[float, Field(gt=0, le=3600)] = Field(default=1.0, description="only new answers for this long ends the update")
    max_surge_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        default=0,
        description="Serve's extra replicas during a rollout; 0 (Serve's default) stops old replicas first",
    )
    timeout_s: Seconds = 120


class SweepSpec(StrictModel):
    """Offered rates that climb from ``start`` by ``factor`` until the service saturates or ``max`` is passed."""

    start: Annotated[float, Field(gt=0, le=1_000_000)] = 5.0
    factor: Annotated[float, Field(gt=1, le=100)] = 2.0
    max: Annotated[float, Field(gt=0, le=1_000_000)] = 5000.0
    refine: Annotated[int, Field(ge=0, le=6)] = Field(
        default=0, description="after the sweep saturates, halve (geometrically) the step between the highest rate "
        "kept and the first that broke this many times: max_rps_at_slo to within factor^(1/2^refine) instead of a step "
        "(factor 1.15, refine 2: 3.6%)")

    @model_validator(mode="after")
    def _bounds(self) -> SweepSpec:
        if self.max < self.start:
            raise ValueError(f"max = {self.max:g} is below start = {self.start:g}")
        return self


class ProfileStep(StrictModel):
    """One part of a load profile: ``rps`` for ``s`` seconds, or (``ramp = true``) a straight line from the rate
    before it (0 for the first) to ``rps`` over ``s`` seconds."""

    rps: Annotated[float, Field(ge=0, le=1_000_000)]
    s: Annotated[float, Field(gt=0, le=DAY_S)]
    ramp: bool = False


class LoadSpec(StrictModel):
    """Open-loop load to the latency limit (MLPerf Server): requests arrive on a schedule, whatever the answers do.

    Each offered rate runs for ``duration_s``; latency counts from each request's *scheduled* send time, so a
    client or server that falls behind shows as queueing delay instead of hiding it (no coordinated omission).
    """

    slo_p99_ms: Annotated[float, Field(gt=0, le=3_600_000)] = Field(
        description="the latency limit: goodput counts answers within it; max_rps_at_slo is the highest offered "
        "rate whose p99 stays within it"
    )
    arrival: Literal["poisson", "uniform", "gamma"] = Field(
        default="poisson", description="inter-arrival times: exponential (Poisson), fixed, or gamma (burstiness)"
    )
    burstiness: Annotated[float, Field(gt=0, le=100)] = Field(
        default=1.0, description="gamma shape for arrival = gamma: < 1 burstier than Poisson, > 1 smoother"
    )
    rates: Distinct[Annotated[float, Field(gt=0, le=1_000_000)]] | None = Field(
        default=None, description="offered requests/s, each measured (instead of a sweep)"
    )
    sweep: SweepSpec | None = Field(default=None, description="climb until saturation (default when rates is not given)")
    duration_s: Annotated[float, Field(gt=0, le=3600)] = Field(default=5.0, description="per offered rate, at least")
    max_duration_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=30.0, description="the longest window at one rate: a window lasts long enough for the answers a p99 "
        "verdict needs at 99% confidence (MLPerf's early stopping: 459), up to this; a rate whose window holds fewer "
        "is stored as undecided, never as meeting the SLO")
    confirm: Annotated[int, Field(ge=0, le=5)] = Field(
        default=0, description="windows measured again at a rate that broke the SLO (p99, a failed request, or "
        "achieved below 90% of offered) before the sweep stops there; the last window at a rate decides it, so one "
        "spike in one window — a pause on a shared machine — does not end the sweep low. 1 or 2 on a busy machine")
    batch_size: Annotated[int, Field(ge=1, le=65_536)] = 1
    max_in_flight: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=1024, description="connections the client may hold open; a request beyond them waits and counts late"
    )
    profile: list[ProfileStep] | None = Field(
        default=None, min_length=1, description="a changing load, sent once: steps and ramps, e.g. "
        "[{ rps = 20, s = 20 }, { rps = 150, s = 40 }, { rps = 20, s = 60 }] (instead of rates or a sweep)")
    trace: str | None = Field(
        default=None, min_length=1, description="a CSV of send times in seconds (first column, sorted, from 0 up) and "
        "optionally each request's batch size (second column), replayed once; relative to the suite file")

    @model_validator(mode="after")
    def _rates_or_sweep(self) -> LoadSpec:
        given = [k for k in ("rates", "sweep", "profile", "trace") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of rates, sweep, profile or trace, not {' and '.join(given)}")
        if self.profile is not None and not any(step.rps > 0 for step in self.profile):
            raise ValueError("every step of the profile offers 0 requests/s: nothing would be sent")
        if self.confirm and (self.profile is not None or self.trace is not None):
            raise ValueError("confirm re-measures a rate of a sweep or of rates; a profile or a trace is sent once")
        if self.max_duration_s < self.duration_s:
            raise ValueError(f"max_duration_s = {self.max_duration_s:g} is shorter than duration_s = {self.duration_s:g}")
        if not given:
            object.__setattr__(self, "sweep", SweepSpec())
        return self

    def window_s(self, rate: float) -> float:
        """How long to offer ``rate``: long enough for a p99 verdict's answers (20% spare for a Poisson draw's
        shortfall), at least ``duration_s``, at most ``max_duration_s``."""
        from raylife.measure.stats import early_stopping_answers

        wanted = 1.2 * early_stopping_answers(0.99) / rate
        return min(self.max_duration_s, max(self.duration_s, wanted))

    @property
    def changing(self) -> bool:
        """A profile or a trace: one run of a changing load (timeline and scaling figures), not a rate sweep."""
        return self.profile is not None or self.trace is not None


class CostSpec(StrictModel):
    """Prices the ``costs`` view multiplies measured times and held resources by. Inputs, not measurements:
    the defaults are AWS on-demand list prices (us-east-1): m6i.large $0.096/h for 2 vCPUs, g5.xlarge (one A10G)
    $1.006/h. Put your own here."""

    cpu_hour_usd: Annotated[float, Field(ge=0, le=10_000)] = 0.048
    gpu_hour_usd: Annotated[float, Field(ge=0, le=10_000)] = 1.006


class PlatformSpec(StrictModel):
    """A kind of node, named in ``train.platform``: the Ray custom resources each worker and replica takes there,
    and/or the node labels they must run on (``ray start --resources / --labels``, KubeRay ``rayStartParams``)."""

    resources: dict[Annotated[str, Field(min_length=1)], Annotated[float, Field(gt=0, le=1_000_000)]] = Field(
        default_factory=dict, description='per worker and per replica, e.g. { large_node = 1 }'
    )
    labels: dict[Annotated[str, Field(min_length=1)], Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description='node labels, e.g. { "node-type" = "large" }'
    )

    @model_validator(mode="after")
    def _selects_something(self) -> PlatformSpec:
        if not self.resources and not self.labels:
            raise ValueError("a platform needs resources or labels to select its nodes")
        return self


class FaultsSpec(StrictModel):
    """Failures injected on purpose, the same in every run, to measure recovery."""

    kill_worker_at_epoch: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="the training worker exits when this epoch (1-based) ends, once per fit of train"
    )
    kill_worker_rank: Annotated[int, Field(ge=0, le=4095)] = 0
    kill_replica_after_s: Annotated[float, Field(gt=0, le=3600)] | None = Field(
        default=None, description="one serving replica is killed this long into the replica-fault window (after the "
        "serve stage's closed-loop cells), while the open-loop client offers replica_load_rps"
    )
    replica_load_rps: Annotated[float, Field(gt=0, le=100_000)] = Field(
        default=20, description="requests/s the open-loop client offers through the replica-fault window (batch 1)"
    )

    @model_validator(mode="after")
    def _injects_something(self) -> FaultsSpec:
        if self.kill_worker_at_epoch is None and self.kill_replica_after_s is None:
            raise ValueError("set kill_worker_at_epoch and/or kill_replica_after_s")
        return self


class RunSpec(StrictModel):
    """Where artifacts go and how many trials run at once. On a multi-node cluster storage_path must be a
    folder every node sees (NFS, EFS, a shared volume), as Ray Train requires for checkpoints."""

    max_concurrent_trials: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=1, description="trials side by side (through Ray Tune); 1 runs them one after another"
    )
    max_concurrent_serving: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=1, description="trials in their deploy/serve/update/teardown stages at once (latency is measured there)"
    )

    storage_path: str = Field(default="./raylife-artifacts", min_length=1)
    python_path: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="folders (relative to the suite file) holding your own model modules; added to sys.path "
        "on the driver and to PYTHONPATH (or shipped, on a cluster) for workers and replicas",
    )


class TokensSpec(StrictModel):
    """A decoder served token by token (``workload = "generative"`` with ``[serve]``): closed-loop streams over
    OpenAI's ``/v1/completions``, each request a held-out row's first ``prompt_tokens`` tokens, ``max_tokens``
    generated greedily; per concurrency level TTFT, ITL, TPOT and E2E, output tokens per second, and goodput under
    the TTFT and TPOT limits."""

    prompt_tokens: Annotated[int, Field(ge=1, le=131_072)] = Field(default=16, description="tokens per prompt")
    max_tokens: Annotated[int, Field(ge=1, le=131_072)] = Field(default=16, description="tokens generated per request")
    concurrency: Distinct[SmallCount] = Field(default_factory=lambda: [1, 4], description="streams at once, one cell each")
    requests_per_stream: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=4, description="requests each stream sends in a cell")
    batching: Literal["none", "continuous"] = Field(
        default="continuous", description="none: each stream decodes alone; continuous: a replica's streams share "
        "each decoding step")
    slo_ttft_ms: Annotated[float, Field(gt=0, le=3_600_000)] | None = Field(
        default=None, description="goodput counts requests whose time to first token is within this")
    slo_tpot_ms: Annotated[float, Field(gt=0, le=3_600_000)] | None = Field(
        default=None, description="and whose time per output token is within this")
    rates: Distinct[Annotated[float, Field(gt=0, le=100_000)]] | None = Field(
        default=None, description="open loop: offered request rates (requests/s), each a cell of Poisson arrivals")
    requests_per_rate: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=16, description="requests sent at each offered rate")
    max_concurrency: SmallCount | None = Field(
        default=None, description="open loop: at most this many requests in flight (vLLM's --max-concurrency); a "
        "request due meanwhile waits, and its wait counts in its TTFT")


class SuiteSpec(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    workload: str
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="data split, shuffling and initialisation")
    repeats: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1, description="run every trial this often: each metric gets a median and a 95% confidence interval"
    )
    data: DataSpec = Field(default_factory=DataSpec)
    models: list[ModelSpec] = Field(min_length=1)
    train: TrainSpec = Field(default_factory=TrainSpec)
    persist: PersistSpec = Field(default_factory=PersistSpec)
    serve: ServeSpec | None = None
    update: UpdateSpec | None = None
    load: LoadSpec | None = None
    tokens: TokensSpec | None = None
    cost: CostSpec = Field(default_factory=CostSpec)
    run: RunSpec = Field(default_factory=RunSpec)
    platforms: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")], PlatformSpec] = Field(default_factory=dict)
    faults: FaultsSpec | None = None
