"""Audio (keyword / sound) classification from raw waveforms, with a log-mel front end in the model."""

from raylife.workloads.base import DataSource, Workload, random_facts_factory, twin_models

DATA = "raylife.workloads.audio.data"

_model = twin_models("raylife.workloads.audio", check="waveform")


WORKLOAD = Workload(
    name="audio",
    task="keyword / sound classification",
    description="Classify mono waveforms; the models compute log-mel spectrograms themselves. Default data: generated keywords.",
    sources={
        "keywords": DataSource(
            "keywords", "GENERATED three-tone 'keywords' told apart by tone order (options: samples, sample_rate, duration_s, classes, seed)",
            f"{DATA}:describe_keywords", f"{DATA}:load_keywords", synthetic=True,
        ),
        "wavfolder": DataSource(
            "wavfolder", "PATH/<class>/*.wav PCM clips, like Speech Commands (options: sample_rate, duration_s, max_per_class)",
            f"{DATA}:describe_wavfolder", f"{DATA}:load_wavfolder", needs_path=True,
        ),
    },
    default_dataset="keywords",
    models={
        "cnn": _model("cnn", "log-mel spectrogram, three 3x3 conv + pool blocks, global average pool", width=16),
        "dscnn": _model("dscnn", "log-mel spectrogram, depthwise-separable CNN (DS-CNN, the keyword-spotting classic)", width=32, blocks=3),
    },
    random_facts=random_facts_factory((8000,), "float32", classes=8, model_args=lambda high: {"sample_rate": 8000}),
)
