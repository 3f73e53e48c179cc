"""TensorFlow building blocks more than one workload uses, the twins of torch_blocks.

Keras' MultiHeadAttention with ``key_dim = dim / heads`` has the parameters of torch_blocks.SelfAttention.
"""

from __future__ import annotations

import tensorflow as tf

kl = tf.keras.layers


def encoder_block(x: tf.Tensor, dim: int, heads: int, ffn: int, activation: str = "relu", pre_norm: bool = False,
                  eps: float = 1e-5) -> tf.Tensor:
    """Post-norm (the original Transformer, BERT) or pre-norm (ViT), as torch_blocks.EncoderBlock."""
    attention = kl.MultiHeadAttention(heads, dim // heads)
    norm1, norm2 = kl.LayerNormalization(epsilon=eps), kl.LayerNormalization(epsilon=eps)
    inner, outer = kl.Dense(ffn, activation=activation), kl.Dense(dim)
    if pre_norm:
        y = norm1(x)
        x = x + attention(y, y)
        return x + outer(inner(norm2(x)))
    x = norm1(x + attention(x, x))
    return norm2(x + outer(inner(x)))
