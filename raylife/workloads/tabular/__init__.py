"""Tabular classification: numeric features → class."""

from raylife.workloads.base import DataSource, Workload, random_facts_factory, twin_models

DATA = "raylife.workloads.tabular.data"

_model = twin_models("raylife.workloads.tabular", check="features")


WORKLOAD = Workload(
    name="tabular",
    task="tabular classification",
    description="Classify rows of numeric features (standardised); default data: scikit-learn's breast cancer set (real).",
    sources={
        "breast_cancer": DataSource("breast_cancer", "scikit-learn's bundled Wisconsin breast cancer set: 569 real rows, 30 features, 2 classes",
                                    f"{DATA}:describe_breast_cancer", f"{DATA}:load_breast_cancer"),
        "wine": DataSource("wine", "scikit-learn's bundled wine set: 178 real rows, 13 features, 3 classes",
                           f"{DATA}:describe_wine", f"{DATA}:load_wine"),
        "csv": DataSource("csv", "a CSV file, or with stream = true a file or folder streamed through Ray Data "
                          "(options: label_column, feature_columns, max_rows, stream)",
                          f"{DATA}:describe_csv", f"{DATA}:load_csv", needs_path=True, stream=f"{DATA}:stream_csv",
                          stream_option="stream"),
        "parquet": DataSource("parquet", "a Parquet file, or with stream = true a file or folder streamed through Ray "
                              "Data (options: label_column, feature_columns, max_rows, stream)",
                              f"{DATA}:describe_parquet", f"{DATA}:load_parquet", needs_path=True,
                              stream=f"{DATA}:stream_parquet", stream_option="stream"),
    },
    default_dataset="breast_cancer",
    models={
        "mlp": _model("mlp", "deep MLP: depth x (Linear, ReLU, Dropout), then a classifier", width=128, depth=4, dropout=0.1),
        "resmlp": _model("resmlp", "residual MLP: blocks of LayerNorm → Linear(2x) → ReLU → Linear with a skip", width=128, blocks=3),
    },
    random_facts=random_facts_factory((32,), "float32", classes=2),
)
