"""TensorFlow text models, the twins of torch_models."""

from __future__ import annotations

import tensorflow as tf

kl = tf.keras.layers  # not `layers`: the transformer builder takes a `layers` count, like its PyTorch twin


@tf.keras.utils.register_keras_serializable(package="raylife")
class PositionEmbedding(kl.Layer):
    """Adds a learned embedding of each position (PyTorch twin: nn.Embedding over arange(seq_len))."""

    def __init__(self, seq_len: int, dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.seq_len, self.dim = seq_len, dim

    def build(self, input_shape: tf.TensorShape) -> None:
        self.table = self.add_weight(name="positions", shape=(self.seq_len, self.dim), initializer="random_normal")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.table

    def get_config(self) -> dict:
        return {**super().get_config(), "seq_len": self.seq_len, "dim": self.dim}


def transformer(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 64, heads: int = 4,
                layers: int = 2, ffn: int = 128) -> tf.keras.Model:
    ids = kl.Input(shape=tuple(input_shape), dtype="int64")
    x = PositionEmbedding(input_shape[0], dim)(kl.Embedding(vocab_size, dim)(ids))
    for _ in range(layers):
        x = kl.LayerNormalization(epsilon=1e-5)(x + kl.MultiHeadAttention(heads, dim // heads)(x, x))
        y = kl.Dense(dim)(kl.Dense(ffn, activation="relu")(x))
        x = kl.LayerNormalization(epsilon=1e-5)(x + y)
    return tf.keras.Model(ids, kl.Dense(num_classes)(kl.GlobalAveragePooling1D()(x)), name="transformer")


def gru(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 64, hidden: int = 64) -> tf.keras.Model:
    ids = kl.Input(shape=tuple(input_shape), dtype="int64")
    x = kl.GRU(hidden)(kl.Embedding(vocab_size, dim)(ids))  # reset_after=True: PyTorch's GRU equations
    return tf.keras.Model(ids, kl.Dense(num_classes)(x), name="gru")
