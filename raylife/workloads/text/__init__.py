"""Text classification over token id sequences."""

from raylife.workloads.base import DataSource, Workload, random_facts_factory, twin_models

DATA = "raylife.workloads.text.data"

_model = twin_models("raylife.workloads.text", check="tokens")


WORKLOAD = Workload(
    name="text",
    task="text classification",
    description="Classify texts tokenised offline to fixed-length id sequences; default data: generated sentiment reviews.",
    sources={
        "sentiment": DataSource(
            "sentiment", "GENERATED reviews whose label depends on word order and negation (options: samples, seq_len, vocab_size, seed)",
            f"{DATA}:describe_sentiment", f"{DATA}:load_sentiment", synthetic=True,
        ),
        "textfolder": DataSource(
            "textfolder", "PATH/<class>/*.txt, like aclImdb/train (options: classes, seq_len, vocab_size, max_per_class)",
            f"{DATA}:describe_textfolder", f"{DATA}:load_textfolder", needs_path=True,
        ),
        "csv": DataSource(
            "csv", "a CSV with a text and a label column, or with stream = true a file or folder streamed through Ray "
            "Data (options: text_column, label_column, seq_len, vocab_size, max_rows, stream)",
            f"{DATA}:describe_csv", f"{DATA}:load_csv", needs_path=True, stream=f"{DATA}:stream_csv",
            stream_option="stream",
        ),
        "parquet": DataSource(
            "parquet", "a Parquet file with a text and a label column, or with stream = true a file or folder streamed "
            "through Ray Data (options: text_column, label_column, seq_len, vocab_size, max_rows, stream)",
            f"{DATA}:describe_parquet", f"{DATA}:load_parquet", needs_path=True, stream=f"{DATA}:stream_parquet",
            stream_option="stream",
        ),
    },
    default_dataset="sentiment",
    models={
        "transformer": _model("transformer", "Transformer encoder: token + position embeddings, self-attention blocks, mean pool",
                              dim=64, heads=4, layers=2, ffn=128),
        "gru": _model("gru", "recurrent baseline: embedding, one GRU layer, its last state", dim=64, hidden=64),
        "bert_base": _model("bert_base", "BERT-base for sequence classification: 12 layers x 768, 12 heads, 3,072 FFN "
                            "(109.5M parameters at vocabulary 30,522), random init", check_name="encoder"),
        "distilbert": _model("distilbert", "DistilBERT for sequence classification: 6 layers x 768, 12 heads, 3,072 FFN "
                             "(67.0M parameters at vocabulary 30,522), random init", check_name="encoder"),
    },
    random_facts=random_facts_factory((64,), "int64", classes=2, model_args=lambda high: {"vocab_size": high}),
)
