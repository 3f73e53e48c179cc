"""PyTorch decoders: Hugging Face transformers' GPT2LMHeadModel and LlamaForCausalLM, built from a config (nothing is
downloaded), their parameter names the library's.

The classes below only change what ``forward(ids)`` returns — the logits tensor, as every raylife model returns — so
training, evaluation and the storage formats treat a decoder like any classifier; ``forward(ids, **kwargs)`` is the
library's own call (a KV cache: ``cache`` in transformers 5, ``past_key_values`` in 4.x, with ``use_cache``).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


class GPT2(GPT2LMHeadModel):
    def forward(self, input_ids: torch.Tensor, **kwargs: object) -> Any:  # the logits, or the library's output
        if kwargs:
            return super().forward(input_ids=input_ids, **kwargs)
        return super().forward(input_ids=input_ids, use_cache=False).logits


class Llama(LlamaForCausalLM):
    def forward(self, input_ids: torch.Tensor, **kwargs: object) -> Any:  # the logits, or the library's output
        if kwargs:
            return super().forward(input_ids=input_ids, **kwargs)
        return super().forward(input_ids=input_ids, use_cache=False).logits


def gpt2(input_shape: tuple[int, ...], num_classes: int, dim: int = 768, layers: int = 12, heads: int = 12,
         positions: int = 1024) -> GPT2:
    """GPT-2 (small by default: 124,439,808 parameters at vocabulary 50,257); ``num_classes`` is the vocabulary."""
    config = GPT2Config(vocab_size=num_classes, n_positions=positions, n_embd=dim, n_layer=layers, n_head=heads,
                        bos_token_id=None, eos_token_id=None,  # GPT-2's 50,256 lies outside a smaller vocabulary
                        # no dropout, as the TensorFlow twin and the Llama builder: with the config's 0.1 the two
                        # frameworks would train different models (held-out perplexity 3.25 against 1.35 here)
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        tie_word_embeddings=True, attn_implementation="eager")
    return GPT2(config)


def llama(input_shape: tuple[int, ...], num_classes: int, dim: int = 576, layers: int = 30, heads: int = 9,
          kv_heads: int = 3, ffn: int = 1536, positions: int = 8192, rope_theta: float = 100_000.0,
          eps: float = 1e-5) -> Llama:
    """A Llama decoder (RMSNorm, rotary positions, SwiGLU, grouped-query attention), SmolLM2-135M's shape by default
    (134,515,008 parameters at vocabulary 49,152); ``num_classes`` is the vocabulary."""
    config = LlamaConfig(vocab_size=num_classes, hidden_size=dim, intermediate_size=ffn, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=positions,
                         rope_theta=rope_theta, rms_norm_eps=eps, tie_word_embeddings=True, attn_implementation="eager")
    return Llama(config)


def from_folder(path: str) -> GPT2 | Llama:
    """A decoder built and loaded from a local Hugging Face folder (config.json + model.safetensors), every tensor
    checked first: a PlanError names the first that does not fit."""
    from raylife.workloads.generative.hf_folder import check_fits, read_folder

    folder = read_folder(path)
    model = {"gpt2": gpt2, "llama": llama}[folder.model]((None,), folder.vocab_size, **folder.options)
    check_fits(folder.state, {name: tuple(p.shape) for name, p in model.named_parameters()})
    model.load_state_dict({name: torch.from_numpy(v) for name, v in folder.state.items()}, strict=False)
    return model.eval()
