"""TensorFlow (tf.keras) image models, layer for layer the twins of torch_models.

MobileNetV2 comes from ``tf.keras.applications`` (weights=None: nothing is downloaded), whose structure is
torchvision's. ResNet-50 does not: Keras' convolutions carry biases (25,583,592 trainable parameters, 26,560
more than the published 25,557,032) and stride in the first 1x1 convolution of a block (ResNet v1), so it is
built here like torchvision's (v1.5, no convolution biases), as are ResNet-18 (Keras has none),
MobileNetV3-Large (Keras' differs from torchvision's) and ViT-B/16 (Keras Applications has no ViT). BatchNorm uses PyTorch's momentum and epsilon so both
frameworks train the same layers the same way.
"""

from __future__ import annotations

import tensorflow as tf

from raylife.workloads.tf_blocks import encoder_block
from raylife.workloads.vision.architectures import MOBILENET_V3_LARGE, divisible

layers = tf.keras.layers


def cnn_small(input_shape: tuple[int, ...], num_classes: int, width: int = 16) -> tf.keras.Model:
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


def conv_bn(x: tf.Tensor, filters: int, kernel: int, stride: int = 1, depthwise: bool = False, act: str | None = "relu",
            momentum: float = 0.9, epsilon: float = 1e-5) -> tf.Tensor:
    """Convolution without bias, BatchNorm (PyTorch's settings by default), then ``act`` (a name in ACTIVATIONS)."""
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False)(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=momentum, epsilon=epsilon)(x)
    return ACTIVATIONS[act]()(x) if act else x


def basic_block(x: tf.Tensor, planes: int, stride: int) -> tf.Tensor:
    shortcut = x
    if stride != 1 or x.shape[-1] != planes:
        shortcut = conv_bn(x, planes, 1, stride, act=None)
    y = conv_bn(x, planes, 3, stride)
    y = conv_bn(y, planes, 3, act=None)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def _head(x: tf.Tensor, num_classes: int) -> tf.Tensor:
    return layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(x))


def resnet_small(input_shape: tuple[int, ...], num_classes: int, width: int = 16, blocks: int = 2) -> tf.keras.Model:
    inputs = layers.Input(shape=tuple(input_shape))
    x = conv_bn(inputs, width, 3)
    for i, planes in enumerate([width, 2 * width, 4 * width]):
        for j in range(blocks):
            x = basic_block(x, planes, (1 if i == 0 else 2) if j == 0 else 1)
    return tf.keras.Model(inputs, _head(x, num_classes), name="resnet_small")


def resnet18(input_shape: tuple[int, ...], num_classes: int) -> tf.keras.Model:
    inputs = layers.Input(shape=tuple(input_shape))
    x = conv_bn(inputs, 64, 7, stride=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for i, planes in enumerate([64, 128, 256, 512]):
        for j in range(2):
            x = basic_block(x, planes, (1 if i == 0 else 2) if j == 0 else 1)
    return tf.keras.Model(inputs, _head(x, num_classes), name="resnet18")


def bottleneck(x: tf.Tensor, planes: int, stride: int) -> tf.Tensor:
    out = 4 * planes
    shortcut = conv_bn(x, out, 1, stride, act=None) if stride != 1 or x.shape[-1] != out else x
    y = conv_bn(conv_bn(conv_bn(x, planes, 1), planes, 3, stride), out, 1, act=None)
    return layers.ReLU()(layers.Add()([y, shortcut]))


def resnet50(input_shape: tuple[int, ...], num_classes: int) -> tf.keras.Model:
    inputs = layers.Input(shape=tuple(input_shape))
    x = conv_bn(inputs, 64, 7, stride=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for i, (planes, depth) in enumerate(zip([64, 128, 256, 512], [3, 4, 6, 3])):
        for j in range(depth):
            x = bottleneck(x, planes, (1 if i == 0 else 2) if j == 0 else 1)
    return tf.keras.Model(inputs, _head(x, num_classes), name="resnet50")


def mobilenet_small(input_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> tf.keras.Model:
    sizes = [max(8, int(c * width)) for c in (32, 64, 128, 128, 256, 256)]
    inputs = layers.Input(shape=tuple(input_shape))
    x = conv_bn(inputs, sizes[0], 3)
    for cout, stride in zip(sizes[1:], [1, 2, 1, 2, 1]):
        x = conv_bn(x, 0, 3, stride, depthwise=True)
        x = conv_bn(x, cout, 1)
    return tf.keras.Model(inputs, _head(x, num_classes), name="mobilenet_small")


def mobilenet_v2(input_shape: tuple[int, ...], num_classes: int, width: float = 1.0) -> tf.keras.Model:
    return tf.keras.applications.MobileNetV2(weights=None, input_shape=tuple(input_shape), classes=num_classes,
                                             alpha=width, classifier_activation=None)


@tf.keras.utils.register_keras_serializable(package="raylife")
class HardSigmoid(layers.Layer):
    """relu6(x + 3) / 6, PyTorch's Hardsigmoid (Keras 2's hard_sigmoid is another curve, 0.2 x + 0.5)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu6(x + 3.0) / 6.0


@tf.keras.utils.register_keras_serializable(package="raylife")
class HardSwish(layers.Layer):
    """x * relu6(x + 3) / 6, PyTorch's Hardswish."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x * tf.nn.relu6(x + 3.0) / 6.0


ACTIVATIONS = {"relu": layers.ReLU, "relu6": lambda: layers.ReLU(6.0), "hard_swish": HardSwish}


def _conv_bn_v3(x: tf.Tensor, filters: int, kernel: int, stride: int = 1, depthwise: bool = False,
                act: str | None = None) -> tf.Tensor:
    """conv_bn with torchvision's MobileNetV3 BatchNorm settings (its momentum 0.01 is Keras' 0.99)."""
    return conv_bn(x, filters, kernel, stride, depthwise, act, momentum=0.99, epsilon=0.001)


def _squeeze_excite(x: tf.Tensor, squeeze: int) -> tf.Tensor:
    s = layers.GlobalAveragePooling2D(keepdims=True)(x)
    s = HardSigmoid()(layers.Conv2D(x.shape[-1], 1)(layers.Conv2D(squeeze, 1, activation="relu")(s)))
    return layers.Multiply()([x, s])


def mobilenet_v3_large(input_shape: tuple[int, ...], num_classes: int) -> tf.keras.Model:
    inputs = layers.Input(shape=tuple(input_shape))
    x = _conv_bn_v3(inputs, 16, 3, stride=2, act="hard_swish")
    for cin, kernel, expanded, cout, se, hard_swish, stride in MOBILENET_V3_LARGE:
        act = "hard_swish" if hard_swish else "relu"
        y = x if expanded == cin else _conv_bn_v3(x, expanded, 1, act=act)
        y = _conv_bn_v3(y, 0, kernel, stride, depthwise=True, act=act)
        if se:
            y = _squeeze_excite(y, divisible(expanded // 4))
        y = _conv_bn_v3(y, cout, 1)
        x = layers.Add()([x, y]) if stride == 1 and cin == cout else y
    x = layers.GlobalAveragePooling2D()(_conv_bn_v3(x, 960, 1, act="hard_swish"))
    x = layers.Dropout(0.2)(HardSwish()(layers.Dense(1280)(x)))
    return tf.keras.Model(inputs, layers.Dense(num_classes)(x), name="mobilenet_v3_large")


@tf.keras.utils.register_keras_serializable(package="raylife")
class ClassTokenAndPositions(layers.Layer):
    """ViT's learned class token, put before the patches, and the learned position of every token."""

    def __init__(self, tokens: int, dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.tokens, self.dim = tokens, dim

    def build(self, input_shape: tf.TensorShape) -> None:
        self.class_token = self.add_weight(name="class_token", shape=(1, 1, self.dim), initializer="zeros")
        self.positions = self.add_weight(name="positions", shape=(1, self.tokens, self.dim),
                                         initializer=tf.keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        token = tf.tile(tf.cast(self.class_token, x.dtype), [tf.shape(x)[0], 1, 1])
        return tf.concat([token, x], axis=1) + tf.cast(self.positions, x.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "tokens": self.tokens, "dim": self.dim}


def vit_b16(input_shape: tuple[int, ...], num_classes: int, patch: int = 16, dim: int = 768, heads: int = 12,
            layers: int = 12, ffn: int = 3072) -> tf.keras.Model:
    kl = tf.keras.layers  # `layers` is the block count here, as in the PyTorch twin
    height, width, _ = input_shape
    grid = (height // patch) * (width // patch)
    inputs = kl.Input(shape=tuple(input_shape))
    x = kl.Reshape((grid, dim))(kl.Conv2D(dim, patch, strides=patch)(inputs))
    x = ClassTokenAndPositions(grid + 1, dim)(x)
    for _ in range(layers):
        x = encoder_block(x, dim, heads, ffn, "gelu", pre_norm=True, eps=1e-6)
    x = kl.LayerNormalization(epsilon=1e-6)(x)
    return tf.keras.Model(inputs, kl.Dense(num_classes)(x[:, 0]), name="vit_b16")
