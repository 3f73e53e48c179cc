"""TensorFlow text models, the twins of torch_models (BERT and DistilBERT built here layer for layer, like theirs)."""

from __future__ import annotations

import tensorflow as tf

from raylife.workloads.tf_blocks import encoder_block

kl = tf.keras.layers  # not `layers`: the transformer builder takes a `layers` count, like its PyTorch twin


@tf.keras.utils.register_keras_serializable(package="raylife")
class PositionEmbedding(kl.Layer):
    """Adds a learned embedding of each position (PyTorch twin: nn.Embedding over arange(seq_len)); the table may
    hold more positions than the sequence uses (``rows``: BERT's 512)."""

    def __init__(self, seq_len: int, dim: int, rows: int | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.seq_len, self.dim, self.rows = seq_len, dim, rows or seq_len

    def build(self, input_shape: tf.TensorShape) -> None:
        self.table = self.add_weight(name="positions", shape=(self.rows, self.dim), initializer="random_normal")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.table[: self.seq_len]

    def get_config(self) -> dict:
        return {**super().get_config(), "seq_len": self.seq_len, "dim": self.dim, "rows": self.rows}


@tf.keras.utils.register_keras_serializable(package="raylife")
class SegmentEmbedding(kl.Layer):
    """BERT's segment (token type) table; single-sentence inputs are all segment 0 (PyTorch twin: weight[0])."""

    def __init__(self, segments: int, dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.segments, self.dim = segments, dim

    def build(self, input_shape: tf.TensorShape) -> None:
        self.table = self.add_weight(name="segments", shape=(self.segments, self.dim), initializer="random_normal")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.table[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "segments": self.segments, "dim": self.dim}


def transformer(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 64, heads: int = 4,
                layers: int = 2, ffn: int = 128) -> tf.keras.Model:
    ids = kl.Input(shape=tuple(input_shape), dtype="int64")
    x = PositionEmbedding(input_shape[0], dim)(kl.Embedding(vocab_size, dim)(ids))
    for _ in range(layers):
        x = encoder_block(x, dim, heads, ffn)
    return tf.keras.Model(ids, kl.Dense(num_classes)(kl.GlobalAveragePooling1D()(x)), name="transformer")


def gru(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 64, hidden: int = 64) -> tf.keras.Model:
    ids = kl.Input(shape=tuple(input_shape), dtype="int64")
    x = kl.GRU(hidden)(kl.Embedding(vocab_size, dim)(ids))  # reset_after=True: PyTorch's GRU equations
    return tf.keras.Model(ids, kl.Dense(num_classes)(x), name="gru")


def _bert(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int, heads: int, layers: int, ffn: int,
          max_positions: int, segments: int, pool_activation: str, name: str) -> tf.keras.Model:
    ids = kl.Input(shape=tuple(input_shape), dtype="int64")
    x = PositionEmbedding(input_shape[0], dim, rows=max_positions)(kl.Embedding(vocab_size, dim)(ids))
    if segments:
        x = SegmentEmbedding(segments, dim)(x)
    x = kl.LayerNormalization(epsilon=1e-12)(x)
    for _ in range(layers):
        x = encoder_block(x, dim, heads, ffn, "gelu", eps=1e-12)
    pooled = kl.Dense(dim, activation=pool_activation)(x[:, 0])
    return tf.keras.Model(ids, kl.Dense(num_classes)(pooled), name=name)


def bert_base(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 768, heads: int = 12,
              layers: int = 12, ffn: int = 3072, max_positions: int = 512) -> tf.keras.Model:
    return _bert(input_shape, num_classes, vocab_size, dim, heads, layers, ffn, max_positions, 2, "tanh", "bert_base")


def distilbert(input_shape: tuple[int, ...], num_classes: int, vocab_size: int, dim: int = 768, heads: int = 12,
               layers: int = 6, ffn: int = 3072, max_positions: int = 512) -> tf.keras.Model:
    return _bert(input_shape, num_classes, vocab_size, dim, heads, layers, ffn, max_positions, 0, "relu", "distilbert")
