"""TensorFlow backend: TensorflowTrainer wiring, storage formats, prediction. Cluster processes only.

Every process importing this has TF_USE_LEGACY_KERAS=1 from its start (see the Framework's env_vars),
so ``tf.keras`` is tf_keras (Keras 2), the Keras that trains under MultiWorkerMirroredStrategy.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from raylife.frameworks.backend import Backend, ModelFormat, Predictor
from raylife.frameworks.model import ModelFacts, Recipe
from raylife.frameworks.tensorflow import FRAMEWORK
from raylife.measure.memory import GpuMemoryPeak
from raylife.registry import import_object

KERAS_FILE = "model.keras"
H5_FILE = "model.h5"
SAFETENSORS_FILE = "model.safetensors"


def _save_without_optimizer(model: tf.keras.Model, path: Path, save_format: str) -> None:
    """Save ``model`` without its optimizer: nothing loads its state (checkpoints load with compile=False and
    training compiles a fresh one), and with it a ResNet-50 file is 3x the bytes (270 vs 90 MiB) and loads 8x slower
    (66.8 s vs 8.2 s here: tf_keras rebuilds every slot variable)."""
    optimizer = getattr(model, "optimizer", None)
    model.optimizer = None
    try:
        model.save(str(path), save_format=save_format)
    finally:
        model.optimizer = optimizer


def tf_device(device: str) -> str:
    """raylife's "cpu"/"gpu" as a TensorFlow device name; a clear error where TensorFlow sees no GPU."""
    if device != "gpu":
        return "/CPU:0"
    if not tf.config.list_physical_devices("GPU"):
        raise RuntimeError("device = gpu, but TensorFlow sees no GPU here (install tensorflow[and-cuda] on GPU nodes)")
    return "/GPU:0"


def _placed(fn: Predictor, device: str) -> Predictor:
    name = tf_device(device)

    def predict(x: np.ndarray) -> np.ndarray:
        with tf.device(name):
            return fn(x)

    return predict


class KerasFormat(ModelFormat):
    name = "keras"

    def save(self, model: tf.keras.Model, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        # "keras_v3", not the default: tf_keras decides the format of a '.keras' path by a thread-local flag that its
        # own load and save leave False in any thread but the one that imported it, and then writes HDF5 under the
        # '.keras' name (the trial's actor runs its calls in a thread pool: after evaluate's load, persist saved HDF5).
        _save_without_optimizer(model, directory / KERAS_FILE, "keras_v3")
        recipe.write(directory)  # names the builder module to import (custom layers) before loading

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        model = _load_keras(directory)  # a model trained under a mixed policy keeps it: it serves at that precision
        return _placed(lambda x: TensorflowBackend().predict(model, x), device)


class H5Format(ModelFormat):
    name = "h5"

    def save(self, model: tf.keras.Model, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        _save_without_optimizer(model, directory / H5_FILE, "h5")
        recipe.write(directory)

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        import_object(Recipe.read(directory).builder, what="model builder")  # registers custom layers
        model = tf.keras.models.load_model(str(directory / H5_FILE), compile=False)
        return _placed(lambda x: TensorflowBackend().predict(model, x), device)


class SafetensorsFormat(ModelFormat):
    """The weights as a safetensors file, a tensor per variable in the model's order with its name (no pickle, no
    HDF5), rebuilt from the recipe; loading checks every count and shape before it assigns anything."""

    name = "safetensors"

    def save(self, model: tf.keras.Model, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        from safetensors.numpy import save_file

        save_file({_variable_key(i, v): np.ascontiguousarray(v.numpy()) for i, v in enumerate(model.weights)},
                  str(directory / SAFETENSORS_FILE))
        recipe.write(directory)

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        from safetensors.numpy import load_file

        model = TensorflowBackend().build_model(Recipe.read(directory))
        stored = load_file(str(directory / SAFETENSORS_FILE))
        by_index = {int(key.split("/", 1)[0]): value for key, value in stored.items()}
        if sorted(by_index) != list(range(len(model.weights))):
            raise ValueError(f"{directory / SAFETENSORS_FILE} holds {len(stored)} tensors, the model "
                             f"{len(model.weights)}")
        for i, variable in enumerate(model.weights):
            if tuple(by_index[i].shape) != tuple(variable.shape):
                raise ValueError(f"tensor {_variable_key(i, variable)} is {by_index[i].shape} in the file, "
                                 f"{tuple(variable.shape)} in the model")
        for i, variable in enumerate(model.weights):
            variable.assign(by_index[i])
        return _placed(lambda x: TensorflowBackend().predict(model, x), device)


def _variable_key(index: int, variable: tf.Variable) -> str:
    """A variable's key in the file: its place among the model's weights (Keras numbers auto-named layers per
    process, so a rebuilt model's names differ: ``conv2d_2`` for ``conv2d``), then its name to read by."""
    return f"{index:05d}/{variable.name.split(':')[0]}"


class SavedModelFormat(ModelFormat):
    name = "savedmodel"

    def save(self, model: tf.keras.Model, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        model.export(str(directory / "savedmodel"))  # a `serve` endpoint with a dynamic batch dimension

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        loaded = tf.saved_model.load(str(directory / "savedmodel"))  # must stay referenced: it owns the variables
        return _placed(lambda x: np.asarray(loaded.serve(tf.constant(x))).astype(np.float32), device)


class TensorflowBackend(Backend):
    framework = FRAMEWORK
    formats = {f.name: f for f in (KerasFormat(), H5Format(), SafetensorsFormat(), SavedModelFormat())}
    trainer = "ray.train.tensorflow:TensorflowTrainer"
    train_loop = "raylife.frameworks.tensorflow.train_loop:train_loop"

    def set_threads(self, threads: int) -> None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, int(threads)))
        except RuntimeError:
            pass  # the runtime is already initialised in this (reused) process; it keeps its first setting

    def gpu_visible(self) -> bool:
        return bool(tf.config.list_physical_devices("GPU"))

    def gpu_memory_peak(self) -> GpuMemoryPeak:
        if not tf.config.list_physical_devices("GPU"):
            return GpuMemoryPeak()
        try:  # TensorFlow's allocator counts what tensors hold; it has no separate reserve figure
            return GpuMemoryPeak(allocated_mb=tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20)
        except (ValueError, RuntimeError):  # the GPU was never initialised in this process
            return GpuMemoryPeak()

    def predict(self, model: tf.keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        # Direct calls rather than model.predict, which builds a tf.data pipeline per call: the same
        # plain forward pass the PyTorch backend times.
        parts = [np.asarray(model(x[i : i + batch_size], training=False)).astype(np.float32)
                 for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def weights_problem(self, model: tf.keras.Model, path: Path) -> str | None:
        """Keras' HDF5 weights: the legacy layout (``save_weights("x.h5")``: layer names and weight names in
        attributes) is compared layer by layer in order, by shape, as it loads; the current one (``"x.weights.h5"``)
        is loaded into the model, and Keras' own refusal names the variable. A Hugging Face model folder (a
        decoder's: config.json + model.safetensors) is copied into the twin by name, which names any tensor that
        does not fit."""
        import h5py

        if path.is_dir():
            from raylife.errors import RaylifeError

            try:
                self.load_weights(model, path)
            except RaylifeError as exc:
                return exc.what
            return None

        try:
            with h5py.File(path, "r") as f:
                legacy = "layer_names" in f.attrs
                stored = [] if not legacy else [
                    (layer, [(w.decode() if isinstance(w, bytes) else str(w), tuple(f[layer][w].shape))
                             for w in f[layer].attrs["weight_names"]])
                    for layer in (n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs["layer_names"])]
                current = "layers" in f or "vars" in f
        except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError…: not Keras' HDF5 weights
            return f"not a Keras HDF5 weights file ({type(exc).__name__}; save it with model.save_weights('x.weights.h5'))"
        if legacy:
            return _legacy_mismatch(model, [(layer, weights) for layer, weights in stored if weights])
        if not current:
            return "not a Keras HDF5 weights file (no layers in it; save it with model.save_weights('x.weights.h5'))"
        try:
            model.load_weights(str(path))
        except Exception as exc:  # noqa: BLE001 - Keras raises ValueError or TypeError
            message = " ".join(str(exc).split())
            found = re.search(r"variable '\s*([^']+)': Shape mismatch\.\s*The variable shape (\([^)]*\)), and the "
                              r"assigned value shape (\([^)]*\))", message)
            if found:
                return f"tensor '{found.group(1)}': the file has shape {found.group(3)}, the model {found.group(2)}"
            return message[:300]
        return None

    def load_weights(self, model: tf.keras.Model, path: Path) -> None:
        if path.is_dir():
            from raylife.workloads.generative.convert import load_hf_state
            from raylife.workloads.generative.hf_folder import read_folder

            folder = read_folder(path)
            load_hf_state(model, folder.state, transpose_linear=folder.model == "llama")  # nn.Linear is (out, in)
            return
        model.load_weights(str(path))

    def count_params(self, model: tf.keras.Model) -> int:
        return int(sum(np.prod(w.shape) for w in model.trainable_weights))

    def model_facts(self, model: tf.keras.Model, sample: np.ndarray) -> ModelFacts:
        return ModelFacts(
            params=self.count_params(model),
            flops_per_sample=_graph_flops(model, sample[:1]),
            model_memory_bytes=float(sum(np.prod(w.shape) * w.dtype.size for w in model.weights)),
        )

    def load_checkpoint(self, directory: str | Path) -> tf.keras.Model:
        return _load_keras(Path(directory))


def _legacy_mismatch(model: tf.keras.Model, stored: list[tuple[str, list[tuple[str, tuple[int, ...]]]]]) -> str | None:
    """The first difference between a legacy HDF5 file's layers with weights and the model's, in order."""
    layers = [layer for layer in model.layers if layer.weights]
    for i, layer in enumerate(layers):
        if i >= len(stored):
            return f"layer '{layer.name}' ({layer.weights[0].name}) of the model is not in the file"
        name, weights = stored[i]
        if len(weights) != len(layer.weights):
            return f"layer '{name}' of the file has {len(weights)} tensors, the model's '{layer.name}' {len(layer.weights)}"
        for (stored_name, shape), variable in zip(weights, layer.weights):
            if shape != tuple(variable.shape):
                return f"tensor '{stored_name}': the file has shape {shape}, the model {tuple(variable.shape)}"
    if len(stored) > len(layers):
        return f"layer '{stored[len(layers)][0]}' of the file is not in the model"
    return None


def _load_keras(directory: Path) -> tf.keras.Model:
    """Load a .keras file after importing its builder's module, which registers any custom layers it uses."""
    if Recipe.present(directory):
        import_object(Recipe.read(directory).builder, what="model builder")
    return load_keras_archive(directory / KERAS_FILE)


ARCHIVE_CONFIG, ARCHIVE_WEIGHTS = "config.json", "model.weights.h5"


def load_keras_archive(path: Path) -> tf.keras.Model:
    """``load_model(path, compile=False)`` of a ``.keras`` archive, its weights read from a file on disk.

    tf_keras hands h5py the archive's weights member as a zip stream, and every backward seek h5py makes re-reads the
    member from its start: BERT-base's 438 MB took 96 s to load that way. The same model, built from the archive's
    config, loads the extracted ``model.weights.h5`` (the layout ``save_weights`` writes) through h5py on a real file.
    An archive with assets or npz weights is left to tf_keras.
    """
    import json
    import tempfile
    import zipfile

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if not {ARCHIVE_CONFIG, ARCHIVE_WEIGHTS} <= names or len(names) > 3:
            return tf.keras.models.load_model(str(path), compile=False)
        config = json.loads(archive.read(ARCHIVE_CONFIG))
        config["compile_config"] = None  # compile=False
        with tempfile.TemporaryDirectory(prefix="raylife-keras-") as tmp:
            weights = archive.extract(ARCHIVE_WEIGHTS, tmp)
            model = tf.keras.saving.deserialize_keras_object(config)
            model.load_weights(weights)
    return model


# Ops whose work TensorFlow's profiler does not count: Einsum (Keras attention), and loops (RNNs), whose body
# it counts once however many steps run (While, or LoopCond in the frozen v1 control flow).
UNCOUNTED_OPS = {"Einsum", "While", "StatelessWhile", "LoopCond", "PartitionedCall", "StatefulPartitionedCall"}


def _graph_flops(model: tf.keras.Model, sample: np.ndarray) -> float | None:
    """Floating-point operations of one forward pass, counted by TensorFlow's profiler on the frozen graph."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        spec = tf.TensorSpec([1, *sample.shape[1:]], tf.as_dtype(sample.dtype))
        frozen = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False)).get_concrete_function(spec))
        ops = {op.type for op in frozen.graph.get_operations()}
        if ops & UNCOUNTED_OPS:
            return None  # the profiler would silently leave these out: better no number than a wrong one
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        return float(tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops)
    except Exception:  # noqa: BLE001 - some graphs (custom ops) cannot be profiled: say "not counted"
        return None
