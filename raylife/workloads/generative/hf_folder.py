"""A local Hugging Face model folder (``config.json`` + ``model.safetensors``), the form published decoders come in:
its architecture as a raylife builder and options, its tensors by name, and the check that they fit a model.

Light (numpy, json, safetensors): the check runs before anything is built. Both forms of names load: a causal LM's
(``transformer.h.0…``, ``model.layers.0…``) and a bare decoder's as the original GPT-2 files hold them (``h.0…``),
given the prefix here. Buffers older files keep beside the weights (GPT-2's causal mask ``attn.bias``, a rotary
``inv_freq``) are not weights and are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from raylife.errors import PlanError

PREFIX = {"gpt2": "transformer.", "llama": "model."}
TIED = "lm_head.weight"
BUFFERS = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")


@dataclass(frozen=True)
class Folder:
    """What a model folder holds: the builder (``gpt2`` or ``llama``), its vocabulary and options, its tensors."""

    model: str
    vocab_size: int
    options: dict[str, Any]
    state: dict[str, np.ndarray]


def _options(model_type: str, config: Mapping[str, Any]) -> dict[str, Any]:
    if model_type == "gpt2":
        return {"dim": config["n_embd"], "layers": config["n_layer"], "heads": config["n_head"],
                "positions": config["n_positions"]}
    rope = config.get("rope_parameters") or {}
    return {"dim": config["hidden_size"], "layers": config["num_hidden_layers"], "heads": config["num_attention_heads"],
            "kv_heads": config.get("num_key_value_heads") or config["num_attention_heads"],
            "ffn": config["intermediate_size"], "positions": config["max_position_embeddings"],
            "rope_theta": float(rope.get("rope_theta", config.get("rope_theta", 10_000.0))),
            "eps": float(config.get("rms_norm_eps", 1e-6))}


def read_folder(path: str | Path) -> Folder:
    """The folder's architecture and tensors; a PlanError naming what is missing or not understood."""
    from safetensors.numpy import load_file

    path = Path(path)
    config_file, weights_file = path / "config.json", path / "model.safetensors"
    for needed in (config_file, weights_file):
        if not needed.is_file():
            raise PlanError(f"{path} has no {needed.name}", where="weights",
                            hint="give a Hugging Face model folder (config.json and model.safetensors)")
    try:
        config = json.loads(config_file.read_text())
        model_type = config["model_type"]
        if model_type not in PREFIX:
            raise PlanError(f"{config_file} describes a {model_type!r} model; raylife builds {', '.join(PREFIX)}",
                            where="weights", hint="give a GPT-2 or Llama folder")
        options = _options(model_type, config)
        vocab = int(config["vocab_size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanError(f"cannot read {config_file}: {type(exc).__name__}: {exc}", where="weights",
                        hint="config.json as transformers writes it") from None
    try:
        raw = load_file(str(weights_file))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError and OSErrors
        raise PlanError(f"cannot read {weights_file}: {exc}", where="weights",
                        hint="a safetensors file as transformers writes it") from None
    prefix = PREFIX[model_type]
    state = {(name if name.startswith(prefix) or name == TIED else prefix + name): value
             for name, value in raw.items() if not name.endswith(BUFFERS)}
    return Folder(model_type, vocab, options, state)


def check_fits(state: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]], where: str = "weights") -> None:
    """Every tensor the model holds is in ``state`` at the same shape, and nothing else is (a tied ``lm_head`` may
    be either); a PlanError names the first that is not."""
    for name, shape in expected.items():
        if name not in state:
            raise PlanError(f"tensor {name} {tuple(shape)} is missing from the file", where=where,
                            hint="the file holds another architecture: check the model and its options")
        if tuple(np.shape(state[name])) != tuple(shape):
            raise PlanError(f"tensor {name} is {tuple(np.shape(state[name]))} in the file, {tuple(shape)} in the model",
                            where=where, hint="the file holds another size: check the model's options")
    for name in state:
        if name not in expected and name != TIED:
            raise PlanError(f"tensor {name} {tuple(np.shape(state[name]))} has no place in the model", where=where,
                            hint="the file holds another architecture: check the model and its options")
