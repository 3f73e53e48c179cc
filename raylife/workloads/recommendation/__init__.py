"""Recommendation: will this user like this item? Inputs are (user index, item index) pairs."""

from raylife.workloads.base import DataSource, Workload, random_facts_factory, twin_models

DATA = "raylife.workloads.recommendation.data"

_model = twin_models("raylife.workloads.recommendation", check="pairs")


WORKLOAD = Workload(
    name="recommendation",
    task="recommendation (implicit like / not)",
    description="Predict whether a user likes an item from (user, item) ids; default data: generated latent-factor interactions.",
    sources={
        "synthetic_ratings": DataSource(
            "synthetic_ratings", "GENERATED interactions with latent-factor structure (options: users, items, per_user, factors, seed)",
            f"{DATA}:describe_synthetic", f"{DATA}:load_synthetic", synthetic=True,
        ),
        "ratings": DataSource(
            "ratings", "a ratings CSV: user, item, rating (MovieLens ratings.csv by default; options: user_column, item_column, "
            "rating_column, threshold, max_rows)", f"{DATA}:describe_ratings", f"{DATA}:load_ratings", needs_path=True,
        ),
    },
    default_dataset="synthetic_ratings",
    models={
        "mf": _model("mf", "matrix factorisation: user and item embeddings, their product through a linear layer, plus user and item biases", dim=32),
        "two_tower": _model("two_tower", "two-tower: an MLP over each side's embedding, their product through a linear layer, plus biases", dim=32, hidden=64),
        "dlrm": _model("dlrm", "DLRM (MLPerf's structure): bottom MLP over log dense counts, an embedding per id column, "
                       "pairwise dot interactions, top MLP (options: dense, dim, bottom, top, rows)", check_name="dlrm"),
    },
    random_facts=random_facts_factory((2,), "int64", classes=2, model_args=lambda high: {"num_users": high, "num_items": high}),
)
