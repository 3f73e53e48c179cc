"""Image classification."""

from raylife.workloads.base import DataSource, Workload, random_facts_factory, twin_models

DATA = "raylife.workloads.vision.data"
_model = twin_models("raylife.workloads.vision", check="small")


WORKLOAD = Workload(
    name="vision",
    task="image classification",
    description="Classify images (NHWC, [0, 1]); default data: scikit-learn's bundled handwritten digits (real, 8x8, 10 classes).",
    sources={
        "digits": DataSource(
            "digits", "scikit-learn's bundled UCI handwritten digits: 1,797 real 8x8 images, 10 classes "
            "(options: size, channels to resize)", f"{DATA}:describe_digits", f"{DATA}:load_digits",
        ),
        "imagefolder": DataSource(
            "imagefolder", "PATH/<class>/<image> (png, jpg, ...), streamed through Ray Data, resized "
            "(options: size, channels, max_per_class)",
            f"{DATA}:describe_imagefolder", f"{DATA}:load_imagefolder", needs_path=True,
            stream=f"{DATA}:stream_imagefolder",
        ),
        "cifar10": DataSource(
            "cifar10", "the CIFAR-10 python batches directory (cifar-10-batches-py; option: max_samples)",
            f"{DATA}:describe_cifar10", f"{DATA}:load_cifar10", needs_path=True,
        ),
    },
    default_dataset="digits",
    models={
        "cnn_small": _model("cnn_small", "two 3x3 convolutions, max-pool, two dense layers (38k parameters at width 16)", width=16),
        "resnet_small": _model("resnet_small", "CIFAR-style ResNet: 3x3 stem, 3 stages of basic blocks (width, 2x, 4x)", width=16, blocks=2),
        "mobilenet_small": _model("mobilenet_small", "MobileNet-style depthwise-separable CNN; width scales every layer", width=0.5),
        "resnet18": _model("resnet18", "ResNet-18 at its published structure (11.7M parameters at 1000 classes), random init", check_name="standard"),
        "resnet50": _model("resnet50", "ResNet-50 at its published structure (25.6M parameters at 1000 classes), random init", check_name="standard"),
        "mobilenet_v2": _model("mobilenet_v2", "MobileNetV2 at its published structure (3.5M parameters at 1000 classes), random init", check_name="standard"),
        "mobilenet_v3_large": _model("mobilenet_v3_large", "MobileNetV3-Large at its published structure (5.5M parameters at 1000 classes), random init", check_name="standard"),
        "vit_b16": _model("vit_b16", "ViT-B/16 at its published structure (86.6M parameters at 224x224, 1000 classes), random init", check_name="patches"),
    },
    random_facts=random_facts_factory((32, 32, 3), "float32", classes=10),
)
