"""Image classification."""

from raylife.workloads.base import ModelInfo, Workload

WORKLOAD = Workload(
    name="vision",
    task="image classification",
    description="Classify small images; default data: scikit-learn's bundled handwritten digits (real, 8x8, 10 classes).",
    datasets={"digits": "raylife.workloads.vision.data:load_digits"},
    default_dataset="digits",
    models={
        "cnn_small": ModelInfo(
            name="cnn_small",
            description="Two 3x3 conv layers, max-pool, two dense layers (about 38k parameters at width 16).",
            builders={
                "torch": "raylife.workloads.vision.torch_models:cnn_small",
                "tensorflow": "raylife.workloads.vision.tf_models:cnn_small",
            },
            options={"width": 16},
        ),
    },
)
