"""The TensorFlow training loop, run by every Ray Train worker: tf.keras ``fit`` under
MultiWorkerMirroredStrategy (Ray's TensorflowConfig sets TF_CONFIG for each worker)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from raylife.frameworks.contract import WorkerProbe
from raylife.frameworks.worker import (
    WorkerSession,
    local_checkpoint,
    loop_of,
    make_recipe,
    resume_checkpoint,
    write_progress,
)


def train_loop(config: dict[str, Any]) -> WorkerProbe:
    import ray.train
    import tensorflow as tf

    from raylife.frameworks.tensorflow.backend import TensorflowBackend

    loop = loop_of(config)
    session = WorkerSession(loop)
    backend = TensorflowBackend()
    backend.set_threads(loop.threads)  # before the strategy initialises the runtime
    tf.keras.utils.set_random_seed(loop.seed)
    if loop.precision != "fp32":  # layers compute in bf16/fp16, variables stay fp32; fp16 gets a loss-scale optimizer
        tf.keras.mixed_precision.set_global_policy({"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[loop.precision])
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    splits = loop.data.load()
    x, y = splits[loop.split]
    x_val, y_val = splits["val"]
    recipe = make_recipe(loop, splits)
    resume_dir, session.resumed_from_epoch = resume_checkpoint()  # set when Ray Train restarted the workers
    with strategy.scope():
        if resume_dir or loop.init_checkpoint:
            with local_checkpoint(resume_dir or loop.init_checkpoint) as directory:
                model = backend.load_checkpoint(directory)
        else:
            model = backend.build_model(recipe)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(loop.learning_rate),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )

    options = tf.data.Options()
    # In-memory arrays have no files to shard by: shard by element, each worker a disjoint part of every batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # the global batch; tf.distribute splits it across workers
    train_ds = batches(x, y, loop.batch_size, shuffle_seed=loop.seed).with_options(options)
    val_ds = batches(x_val, y_val, 512).with_options(options)
    epochs = loop.epochs
    if loop.steps:  # one epoch of exactly loop.steps global batches, the data cycled as often as needed
        train_ds = train_ds.repeat()
    steps = loop.steps or session.steps(len(y), loop.batch_size)  # global batches: every worker takes as many
    samples = steps * loop.batch_size if loop.steps else len(y)

    class Reporter(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch
            self.start = time.perf_counter()
            self.train_end = None
            session.mark_step()  # the first epoch's first step starts now (no per-batch hook: see FaultyReporter)

        def on_test_begin(self, logs: Any = None) -> None:
            self.train_end = time.perf_counter()  # validation is not part of the epoch's training time

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epoch_s = (self.train_end or time.perf_counter()) - self.start
            record = session.end_epoch(
                epoch, logs["loss"], logs["val_loss"], logs["val_accuracy"], epoch_s, samples
            )
            if epoch < epochs - 1 and not loop.checkpoint_every_epoch:
                ray.train.report(record.as_report() if session.is_chief else {"epoch": epoch})
                return
            # Under MultiWorkerMirroredStrategy every worker must take part in saving; only rank 0's
            # copy becomes the checkpoint.
            with tempfile.TemporaryDirectory() as tmp:
                stall = time.perf_counter()
                backend.save_checkpoint(self.model, Path(tmp), x_val[:8], recipe)
                write_progress(tmp, epoch + 1)
                if session.is_chief:
                    ray.train.report(record.as_report(), checkpoint=ray.train.Checkpoint.from_directory(tmp))
                    session.checkpoint_taken(epoch, tmp, time.perf_counter() - stall)
                else:
                    ray.train.report({"epoch": epoch})

    class FaultyReporter(Reporter):
        """A per-batch hook costs Python on every step, so only a worker with a fault to inject has one."""

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            session.maybe_fail(self.epoch, batch, steps)

    reporter = FaultyReporter() if loop.fault is not None and loop.fault.rank == session.rank else Reporter()
    model.fit(train_ds, epochs=epochs, initial_epoch=session.resumed_from_epoch, validation_data=val_ds,
              steps_per_epoch=loop.steps, callbacks=[reporter], verbose=0)
    return session.finish(replicas=strategy.num_replicas_in_sync)


def batches(x: Any, y: Any, batch: int, shuffle_seed: int | None = None) -> Any:
    """A tf.data pipeline of (inputs, labels) batches: from the arrays, or for generated random inputs
    (``workloads.generated``), batches of row indices whose rows are fetched on demand, so the split is never
    materialised whole."""
    import numpy as np
    import tensorflow as tf

    if isinstance(x, np.ndarray):
        data = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle_seed is not None:
            data = data.shuffle(len(y), seed=shuffle_seed, reshuffle_each_iteration=True)
        return data.batch(batch)
    rows = tf.data.Dataset.range(len(y))
    if shuffle_seed is not None:
        rows = rows.shuffle(len(y), seed=shuffle_seed, reshuffle_each_iteration=True)
    dtype, shape = tf.as_dtype(x.dtype), (None, *x.shape[1:])

    def fetch(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[index], y[index]

    def rows_of(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        inputs, labels = tf.numpy_function(fetch, [index], (dtype, tf.int64))
        return tf.ensure_shape(inputs, shape), tf.ensure_shape(labels, (None,))

    return rows.batch(batch).map(rows_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)
