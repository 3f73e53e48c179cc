"""What a workload is: its data sources (loaded as numpy, split with a seed) and its models per framework.

Light on purpose (numpy only): the planner reads these descriptors on the driver to validate a suite, and
only the training/serving processes import a model builder, which imports its framework.

Every data source has two functions: ``describe(**options) -> DataFacts`` is cheap (no full load) and runs
on the driver before anything touches the cluster, so a wrong path, layout or column is a one-line error;
``load(**options) -> Dataset`` runs in the workers. On-disk formats receive ``path`` as their first option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from raylife.errors import DataError, PlanError, RaylifeError, close_matches
from raylife.registry import import_object
from raylife.workloads.options import Classes, Length, RandomSamples, check_call_options

# Fractions of the whole data set. "retrain" is a fresh slice the first training never sees,
# used to fine-tune from the checkpoint; "test" is held out from both and scores every model.
SPLIT_FRACTIONS: dict[str, float] = {"test": 0.2, "val": 0.1, "retrain": 0.15}
RANDOM = "random"


@dataclass(frozen=True)
class DataFacts:
    """What the planner and the model builders need to know about a data set, without loading it."""

    input_shape: tuple[int, ...]  # one sample, in the workload's layout (e.g. H, W, C or sequence length)
    num_classes: int
    dtype: str  # numpy dtype of the inputs: "float32" or "int64"
    source: str  # where it comes from, stored with the results
    synthetic: bool = False  # generated data must never be presented as a real benchmark
    measures_quality: bool = True  # False for random inputs: accuracy means nothing there
    streamed: bool = False  # files streamed through Ray Data (workloads.streamed), never loaded whole
    model_args: Mapping[str, Any] = field(default_factory=dict)  # e.g. vocab_size, num_users, num_items
    # "class": one label per sample (y of shape (n,)); "next_token": a label per position, the next token (y of shape
    # (n, seq_len); num_classes is the vocabulary), scored by perplexity beside accuracy
    targets: str = "class"

    @property
    def sequence_targets(self) -> bool:
        return self.targets == "next_token"


@dataclass
class Dataset:
    """A labelled data set in memory, in the workload's canonical layout."""

    x: np.ndarray
    y: np.ndarray
    facts: DataFacts


class FactsView:
    """What every kind of splits tells from its ``facts`` (in memory, generated, or streamed from files)."""

    facts: DataFacts

    @property
    def num_classes(self) -> int:
        return self.facts.num_classes

    @property
    def source(self) -> str:
        return self.facts.source

    @property
    def synthetic(self) -> bool:
        return self.facts.synthetic


@dataclass
class Splits(FactsView):
    """Seeded, stratified train/val/test/retrain splits of one Dataset (random inputs: generated ones, each split's
    inputs a ``generated.GeneratedInputs``, indexed like an array)."""

    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    facts: DataFacts

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays[name]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.arrays["train"][0].shape[1:])

    def sizes(self) -> dict[str, int]:
        return {name: len(y) for name, (_, y) in self.arrays.items()}

    # What every stage reads, the same for splits streamed from files (``streamed.FileSplits``).
    streamed = False

    def labels(self, name: str) -> np.ndarray:
        return self.arrays[name][1]

    def head(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.arrays[name]
        return np.ascontiguousarray(x[:rows]), y[:rows]

    def batches(self, name: str, batch: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        x, y = self.arrays[name]
        for start in range(0, len(y), batch):
            yield x[start : start + batch], y[start : start + batch]


def split_dataset(data: Dataset, seed: int) -> Splits:
    """Split deterministically: the same seed gives the same rows in every process and every rerun."""
    from sklearn.model_selection import train_test_split

    x, y = data.x, data.y
    counts = np.bincount(y, minlength=data.facts.num_classes) if len(y) and y.ndim == 1 else np.array([0])
    # stratifying needs one label per sample and a few samples of every class
    stratify = y.ndim == 1 and counts[counts > 0].min(initial=len(y)) >= 5
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    remaining = 1.0
    for name, fraction in SPLIT_FRACTIONS.items():
        x, x_part, y, y_part = train_test_split(
            x, y, test_size=fraction / remaining, random_state=seed, stratify=y if stratify else None
        )
        arrays[name] = (x_part, y_part)
        remaining -= fraction
    arrays["train"] = (x, y)
    return Splits(arrays=arrays, facts=data.facts)


@dataclass(frozen=True)
class DataSource:
    """A data set a workload trains on: built in (``needs_path=False``) or an on-disk format users bring."""

    name: str
    description: str
    describe: str  # "module:function"(**options) -> DataFacts
    load: str  # "module:function"(**options) -> Dataset
    needs_path: bool = False
    synthetic: bool = False
    # "module:function"(seed=, **options) -> streamed.FileSplits: a file format streamed through Ray Data, never
    # loaded whole (``load`` then serves only small reads outside a trial)
    stream: str | None = None
    # a boolean option that chooses streaming (tables: small files load whole, faster); None: ``stream`` always
    stream_option: str | None = None
    # options naming files beside ``path`` (a tokenizer), resolved like ``data.path``: relative to the suite file
    path_options: tuple[str, ...] = ()

    def streams(self, options: Mapping[str, Any]) -> bool:
        """Whether these options read the source streamed through Ray Data."""
        return self.stream is not None and (self.stream_option is None or bool(options.get(self.stream_option)))

    def facts(self, options: Mapping[str, Any]) -> DataFacts:
        """Check the options, then describe the data; any failure to read it is one DataError."""
        function = import_object(self.describe, what=f"data source '{self.name}'")
        check_call_options(function, options, "data.options", skip=("path",) if self.needs_path else ())
        return self._guarded(function, options)

    def dataset(self, options: Mapping[str, Any]) -> Dataset:
        return self._guarded(import_object(self.load, what=f"data source '{self.name}'"), options)

    def file_splits(self, options: Mapping[str, Any], seed: int) -> Any:
        """The streamed source's splits (lists of files; see ``streamed.FileSplits``)."""
        function = import_object(self.stream, what=f"data source '{self.name}'")
        return self._guarded(lambda **kw: function(seed=seed, **kw), options)

    def _guarded(self, function: Callable[..., Any], options: Mapping[str, Any]) -> Any:
        try:
            return function(**dict(options))
        except RaylifeError:
            raise
        except Exception as exc:  # noqa: BLE001 - parsers raise anything (ArrowInvalid, UnicodeError, pickle, zlib…)
            reason = printable((str(exc).strip().splitlines() or [type(exc).__name__])[0])
            path = options.get("path")
            if path is not None:
                raise DataError(f"cannot read {path} as {self.name}: {reason}", where="data.path",
                                hint=f"check that the file is in {self.name} format, or set data.format") from None
            raise DataError(f"cannot prepare data set '{self.name}': {reason}", where="data.options",
                            hint="check the data set's options") from None


@dataclass(frozen=True)
class ModelInfo:
    """One architecture: a builder per framework (``"module:function"``), its default options, and an
    optional ``check`` (``"module:function"(facts, options) -> str | None``) that rejects inputs it cannot take."""

    name: str
    description: str
    builders: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)
    check: str | None = None

    @property
    def frameworks(self) -> list[str]:
        return sorted(self.builders)

    def problem_with(self, facts: DataFacts, options: Mapping[str, Any]) -> str | None:
        if self.check is None:
            return None
        return import_object(self.check, what=f"input check of model '{self.name}'")(facts, dict(options))


def twin_models(package: str, check: str | None = None) -> Callable[..., ModelInfo]:
    """A ModelInfo maker for a workload whose builders live in ``<package>.torch_models`` and
    ``<package>.tf_models`` under the model's name (the layout every built-in workload uses)."""

    def make(name: str, description: str, check_name: str | None = None, **options: Any) -> ModelInfo:
        return ModelInfo(
            name=name, description=description, options=options,
            builders={"torch": f"{package}.torch_models:{name}", "tensorflow": f"{package}.tf_models:{name}"},
            check=f"{package}.checks:{check_name or check}" if (check_name or check) else None,
        )

    return make


@dataclass(frozen=True)
class Workload:
    """A task: its data sources and the models that solve it."""

    name: str
    task: str
    description: str
    sources: Mapping[str, DataSource]  # built-in data sets and on-disk formats, by the name a suite uses
    default_dataset: str
    models: Mapping[str, ModelInfo]
    random_facts: Callable[..., DataFacts] | None = None  # shape of random inputs for pure speed runs
    # stages this workload runs its own way, by name ("module:Class"): a decoder's deploy and serve stream tokens
    stages: Mapping[str, str] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        names = [n for n, s in self.sources.items() if not s.needs_path]
        return names + ([RANDOM] if self.random_facts else [])

    @property
    def formats(self) -> list[str]:
        return [n for n, s in self.sources.items() if s.needs_path]

    def model(self, name: str) -> ModelInfo:
        if name not in self.models:
            hint = close_matches(name, self.models)
            raise PlanError(
                f"unknown model '{name}' for workload '{self.name}'",
                hint=(hint + " " if hint else "") + f"known models: {', '.join(sorted(self.models))}",
            )
        return self.models[name]

    def source(self, dataset: str | None, fmt: str | None) -> DataSource | None:
        """The source a suite names (None stands for random inputs); PlanError for unknown names."""
        if fmt is not None:
            if fmt not in self.formats:
                hint = close_matches(fmt, self.formats)
                raise PlanError(
                    f"workload '{self.name}' cannot read format '{fmt}'",
                    hint=(hint + " " if hint else "") + f"formats: {', '.join(self.formats) or 'none'}",
                )
            return self.sources[fmt]
        name = dataset or self.default_dataset
        if name == RANDOM and self.random_facts is not None:
            return None
        if name not in self.datasets:
            hint = close_matches(name, self.datasets)
            raise PlanError(
                f"unknown dataset '{name}' for workload '{self.name}'",
                hint=(hint + " " if hint else "") + f"known datasets: {', '.join(self.datasets)}",
            )
        return self.sources[name]

    def facts(self, dataset: str | None, fmt: str | None, options: Mapping[str, Any]) -> DataFacts:
        source = self.source(dataset, fmt)
        if source is None:
            check_call_options(self.random_facts, options, "data.options")
            return self.random_facts(**dict(options))
        facts = source.facts(options)
        return replace(facts, streamed=True) if source.streams(options) else facts

    def load_splits(
        self, dataset: str | None, seed: int, options: Mapping[str, Any] | None = None, fmt: str | None = None
    ) -> Splits:
        source = self.source(dataset, fmt)
        options = dict(options or {})
        if source is None:  # random inputs: generated on demand, never materialised whole
            from raylife.workloads.generated import generated_splits

            return generated_splits(self.random_facts(**options), options, seed)
        if source.streams(options):
            return source.file_splits(options, seed)
        return split_dataset(source.dataset(options), seed)


def random_facts_factory(
    default_shape: tuple[int, ...], dtype: str = "float32", classes: int = 10, model_args: Callable[..., dict] | None = None
) -> Callable[..., DataFacts]:
    """``random_facts`` for a workload: options ``shape``, ``classes``, ``samples`` (and ``high`` for ids)."""

    def facts(shape: list[Length] | None = None, classes: Classes = classes, samples: RandomSamples = 2048,
              high: Annotated[int, Field(ge=2, le=10_000_000)] = 100) -> DataFacts:
        input_shape = tuple(int(v) for v in (shape or default_shape))
        return DataFacts(
            input_shape=input_shape, num_classes=int(classes), dtype=dtype, source=f"random {dtype} inputs {input_shape}",
            synthetic=True, measures_quality=False, model_args=model_args(high) if model_args else {},
        )

    return facts


def printable(text: str, limit: int = 160) -> str:
    """A parser's message fit for one terminal line: a binary file's bytes quoted in it become '?'."""
    clean = "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def require(condition: bool, what: str, where: str, hint: str) -> None:
    """Raise a DataError unless ``condition`` holds (layout checks in describe functions)."""
    if not condition:
        raise DataError(what, where=where, hint=hint)
