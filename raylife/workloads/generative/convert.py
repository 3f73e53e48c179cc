"""A Hugging Face state dict (names → arrays) copied into a TensorFlow decoder of tf_models, by name.

Each weight-holding layer of the twins is named by the module it mirrors, so the tensor ``<layer>.weight`` or
``<layer>.bias`` goes to that layer's kernel (or table, or scale) and bias. PyTorch's ``nn.Linear`` keeps (out, in)
and Keras (in, out): Llama's projections are transposed; GPT-2's ``Conv1D`` already keeps (in, out). The tied
``lm_head.weight`` is the embedding itself. A tensor missing, left over or of another shape is one error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from raylife.errors import PlanError

TIED = "lm_head.weight"


def tf_targets(model: tf.keras.Model) -> dict[str, tf.Variable]:
    """The model's variables under their Hugging Face names."""
    targets: dict[str, tf.Variable] = {}
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Dense):
            targets[f"{layer.name}.weight"] = layer.kernel
            if layer.use_bias:
                targets[f"{layer.name}.bias"] = layer.bias
        elif isinstance(layer, tf.keras.layers.LayerNormalization):
            targets[f"{layer.name}.weight"], targets[f"{layer.name}.bias"] = layer.gamma, layer.beta
        elif layer.weights:
            [weight] = layer.weights
            targets[f"{layer.name}.weight"] = weight
    return targets


def load_hf_state(model: tf.keras.Model, state: Mapping[str, np.ndarray], transpose_linear: bool,
                  where: str = "weights") -> None:
    """Copy ``state`` into ``model``; ``transpose_linear`` for PyTorch ``nn.Linear`` layouts (Llama)."""
    targets = tf_targets(model)
    names = [name for name in state if name != TIED or name in targets]
    for name in names:
        if name not in targets:
            raise PlanError(f"tensor {name} {tuple(np.shape(state[name]))} has no place in {model.name}", where=where,
                            hint="the file holds another architecture: check the model and its options")
    for name, variable in targets.items():
        if name not in state:
            raise PlanError(f"tensor {name} {tuple(variable.shape)} is missing from the file", where=where,
                            hint="the file holds another architecture: check the model and its options")
        value = np.asarray(state[name], dtype=np.float32)
        if transpose_linear and value.ndim == 2 and isinstance(_layer_of(model, name), tf.keras.layers.Dense):
            value = value.T
        if tuple(value.shape) != tuple(variable.shape):
            raise PlanError(f"tensor {name} is {tuple(value.shape)} in the file, {tuple(variable.shape)} in the model",
                            where=where, hint="the file holds another size: check the model's options")
        variable.assign(value)


def _layer_of(model: tf.keras.Model, name: str) -> tf.keras.layers.Layer:
    return model.get_layer(name.rsplit(".", 1)[0])
