"""TensorFlow: trained with Ray Train's TensorflowTrainer (MultiWorkerMirroredStrategy, tf.keras fit).

Keras 3's ``fit`` fails under MultiWorkerMirroredStrategy with two or more workers
(keras-team/keras#20585), so every TensorFlow process runs tf.keras as tf_keras (Keras 2), which
supports it. The variable must be set before TensorFlow is first imported, hence process-level env vars.
"""

from raylife.frameworks import Framework

FRAMEWORK = Framework(
    name="tensorflow",
    display_name="TensorFlow",
    distribution="tensorflow",
    native_format="keras",
    formats={
        "keras": "Keras archive (model.keras: a zip of config.json and model.weights.h5), architecture and weights",
        "h5": "legacy Keras HDF5 file (model.h5), architecture and weights: tf_keras loads it from disk directly",
        "safetensors": "the weights as safetensors, a tensor per variable in order (no pickle, no HDF5), rebuilt from the model's builder",
        "savedmodel": "TensorFlow SavedModel (tf.saved_model.save), loads without the model's Python code",
    },
    backend="raylife.frameworks.tensorflow.backend:TensorflowBackend",
    # TF_FORCE_GPU_ALLOW_GROWTH: TensorFlow otherwise takes every GPU's whole memory at start, and replicas sharing
    # a GPU (gpus_per_replica < 1) or the trial's actor beside a training worker could not run.
    env_vars={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_FORCE_GPU_ALLOW_GROWTH": "true"},
)
