"""Decoder language models (causal LM): GPT-2 and a Llama-architecture decoder, in both frameworks.

A decoder is a classifier of the next token at every position: its builders take ``input_shape = (seq_len,)`` and
``num_classes = vocabulary size`` and return per-position logits ``(batch, seq_len, vocabulary)``, so the frameworks'
contract (build, count, save, load) holds for them as for every other model. PyTorch's are Hugging Face transformers'
own classes built from a config (their parameter names are the library's, so a local Hugging Face folder loads as it
is); TensorFlow's are raylife's twins layer for layer (``tf_models``), whose layers carry the same names, so one
converter (``convert``) copies a PyTorch state dict or a safetensors file into them.

Shapes (``shapes``): GPT-2 small, SmolLM2-135M's Llama shape and Llama-3.2-1B's, with the published parameter counts
the tests check.
"""
