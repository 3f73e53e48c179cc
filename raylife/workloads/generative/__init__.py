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

from raylife.workloads.base import DataSource, ModelInfo, Workload
from raylife.workloads.generative.data import random_tokens
from raylife.workloads.generative.shapes import SHAPES

DATA = "raylife.workloads.generative.data"
_PACKED = "options: seq_len, tokenizer (a tokenizer.json; default the built-in byte-level one), max_documents"


def _model(shape: str, description: str) -> ModelInfo:
    s = SHAPES[shape]
    return ModelInfo(name=shape, description=description, options=s.options,
                     builders={"torch": f"raylife.workloads.generative.torch_models:{s.model}",
                               "tensorflow": f"raylife.workloads.generative.tf_models:{s.model}"},
                     check="raylife.workloads.generative.checks:fits")


WORKLOAD = Workload(
    name="generative",
    task="language modelling",
    description="Decoder language models trained on next-token prediction over packed text; quality is held-out "
                "perplexity beside the unigram model's. Default data: generated stories.",
    sources={
        "stories": DataSource(
            "stories", "GENERATED short stories whose nouns decide their verbs and adjectives (options: documents, "
            "seq_len, seed, tokenizer)", f"{DATA}:describe_stories", f"{DATA}:load_stories", synthetic=True,
            path_options=("tokenizer",)),
        "text": DataSource("text", f"a text file, one document per line ({_PACKED})", f"{DATA}:describe_text",
                           f"{DATA}:load_text", needs_path=True, path_options=("tokenizer",)),
        "jsonl": DataSource("jsonl", f"JSON lines with a text field ({_PACKED}, text_column)", f"{DATA}:describe_jsonl",
                            f"{DATA}:load_jsonl", needs_path=True, path_options=("tokenizer",)),
        "parquet": DataSource("parquet", f"a Parquet file with a text column ({_PACKED}, text_column)",
                              f"{DATA}:describe_parquet", f"{DATA}:load_parquet", needs_path=True,
                              path_options=("tokenizer",)),
    },
    default_dataset="stories",
    models={
        "gpt2_small": _model("gpt2_small", "GPT-2 small: 12 layers x 768, 12 heads, learned positions, tied embeddings "
                             "(124,439,808 parameters at vocabulary 50,257); options dim, layers, heads, positions"),
        "smollm2_135m": _model("smollm2_135m", "Llama architecture at SmolLM2-135M's shape: 30 layers x 576, 9 heads, 3 "
                               "key-value heads, SwiGLU 1,536, RMSNorm, rotary (134,515,008 parameters at vocabulary "
                               "49,152); options dim, layers, heads, kv_heads, ffn, positions, rope_theta"),
        "llama_3_2_1b": _model("llama_3_2_1b", "Llama-3.2-1B's shape: 16 layers x 2,048, 32 heads, 8 key-value heads, "
                               "SwiGLU 8,192 (1,235,814,400 parameters at vocabulary 128,256); for GPUs"),
    },
    random_facts=random_tokens,
    stages={"deploy": "raylife.stages.tokens:TokenDeployStage", "serve": "raylife.stages.tokens:TokenServeStage"},
)
