"""TensorFlow (tf.keras) image models, layer for layer the twins of torch_models.

ResNet-50 and MobileNetV2 come from ``tf.keras.applications`` (weights=None: nothing is downloaded); Keras has
no ResNet-18, so it is built here like the others. BatchNorm uses PyTorch's momentum and epsilon so both
frameworks train the same layers the same way.
"""

from __future__ import annotations

import tensorflow as tf

layers = tf.keras.layers


def _bn() -> layers.Layer:
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)


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


def conv_bn(x: tf.Tensor, filters: int, kernel: int, stride: int = 1, depthwise: bool = False, act: str | None = "relu") -> tf.Tensor:
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False)(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = _bn()(x)
    if act == "relu":
        x = layers.ReLU()(x)
    elif act == "relu6":
        x = layers.ReLU(6.0)(x)
    return x


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


def resnet50(input_shape: tuple[int, ...], num_classes: int) -> tf.keras.Model:
    return tf.keras.applications.ResNet50(weights=None, input_shape=tuple(input_shape), classes=num_classes,
                                          classifier_activation=None)


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
