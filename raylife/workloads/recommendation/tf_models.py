"""TensorFlow recommenders, the twins of torch_models."""

from __future__ import annotations

import tensorflow as tf

from raylife.workloads.recommendation.tables import table_rows

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


@tf.keras.utils.register_keras_serializable(package="raylife")
class Columns(layers.Layer):
    """Columns [start, stop) of the int64 input as float32 log(1 + count): DLRM's dense features."""

    def __init__(self, start: int, stop: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.math.log1p(tf.cast(inputs[:, self.start : self.stop], tf.float32))

    def get_config(self) -> dict:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@tf.keras.utils.register_keras_serializable(package="raylife")
class PairwiseDots(layers.Layer):
    """The dot product of every pair of feature vectors, the strictly lower triangle in PyTorch's row order."""

    def __init__(self, features: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.features = features
        self.flat = [i * features + j for i in range(features) for j in range(i)]

    def call(self, stacked: tf.Tensor) -> tf.Tensor:
        dots = tf.linalg.matmul(stacked, stacked, transpose_b=True)
        return tf.gather(tf.reshape(dots, (-1, self.features * self.features)), self.flat, axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "features": self.features}


def _mlp(x: tf.Tensor, widths: list[int], last_relu: bool) -> tf.Tensor:
    for i, width in enumerate(widths):
        x = layers.Dense(width, activation="relu" if last_relu or i < len(widths) - 1 else None)(x)
    return x


def dlrm(input_shape: tuple[int, ...], num_classes: int, num_users: int, num_items: int, dense: int = 0, dim: int = 16,
         bottom: list[int] | None = None, top: list[int] | None = None, rows: int | list[int] | None = None) -> tf.keras.Model:
    bottom = [64, dim] if bottom is None else list(bottom)
    tables = table_rows(input_shape[0] - dense, num_users, num_items, rows)
    inputs = layers.Input(shape=tuple(input_shape), dtype="int64")
    vectors = [_embedding(count, dim)(Column(dense + i)(inputs)) for i, count in enumerate(tables)]
    parts = []
    if dense:
        dense_out = _mlp(Columns(0, dense)(inputs), bottom, last_relu=True)
        vectors.insert(0, dense_out)
        parts.append(dense_out)
    stacked = layers.Concatenate(axis=1)([layers.Reshape((1, dim))(v) for v in vectors])
    parts.append(PairwiseDots(len(vectors))(stacked))
    joined = layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
    return tf.keras.Model(inputs, _mlp(joined, [*([64, 32] if top is None else list(top)), num_classes], last_relu=False),
                          name="dlrm")
