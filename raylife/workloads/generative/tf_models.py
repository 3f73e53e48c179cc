"""TensorFlow decoders, the twins of torch_models layer for layer: GPT-2 and the Llama architecture.

Every layer that holds weights is named by the Hugging Face module it mirrors (``transformer.h.0.attn.c_attn``,
``model.layers.0.self_attn.q_proj``, …), so ``convert.load_hf_state`` maps a PyTorch state dict onto them by name;
the tests copy one framework's weights into the other and require the same logits. The sequence length is free
(``Input(shape=(None,))``): a decoder is called on prompts of any length up to its positions.
"""

from __future__ import annotations

import math

import tensorflow as tf

kl = tf.keras.layers
_NEG = -1e9  # a masked score: exp() of it is 0 in float32, as PyTorch's finfo.min is


@tf.keras.utils.register_keras_serializable(package="raylife")
class TiedEmbedding(kl.Layer):
    """Token embedding and, called on hidden states (floats), the tied output projection (``lm_head``)."""

    def __init__(self, vocab_size: int, dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.vocab_size, self.dim = vocab_size, dim

    def build(self, input_shape: tf.TensorShape) -> None:
        self.weight = self.add_weight(name="weight", shape=(self.vocab_size, self.dim),
                                      initializer=tf.keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if x.dtype.is_integer:
            return tf.gather(self.weight, x)
        return tf.matmul(x, self.weight, transpose_b=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim}


@tf.keras.utils.register_keras_serializable(package="raylife")
class LearnedPositions(kl.Layer):
    """GPT-2's position table, added to the first ``seq_len`` rows (``transformer.wpe``)."""

    def __init__(self, rows: int, dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.rows, self.dim = rows, dim

    def build(self, input_shape: tf.TensorShape) -> None:
        self.weight = self.add_weight(name="weight", shape=(self.rows, self.dim),
                                      initializer=tf.keras.initializers.RandomNormal(stddev=0.01))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.weight[: tf.shape(x)[1]]

    def get_config(self) -> dict:
        return {**super().get_config(), "rows": self.rows, "dim": self.dim}


@tf.keras.utils.register_keras_serializable(package="raylife")
class RMSNorm(kl.Layer):
    """Llama's RMSNorm: x / sqrt(mean(x²) + eps) x weight (no mean, no bias)."""

    def __init__(self, eps: float = 1e-5, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.eps = eps

    def build(self, input_shape: tf.TensorShape) -> None:
        self.weight = self.add_weight(name="weight", shape=(int(input_shape[-1]),), initializer="ones")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + self.eps) * self.weight

    def get_config(self) -> dict:
        return {**super().get_config(), "eps": self.eps}


def _heads(x: tf.Tensor, heads: int) -> tf.Tensor:
    """(batch, time, heads x d) → (batch, heads, time, d)."""
    batch, time = tf.shape(x)[0], tf.shape(x)[1]
    return tf.transpose(tf.reshape(x, (batch, time, heads, int(x.shape[-1]) // heads)), (0, 2, 1, 3))


def _causal_attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """Scaled dot-product attention over earlier positions; (batch, heads, time, d) in, (batch, time, heads x d) out."""
    scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(int(q.shape[-1]))
    time = tf.shape(scores)[-1]
    allowed = tf.linalg.band_part(tf.ones((time, time), dtype=tf.bool), -1, 0)
    out = tf.matmul(tf.nn.softmax(tf.where(allowed, scores, _NEG), axis=-1), v)
    heads, d = int(out.shape[1]), int(out.shape[-1])
    out = tf.transpose(out, (0, 2, 1, 3))
    return tf.reshape(out, (tf.shape(out)[0], tf.shape(out)[1], heads * d))


@tf.keras.utils.register_keras_serializable(package="raylife")
class FusedCausalAttention(kl.Layer):
    """GPT-2's attention core on the fused query/key/value projection (``c_attn``'s output); no weights."""

    def __init__(self, heads: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.heads = heads

    def call(self, qkv: tf.Tensor) -> tf.Tensor:
        q, k, v = tf.split(qkv, 3, axis=-1)
        return _causal_attention(_heads(q, self.heads), _heads(k, self.heads), _heads(v, self.heads))

    def get_config(self) -> dict:
        return {**super().get_config(), "heads": self.heads}


def rotary(x: tf.Tensor, theta: float) -> tf.Tensor:
    """Rotary positions as Hugging Face's Llama applies them (the two halves of each head rotated together)."""
    d = int(x.shape[-1])
    inv_freq = 1.0 / (theta ** (tf.range(0, d, 2, dtype=tf.float32) / d))
    positions = tf.cast(tf.range(tf.shape(x)[2]), tf.float32)
    angles = tf.einsum("t,f->tf", positions, inv_freq)
    angles = tf.concat([angles, angles], axis=-1)
    first, second = x[..., : d // 2], x[..., d // 2:]
    return x * tf.cos(angles) + tf.concat([-second, first], axis=-1) * tf.sin(angles)


@tf.keras.utils.register_keras_serializable(package="raylife")
class RotaryCausalAttention(kl.Layer):
    """Llama's attention core: rotary positions on queries and keys, each key/value head shared by
    ``heads / kv_heads`` query heads in turn (grouped-query attention); no weights."""

    def __init__(self, heads: int, kv_heads: int, rope_theta: float, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.heads, self.kv_heads, self.rope_theta = heads, kv_heads, rope_theta

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        q, k, v = inputs
        q = rotary(_heads(q, self.heads), self.rope_theta)
        k = rotary(_heads(k, self.kv_heads), self.rope_theta)
        v = _heads(v, self.kv_heads)
        group = self.heads // self.kv_heads
        k, v = tf.repeat(k, group, axis=1), tf.repeat(v, group, axis=1)
        return _causal_attention(q, k, v)

    def get_config(self) -> dict:
        return {**super().get_config(), "heads": self.heads, "kv_heads": self.kv_heads, "rope_theta": self.rope_theta}


def gelu_new(x: tf.Tensor) -> tf.Tensor:
    """GPT-2's activation, the tanh approximation of GELU."""
    return tf.nn.gelu(x, approximate=True)


@tf.keras.utils.register_keras_serializable(package="raylife")
class GeluNew(kl.Layer):
    """``gelu_new`` as a layer of its own: a function as a Dense layer's activation does not survive the legacy HDF5
    format's deserialisation, a registered layer does (in every format)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return gelu_new(x)


def _init() -> tf.keras.initializers.Initializer:
    """GPT-2's and Llama's N(0, 0.02), a new initializer per layer (one shared instance draws the same values)."""
    return tf.keras.initializers.RandomNormal(stddev=0.02)


def gpt2(input_shape: tuple[int, ...], num_classes: int, dim: int = 768, layers: int = 12, heads: int = 12,
         positions: int = 1024) -> tf.keras.Model:
    ids = kl.Input(shape=(None,), dtype="int64")
    wte = TiedEmbedding(num_classes, dim, name="transformer.wte")
    x = LearnedPositions(positions, dim, name="transformer.wpe")(wte(ids))
    for i in range(layers):
        at = f"transformer.h.{i}"
        h = kl.LayerNormalization(epsilon=1e-5, name=f"{at}.ln_1")(x)
        h = FusedCausalAttention(heads)(kl.Dense(3 * dim, kernel_initializer=_init(), name=f"{at}.attn.c_attn")(h))
        x = x + kl.Dense(dim, kernel_initializer=_init(), name=f"{at}.attn.c_proj")(h)
        h = kl.LayerNormalization(epsilon=1e-5, name=f"{at}.ln_2")(x)
        h = GeluNew(name=f"{at}.mlp.act")(kl.Dense(4 * dim, kernel_initializer=_init(), name=f"{at}.mlp.c_fc")(h))
        x = x + kl.Dense(dim, kernel_initializer=_init(), name=f"{at}.mlp.c_proj")(h)
    x = kl.LayerNormalization(epsilon=1e-5, name="transformer.ln_f")(x)
    return tf.keras.Model(ids, wte(x), name="gpt2")


def llama(input_shape: tuple[int, ...], num_classes: int, dim: int = 576, layers: int = 30, heads: int = 9,
          kv_heads: int = 3, ffn: int = 1536, positions: int = 8192, rope_theta: float = 100_000.0,
          eps: float = 1e-5) -> tf.keras.Model:
    head_dim = dim // heads
    ids = kl.Input(shape=(None,), dtype="int64")
    embed = TiedEmbedding(num_classes, dim, name="model.embed_tokens")
    x = embed(ids)

    def linear(units: int, name: str) -> kl.Dense:
        return kl.Dense(units, use_bias=False, kernel_initializer=_init(), name=name)

    for i in range(layers):
        at = f"model.layers.{i}"
        h = RMSNorm(eps, name=f"{at}.input_layernorm")(x)
        q = linear(heads * head_dim, f"{at}.self_attn.q_proj")(h)
        k = linear(kv_heads * head_dim, f"{at}.self_attn.k_proj")(h)
        v = linear(kv_heads * head_dim, f"{at}.self_attn.v_proj")(h)
        h = RotaryCausalAttention(heads, kv_heads, rope_theta)([q, k, v])
        x = x + linear(dim, f"{at}.self_attn.o_proj")(h)
        h = RMSNorm(eps, name=f"{at}.post_attention_layernorm")(x)
        gate = linear(ffn, f"{at}.mlp.gate_proj")(h)
        up = linear(ffn, f"{at}.mlp.up_proj")(h)
        x = x + linear(dim, f"{at}.mlp.down_proj")(tf.nn.silu(gate) * up)
    x = RMSNorm(eps, name="model.norm")(x)
    return tf.keras.Model(ids, embed(x), name="llama")


def from_folder(path: str) -> tf.keras.Model:
    """The TensorFlow twin of a local Hugging Face folder's decoder, its tensors copied in by name (``convert``)."""
    from raylife.workloads.generative.convert import load_hf_state
    from raylife.workloads.generative.hf_folder import read_folder

    folder = read_folder(path)
    model = {"gpt2": gpt2, "llama": llama}[folder.model]((None,), folder.vocab_size, **folder.options)
    load_hf_state(model, folder.state, transpose_linear=folder.model == "llama")
    return model
