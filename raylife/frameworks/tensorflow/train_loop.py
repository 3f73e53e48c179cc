"""The TensorFlow training loop, run by every Ray Train worker: tf.keras ``fit`` under
MultiWorkerMirroredStrategy (Ray's TensorflowConfig sets TF_CONFIG for each worker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raylife.frameworks.contract import WorkerProbe
from raylife.frameworks.weights import local_weights
from raylife.frameworks.worker import (
    WorkerSession,
    local_checkpoint,
    loop_of,
    make_recipe,
    per_worker_batch,
    resume_checkpoint,
    shard_passes,
)


@dataclass(frozen=True)
class Inputs:
    """One worker's training and validation inputs, and the step counts Keras is given."""

    train: Any
    val: Any
    steps: int  # training steps (global batches) per epoch
    val_steps: int | None  # validation steps per epoch when the input is streamed (it has no length)
    samples: int  # training rows per epoch, for samples/s


def train_loop(config: dict[str, Any]) -> WorkerProbe:
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

    splits = loop.data.load()  # streamed: the lists of files only; the rows come through Ray Data shards
    x_sample = splits.head("val", 8)[0]
    recipe = make_recipe(loop, splits)
    resume_dir, session.resumed_from_epoch = resume_checkpoint()  # set when Ray Train restarted the workers
    model = _compiled_model(loop, session, backend, strategy, recipe, resume_dir)
    inputs = _inputs(loop, session, splits, strategy, recipe)
    save = lambda directory, model: backend.save_checkpoint(model, directory, x_sample, recipe)  # noqa: E731
    reporter = _reporter(loop, session, inputs, save)
    # A distributed (streamed) input has no length Keras could read: both step counts are given, and both inputs
    # repeat, one pass per epoch.
    model.fit(inputs.train, epochs=loop.epochs, initial_epoch=session.resumed_from_epoch, validation_data=inputs.val,
              steps_per_epoch=inputs.steps if loop.streamed else loop.steps,
              validation_steps=inputs.val_steps, callbacks=[reporter], verbose=0)
    return session.finish(replicas=strategy.num_replicas_in_sync)


def _compiled_model(loop: Any, session: WorkerSession, backend: Any, strategy: Any, recipe: Any,
                    resume_dir: str | None) -> Any:
    """The model under the strategy's scope: resumed, from a checkpoint, built (from pretrained weights), compiled."""
    import tensorflow as tf

    with strategy.scope():
        if resume_dir or loop.init_checkpoint:
            with session.restoring(), local_checkpoint(resume_dir or loop.init_checkpoint) as directory:
                model = backend.load_checkpoint(directory)
        else:
            model = backend.build_model(recipe)
            if loop.init_weights:  # fine-tune from pretrained weights
                with local_weights(loop.init_weights) as path:
                    backend.load_weights(model, path)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(loop.learning_rate),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    return model


def _inputs(loop: Any, session: WorkerSession, splits: Any, strategy: Any, recipe: Any) -> Inputs:
    """Ray Data shards as distributed datasets (streamed), or the in-memory arrays sharded by element."""
    import tensorflow as tf

    if loop.streamed:
        train_ds, val_ds = shard_datasets(strategy, session, recipe.input_shape, loop.batch_size, loop.seed, loop.steps)
        per_worker_batch_size = per_worker_batch(loop.batch_size, session.world)
        steps = loop.steps or splits.sizes()[loop.split] // session.world // per_worker_batch_size
        val_steps = -(-splits.sizes()["val"] // per_worker_batch_size)
        return Inputs(train_ds, val_ds, steps, val_steps, steps * loop.batch_size)
    x, y = splits[loop.split]
    x_val, y_val = splits["val"]
    options = tf.data.Options()
    # In-memory arrays have no files to shard by: shard by element, each worker a disjoint part of every batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # the global batch; tf.distribute splits it across workers
    train_ds = batches(x, y, loop.batch_size, shuffle_seed=loop.seed).with_options(options)
    val_ds = batches(x_val, y_val, 512).with_options(options)
    if loop.steps:  # one epoch of exactly loop.steps global batches, the data cycled as often as needed
        train_ds = train_ds.repeat()
    steps = loop.steps or session.steps(len(y), loop.batch_size)  # global batches: every worker takes as many
    return Inputs(train_ds, val_ds, steps, None, steps * loop.batch_size if loop.steps else len(y))


def _reporter(loop: Any, session: WorkerSession, inputs: Inputs, save: Callable[[str, Any], Any]) -> Any:
    """The Keras callback that times each epoch, reports it to Ray Train (with a checkpoint when one is due) and,
    on the worker that has a fault to inject, fails it on purpose."""
    import ray.train
    import tensorflow as tf

    epochs, steps, samples = loop.epochs, inputs.steps, inputs.samples

    class Reporter(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch
            self.start = time.perf_counter()
            self.train_end = None
            self.data_wait_s = None
            session.clock.restart()
            session.mark_step()  # the first epoch's first step starts now (no per-batch hook: see FaultyReporter)

        def on_test_begin(self, logs: Any = None) -> None:
            self.train_end = time.perf_counter()  # validation is not part of the epoch's training time
            # tf.data starts the next pass while validation runs: its waits are not this epoch's
            self.data_wait_s = session.clock.wait_s

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epoch_s = (self.train_end or time.perf_counter()) - self.start
            record = session.end_epoch(
                epoch, logs["loss"], logs["val_loss"], logs["val_accuracy"], epoch_s, samples,
                (self.data_wait_s if self.data_wait_s is not None else session.clock.wait_s) if loop.streamed else None,
            )
            if epoch < epochs - 1 and not loop.checkpoint_every_epoch:
                ray.train.report(record.as_report() if session.is_chief else {"epoch": epoch})
                return
            # Under MultiWorkerMirroredStrategy every worker must take part in saving; only rank 0's
            # copy becomes the checkpoint.
            session.report_checkpoint(epoch, record.as_report(), lambda directory: save(directory, self.model))

    class FaultyReporter(Reporter):
        """A per-batch hook costs Python on every step, so only a worker with a fault to inject has one."""

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            session.maybe_fail(self.epoch, batch, steps)

    return FaultyReporter() if loop.fault is not None and loop.fault.rank == session.rank else Reporter()


def shard_datasets(strategy: Any, session: WorkerSession, input_shape: tuple[int, ...], global_batch: int, seed: int,
                   steps: int | None) -> tuple[Any, Any]:
    """This worker's Ray Data shards ("train", split across the workers; "val", whole) as distributed tf.data inputs.

    Built per replica (``distribute_datasets_from_function``): the shard is this worker's already, so tf.distribute
    must neither shard it again nor rebatch it; each replica takes the global batch's share, and the generator times
    every wait on Ray Data (``session.clock``).
    """
    import ray.train
    import tensorflow as tf

    train, val = ray.train.get_dataset_shard("train"), ray.train.get_dataset_shard("val")
    signature = (tf.TensorSpec((None, *input_shape), tf.float32), tf.TensorSpec((None,), tf.int64))

    def rows(shard: Any, batch: int, **options: Any) -> Any:
        def generate() -> Any:
            for b in shard.iter_batches(batch_size=batch, batch_format="numpy", **options):
                yield b["x"], b["y"]
        return generate

    def train_input(context: Any) -> Any:
        batch = context.get_per_replica_batch_size(global_batch)
        epoch = {"n": 0}

        def timed() -> Any:
            epoch["n"] += 1
            passes = shard_passes(lambda cycle: train.iter_batches(
                batch_size=batch, batch_format="numpy", drop_last=True, local_shuffle_buffer_size=4 * batch,
                local_shuffle_seed=seed * 1000 + epoch["n"] * 100 + cycle), steps)
            for b in session.clock.timed(passes):
                yield b["x"], b["y"]

        return tf.data.Dataset.from_generator(timed, output_signature=signature).repeat()

    def val_input(context: Any) -> Any:
        # the training batch: inference at it needs less memory than the training step did (a fixed 256 rows of
        # 128x128 images cost a small CNN ~0.7 GiB of activations)
        batch = context.get_per_replica_batch_size(global_batch)
        return tf.data.Dataset.from_generator(rows(val, batch), output_signature=signature).repeat()

    return strategy.distribute_datasets_from_function(train_input), strategy.distribute_datasets_from_function(val_input)


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
    label_shape = (None, *np.shape(y)[1:])  # a decoder's: a next token at every position

    def fetch(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[index], y[index]

    def rows_of(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        inputs, labels = tf.numpy_function(fetch, [index], (dtype, tf.int64))
        return tf.ensure_shape(inputs, shape), tf.ensure_shape(labels, label_shape)

    return rows.batch(batch).map(rows_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)
