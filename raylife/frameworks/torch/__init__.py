"""PyTorch: trained with Ray Train's TorchTrainer (DDP over gloo on CPU, NCCL on GPU)."""

from raylife.frameworks import Framework

FRAMEWORK = Framework(
    name="torch",
    display_name="PyTorch",
    distribution="torch",
    native_format="state_dict",
    formats={
        "state_dict": "torch.save of the model's state_dict (rebuilt from its builder on load)",
        "safetensors": "the weights as safetensors (no pickle; tied tensors once), rebuilt from the model's builder",
        "torchscript": "TorchScript archive (torch.jit.trace), loads without the model's Python code",
        "onnx": "ONNX graph (torch.onnx.export), loaded with onnxruntime",
    },
    backend="raylife.frameworks.torch.backend:TorchBackend",
)
