"""PyTorch backend: TorchTrainer wiring, storage formats, prediction. Imported only in cluster processes."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from raylife.frameworks.backend import Backend, ModelFormat, Predictor, read_recipe, write_recipe
from raylife.frameworks.torch import FRAMEWORK

STATE_FILE = "model.pt"


def _numpy_predictor(module: Any) -> Predictor:
    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(x))).numpy()  # ids stay int64, images float32

    return predict


class StateDictFormat(ModelFormat):
    name = "state_dict"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Mapping[str, Any]) -> None:
        torch.save(model.state_dict(), directory / STATE_FILE)
        write_recipe(directory, recipe)  # a state_dict is only weights: loading needs the builder

    def load(self, directory: Path) -> Predictor:
        return _numpy_predictor(TorchBackend().load_checkpoint(directory))


class TorchScriptFormat(ModelFormat):
    name = "torchscript"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Mapping[str, Any]) -> None:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore", DeprecationWarning)  # jit is deprecated in 2.x but still what many deploy
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.trace(model.eval(), torch.from_numpy(sample)).save(str(directory / "model.ts"))

    def load(self, directory: Path) -> Predictor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(directory / "model.ts"))
        return _numpy_predictor(module.eval())


class OnnxFormat(ModelFormat):
    name = "onnx"

    def save(self, model: torch.nn.Module, directory: Path, sample: np.ndarray, recipe: Mapping[str, Any]) -> None:
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

    def load(self, directory: Path) -> Predictor:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"])

        def predict(x: np.ndarray) -> np.ndarray:
            return session.run(None, {"x": np.ascontiguousarray(x)})[0]

        return predict


class TorchBackend(Backend):
    framework = FRAMEWORK
    formats = {f.name: f for f in (StateDictFormat(), TorchScriptFormat(), OnnxFormat())}

    def set_threads(self, threads: int) -> None:
        torch.set_num_threads(max(1, int(threads)))

    def make_trainer(self, config: dict[str, Any], scaling_config: Any, run_config: Any) -> Any:
        from ray.train.torch import TorchTrainer

        from raylife.frameworks.torch.train_loop import train_loop

        return TorchTrainer(
            train_loop, train_loop_config=config, scaling_config=scaling_config, run_config=run_config
        )

    def predict(self, model: torch.nn.Module, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        model.eval()
        with torch.inference_mode():
            parts = [model(torch.from_numpy(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    def count_params(self, model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    def model_facts(self, model: torch.nn.Module, sample: np.ndarray) -> dict[str, float | None]:
        from torch.utils.flop_counter import FlopCounterMode

        model.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.inference_mode():
            model(torch.from_numpy(np.ascontiguousarray(sample[:1])))
        tensors = [*model.parameters(), *model.buffers()]
        return {
            "params": self.count_params(model),
            "flops_per_sample": float(counter.get_total_flops()),
            "model_memory_bytes": float(sum(t.numel() * t.element_size() for t in tensors)),
        }

    def load_checkpoint(self, directory: str | Path) -> torch.nn.Module:
        model = self.build_model(read_recipe(directory))
        model.load_state_dict(torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=True))
        return model.eval()
