"""TensorFlow (tf.keras) image models, layer for layer the twins of torch_models."""

from __future__ import annotations

import tensorflow as tf


def cnn_small(input_shape: tuple[int, ...], num_classes: int, width: int = 16) -> tf.keras.Model:
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            layers.Input(shape=tuple(input_shape)),
            layers.Conv2D(width, 3, padding="same", activation="relu"),
            layers.Conv2D(2 * width, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(4 * width, activation="relu"),
            layers.Dense(num_classes),
        ],
        name="cnn_small",
    )
