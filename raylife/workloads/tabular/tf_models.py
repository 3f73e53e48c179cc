"""TensorFlow tabular models, the twins of torch_models."""

from __future__ import annotations

import tensorflow as tf

layers = tf.keras.layers


def mlp(input_shape: tuple[int, ...], num_classes: int, width: int = 128, depth: int = 4, dropout: float = 0.1) -> tf.keras.Model:
    model = [layers.Input(shape=tuple(input_shape))]
    for _ in range(depth):
        model += [layers.Dense(width, activation="relu"), layers.Dropout(dropout)]
    return tf.keras.Sequential([*model, layers.Dense(num_classes)], name="mlp")


def resmlp(input_shape: tuple[int, ...], num_classes: int, width: int = 128, blocks: int = 3) -> tf.keras.Model:
    inputs = layers.Input(shape=tuple(input_shape))
    x = layers.Dense(width)(inputs)
    for _ in range(blocks):
        y = layers.LayerNormalization(epsilon=1e-5)(x)
        y = layers.Dense(2 * width, activation="relu")(y)
        x = layers.Add()([x, layers.Dense(width)(y)])
    x = layers.LayerNormalization(epsilon=1e-5)(x)
    return tf.keras.Model(inputs, layers.Dense(num_classes)(x), name="resmlp")
