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
        "keras": "Keras archive (model.save('model.keras')), architecture and weights",
        "savedmodel": "TensorFlow SavedModel (tf.saved_model.save), loads without the model's Python code",
    },
    backend="raylife.frameworks.tensorflow.backend:TensorflowBackend",
    env_vars={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
)
