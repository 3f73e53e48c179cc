"""PyTorch backend: TorchTrainer wiring, storage formats, prediction. Imported only in cluster processes."""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from raylife.frameworks.backend import Backend, ModelFormat, Predictor
from raylife.frameworks.model import ModelFacts, Recipe
from raylife.frameworks.torch import FRAMEWORK
from raylife.measure.memory import GpuMemoryPeak

STATE_FILE = "model.pt"
SAFETENSORS_FILE = "model.safetensors"


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def torch_device(device: str) -> torch.device:
    """raylife's "cpu"/"gpu" as a torch device; a clear error where CUDA is not there."""
    if device != "gpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("device = gpu, but this process sees no CUDA device (torch.cuda.is_available() is False)")
    return torch.device("cuda")


def autocast(device: torch.device, precision: str) -> Any:
    """Mixed precision for bf16/fp16 (weights stay fp32); for fp32 no context at all — a disabled ``torch.autocast``
    still saves and restores the autocast state on every entry, a cost paid per step and per request."""
    if precision not in AUTOCAST_DTYPES:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision])


def _numpy_predictor(module: Any, device: str = "cpu", precision: str = "fp32") -> Predictor:
    target = torch_device(device)
    module = module.to(target)

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), autocast(target, precision):
            out = module(torch.from_numpy(np.ascontiguousarray(x)).to(target))  # ids stay int64, images float32
        return out.float().cpu().numpy()

    return predict


class StateDictFormat(ModelFormat):
    name = "state_dict"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        torch.save(model.state_dict(), directory / STATE_FILE)
        recipe.write(directory)  # a state_dict is only weights: loading needs the builder

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        return _numpy_predictor(TorchBackend().load_checkpoint(directory), device, precision)


class SafetensorsFormat(ModelFormat):
    """The weights as a safetensors file (no pickle: nothing runs when it loads), rebuilt from the recipe. Tied tensors
    (a decoder's embedding and head) are stored once: ``save_model`` drops the duplicate, ``load_model`` restores it.
    A decoder's file holds transformers' own tensor names, as a Hugging Face folder's ``model.safetensors`` does."""

    name = "safetensors"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        from safetensors.torch import save_model

        save_model(model, str(directory / SAFETENSORS_FILE))
        recipe.write(directory)

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        from safetensors.torch import load_model

        model = TorchBackend().build_model(Recipe.read(directory))
        load_model(model, str(directory / SAFETENSORS_FILE))
        return _numpy_predictor(model.eval(), device, precision)


class TorchScriptFormat(ModelFormat):
    name = "torchscript"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore", DeprecationWarning)  # jit is deprecated in 2.x but still what many deploy
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.trace(model.eval(), torch.from_numpy(sample)).save(str(directory / "model.ts"))

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(directory / "model.ts"), map_location=torch_device(device))
        return _numpy_predictor(module.eval(), device, precision)


class OnnxFormat(ModelFormat):
    name = "onnx"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Recipe) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.eval(),
                (torch.from_numpy(sample),),
                str(directory / "model.onnx"),
                input_names=["x"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                external_data=False,
                verbose=False,
            )

    def load(self, directory: Path, device: str = "cpu", precision: str = "fp32") -> Predictor:
        """The exported graph is fp32: it runs at fp32 whatever the trial's precision."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if device == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeError("serving ONNX on the GPU needs ONNX Runtime's CUDA provider: pip install "
                                   "onnxruntime-gpu (in place of onnxruntime)")
            providers = ["CUDAExecutionProvider"]
        session = ort.InferenceSession(str(directory / "model.onnx"), options, providers=providers)

        def predict(x: np.ndarray) -> np.ndarray:
            return session.run(None, {"x": np.ascontiguousarray(x)})[0]

        return predict


def _folder_problem(path: Path, expected: dict[str, tuple[int, ...]]) -> str | None:
    """The first tensor of a Hugging Face folder that does not fit the model, or why the folder cannot be read."""
    from raylife.errors import RaylifeError
    from raylife.workloads.generative.hf_folder import check_fits, read_folder

    try:
        check_fits(read_folder(path).state, expected)
    except RaylifeError as exc:
        return exc.what
    return None


class TorchBackend(Backend):
    framework = FRAMEWORK
    formats = {f.name: f for f in (StateDictFormat(), SafetensorsFormat(), TorchScriptFormat(), OnnxFormat())}
    trainer = "ray.train.torch:TorchTrainer"
    train_loop = "raylife.frameworks.torch.train_loop:train_loop"

    def set_threads(self, threads: int) -> None:
        torch.set_num_threads(max(1, int(threads)))

    def gpu_visible(self) -> bool:
        return torch.cuda.is_available()

    def to_device(self, model: torch.nn.Module, device: str) -> torch.nn.Module:
        return model.to(torch_device(device))

    def gpu_memory_peak(self) -> GpuMemoryPeak:
        if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
            return GpuMemoryPeak()
        return GpuMemoryPeak(allocated_mb=torch.cuda.max_memory_allocated() / 2**20,
                             reserved_mb=torch.cuda.max_memory_reserved() / 2**20)

    def predict(self, model: torch.nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Logits on the model's own device (inputs copied there, outputs back): the copies are part of the time."""
        model.eval()
        device = next(model.parameters(), torch.zeros(())).device
        with torch.inference_mode():
            parts = [model(torch.from_numpy(x[i : i + batch_size]).to(device)).float().cpu().numpy()
                     for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def weights_problem(self, model: torch.nn.Module, path: Path) -> str | None:
        if path.is_dir():  # a Hugging Face model folder (config.json + model.safetensors): a decoder's
            return _folder_problem(path, {n: tuple(p.shape) for n, p in model.named_parameters()})
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors alike mean "not a state_dict file"
            return f"not a PyTorch state_dict file ({type(exc).__name__})"
        if not isinstance(state, dict):
            return f"holds a {type(state).__name__}, not a state_dict (save model.state_dict())"
        for name, tensor in model.state_dict().items():
            if name not in state:
                return f"tensor '{name}' {tuple(tensor.shape)} of the model is not in the file"
            if tuple(state[name].shape) != tuple(tensor.shape):
                return f"tensor '{name}': the file has shape {tuple(state[name].shape)}, the model {tuple(tensor.shape)}"
        extra = next((name for name in state if name not in model.state_dict()), None)
        return f"tensor '{extra}' of the file is not in the model" if extra else None

    def load_weights(self, model: torch.nn.Module, path: Path) -> None:
        if path.is_dir():
            from raylife.workloads.generative.hf_folder import read_folder

            state = {name: torch.from_numpy(value) for name, value in read_folder(path).state.items()}
            model.load_state_dict(state, strict=False)  # a tied head is the embedding: files may leave it out
            return
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    def count_params(self, model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    def model_facts(self, model: torch.nn.Module, sample: np.ndarray) -> ModelFacts:
        from torch.utils.flop_counter import FlopCounterMode

        model.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.inference_mode():
            model(torch.from_numpy(np.ascontiguousarray(sample[:1])))
        tensors = [*model.parameters(), *model.buffers()]
        return ModelFacts(
            params=self.count_params(model),
            flops_per_sample=float(counter.get_total_flops()),
            model_memory_bytes=float(sum(t.numel() * t.element_size() for t in tensors)),
        )

    def load_checkpoint(self, directory: str | Path) -> torch.nn.Module:
        model = self.build_model(Recipe.read(directory))
        model.load_state_dict(torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=True))
        return model.eval()
