"""TensorFlow recommenders, the twins of torch_models."""

from __future__ import annotations

import tensorflow as tf

layers = tf.keras.layers


@tf.keras.utils.register_keras_serializable(package="raylife")
class Column(layers.Layer):
    """One column of the (user, item) pairs, so the model takes the same single input in both frameworks."""

    def __init__(self, index: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.index = index

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs[:, self.index]

    def get_config(self) -> dict:
        return {**super().get_config(), "index": self.index}


def _embedding(count: int, dim: int) -> layers.Layer:
    return layers.Embedding(count, dim, embeddings_initializer=tf.keras.initializers.RandomUniform(-0.05, 0.05))


def _gmf(num_users: int, num_items: int, num_classes: int, dim: int, hidden: int | None, name: str) -> tf.keras.Model:
    """logits = W (user ⊙ item) + user bias + item bias, as the PyTorch twin."""
    pairs = layers.Input(shape=(2,), dtype="int64")
    users, items = Column(0)(pairs), Column(1)(pairs)
    user, item = _embedding(num_users, dim)(users), _embedding(num_items, dim)(items)
    if hidden:
        user = layers.Dense(dim)(layers.Dense(hidden, activation="relu")(user))
        item = layers.Dense(dim)(layers.Dense(hidden, activation="relu")(item))
    logits = layers.Dense(num_classes)(layers.Multiply()([user, item]))
    biases = [_embedding(num_users, num_classes)(users), _embedding(num_items, num_classes)(items)]
    return tf.keras.Model(pairs, layers.Add()([logits, *biases]), name=name)


def mf(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dim: int = 32) -> tf.keras.Model:
    return _gmf(num_users, num_items, num_classes, dim, None, "mf")


def two_tower(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dim: int = 32, hidden: int = 64) -> tf.keras.Model:
    return _gmf(num_users, num_items, num_classes, dim, hidden, "two_tower")
