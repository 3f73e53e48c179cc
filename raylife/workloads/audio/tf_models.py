"""TensorFlow audio models, the twins of torch_models (same front-end matrices, same layers)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from raylife.workloads.audio.features import dft_kernels, mel_filters

N_FFT, HOP, N_MELS = 256, 128, 40
layers = tf.keras.layers


@tf.keras.utils.register_keras_serializable(package="raylife")
class LogMel(layers.Layer):
    """(batch, samples) → (batch, frames, mels, 1); fixed matrices, no trainable weights."""

    def __init__(self, sample_rate: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.bins = N_FFT // 2 + 1

    def build(self, input_shape: tf.TensorShape) -> None:
        # Non-trainable weights, like the PyTorch twin's buffers: saved with the model, not trained.
        kernels = np.transpose(dft_kernels(N_FFT))[:, None, :]  # (n_fft, 1, 2 * bins)
        mel = mel_filters(self.sample_rate, N_FFT, N_MELS)
        self.kernels = self.add_weight(name="dft", shape=kernels.shape, trainable=False,
                                       initializer=tf.keras.initializers.Constant(kernels))
        self.mel = self.add_weight(name="mel", shape=mel.shape, trainable=False, initializer=tf.keras.initializers.Constant(mel))

    def call(self, waves: tf.Tensor) -> tf.Tensor:
        spectrum = tf.nn.conv1d(waves[:, :, None], self.kernels, stride=HOP, padding="VALID")  # (batch, frames, 2 * bins)
        power = spectrum[..., : self.bins] ** 2 + spectrum[..., self.bins :] ** 2
        return tf.math.log(tf.matmul(power, self.mel) + 1e-6)[..., None]

    def get_config(self) -> dict:
        return {**super().get_config(), "sample_rate": self.sample_rate}


def _bn() -> layers.Layer:
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)


def _conv(x: tf.Tensor, filters: int, depthwise: bool = False, kernel: int = 3) -> tf.Tensor:
    conv = layers.DepthwiseConv2D(kernel, padding="same", use_bias=False) if depthwise else layers.Conv2D(filters, kernel, padding="same", use_bias=False)
    return layers.ReLU()(_bn()(conv(x)))


def cnn(input_shape: tuple[int, ...], num_classes: int, sample_rate: int = 8000, width: int = 16) -> tf.keras.Model:
    waves = layers.Input(shape=tuple(input_shape))
    x = _bn()(LogMel(sample_rate)(waves))
    for filters in (width, 2 * width, 4 * width):
        x = layers.MaxPooling2D(2)(_conv(x, filters))
    return tf.keras.Model(waves, layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(x)), name="cnn")


def dscnn(input_shape: tuple[int, ...], num_classes: int, sample_rate: int = 8000, width: int = 32, blocks: int = 3) -> tf.keras.Model:
    waves = layers.Input(shape=tuple(input_shape))
    x = layers.MaxPooling2D(2)(_conv(_bn()(LogMel(sample_rate)(waves)), width))
    for _ in range(blocks):
        x = _conv(_conv(x, width, depthwise=True), width, kernel=1)
    return tf.keras.Model(waves, layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(x)), name="dscnn")
