"""TensorFlow backend: TensorflowTrainer wiring, storage formats, prediction. Cluster processes only.

Every process importing this has TF_USE_LEGACY_KERAS=1 from its start (see the Framework's env_vars),
so ``tf.keras`` is tf_keras (Keras 2), the Keras that trains under MultiWorkerMirroredStrategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from raylife.frameworks.backend import Backend, ModelFormat, Predictor
from raylife.frameworks.tensorflow import FRAMEWORK

KERAS_FILE = "model.keras"


class KerasFormat(ModelFormat):
    name = "keras"

    def save(self, model: tf.keras.Model, directory: Path, sample: np.ndarray, recipe: Mapping[str, Any]) -> None:
        model.save(str(directory / KERAS_FILE))

    def load(self, directory: Path) -> Predictor:
        model = tf.keras.models.load_model(str(directory / KERAS_FILE), compile=False)
        return lambda x: TensorflowBackend().predict(model, x)


class SavedModelFormat(ModelFormat):
    name = "savedmodel"

    def save(self, model: tf.keras.Model, directory: Path, sample: np.ndarray, recipe: Mapping[str, Any]) -> None:
        model.export(str(directory / "savedmodel"))  # a `serve` endpoint with a dynamic batch dimension

    def load(self, directory: Path) -> Predictor:
        loaded = tf.saved_model.load(str(directory / "savedmodel"))  # must stay referenced: it owns the variables
        return lambda x: loaded.serve(tf.constant(x, dtype=tf.float32)).numpy()


class TensorflowBackend(Backend):
    framework = FRAMEWORK
    formats = {f.name: f for f in (KerasFormat(), SavedModelFormat())}

    def set_threads(self, threads: int) -> None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, int(threads)))
        except RuntimeError:
            pass  # the runtime is already initialised in this (reused) process; it keeps its first setting

    def make_trainer(self, config: dict[str, Any], scaling_config: Any, run_config: Any) -> Any:
        from ray.train.tensorflow import TensorflowTrainer

        from raylife.frameworks.tensorflow.train_loop import train_loop

        return TensorflowTrainer(
            train_loop, train_loop_config=config, scaling_config=scaling_config, run_config=run_config
        )

    def predict(self, model: tf.keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        # Direct calls rather than model.predict, which builds a tf.data pipeline per call: the same
        # plain forward pass the PyTorch backend times.
        parts = [model(x[i : i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def count_params(self, model: tf.keras.Model) -> int:
        return int(model.count_params())

    def load_checkpoint(self, directory: str | Path) -> tf.keras.Model:
        return tf.keras.models.load_model(str(Path(directory) / KERAS_FILE), compile=False)
