"""Synchronous data-parallel training under a ``tf.distribute`` strategy.

Keras 3's ``fit`` cannot run under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585:
``ValueError: Attempt to convert a value (PerReplica...)``), so biocnn trains distributed
models with this loop, built from TensorFlow's documented pieces: ``strategy.run``, a loss
averaged over the **global** batch (``tf.nn.compute_average_loss``) and the Keras optimizer's
``apply_gradients`` (which sums the replicas' gradients). It drives the same Keras callbacks as
``fit`` (learning-rate drops, early stopping, biocnn's checkpointer, a progress bar) and logs
the same keys: ``loss``, each metric, ``val_loss`` and ``val_<metric>``.

Every process reads the same global batches (same data, same seeded order); replica ``r`` of
``R`` (over all workers) trains on the contiguous slice ``[n*r//R, n*(r+1)//R)`` of each
global batch of ``n`` samples, so the union of the slices is exactly the batch a single
process would train on.
"""

import itertools

import keras
import tensorflow as tf

SUM = tf.distribute.ReduceOp.SUM


def per_sample_loss(loss):
    """A copy of the Keras loss ``loss`` (object, function or name) that returns one value per
    sample (no reduction)."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss.__class__.from_config({**loss.get_config(), "reduction": None})
    if callable(loss):
        return loss  # a plain function already gives one value per sample
    raise ValueError(f"The distributed loop needs a Keras loss object or function, got {loss!r}.")


def _accuracy(y_true, y_pred):
    # Keras's rule for the name "accuracy" (binary, sparse or one-hot labels).
    if y_pred.shape[-1] == 1:
        return keras.metrics.binary_accuracy
    if len(y_true.shape) < len(y_pred.shape) or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return keras.metrics.sparse_categorical_accuracy
    return keras.metrics.categorical_accuracy


def metric_function(identifier, y_true, y_pred):
    """``(name, fn)``: the per-sample function of a compiled metric (a name or a function).

    Raises:
        ValueError: a stateful metric object (AUC, precision ...) that is not a mean over
            samples; compute it after training with ``biocnn.evaluation``.
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return identifier, _accuracy(y_true, y_pred)
    fn = keras.metrics.get(identifier)
    if isinstance(fn, keras.metrics.Metric) or not callable(fn):
        raise ValueError(
            f"Metric {identifier!r} cannot be used with a distribution strategy: biocnn's distributed "
            "loop supports metrics that average one value per sample (e.g. 'accuracy', 'mse', "
            "'mae'). Evaluate other metrics after training (biocnn.evaluation)."
        )
    name = identifier if isinstance(identifier, str) else getattr(fn, "__name__", str(fn))
    return name, fn


def replica_slice(batch, context):
    """Replica ``context.replica_id_in_sync_group``'s contiguous slice of a global batch."""
    n = tf.shape(tf.nest.flatten(batch)[0])[0]
    r, replicas = context.replica_id_in_sync_group, context.num_replicas_in_sync
    start, stop = n * r // replicas, n * (r + 1) // replicas
    return tf.nest.map_structure(lambda t: t[start:stop], batch)


class Steps:
    """The compiled per-step functions of one model under one strategy.

    Each returns the sums over the global batch: ``count``, ``loss`` (per-sample losses plus
    the model's regularisation losses per sample) and every metric.
    """

    def __init__(self, model, strategy, metrics, transform=None):
        self.model, self.strategy, self.metrics = model, strategy, list(metrics)
        self.loss = per_sample_loss(model.loss)
        self.transform = transform
        self.train = tf.function(self._train, reduce_retracing=True)
        self.evaluate = tf.function(self._evaluate, reduce_retracing=True)

    def distribute(self, batch):
        """Per-replica values: each replica's slice of the global ``batch``."""
        return self.strategy.experimental_distribute_values_from_function(
            lambda context: replica_slice(batch, context)
        )

    def _sums(self, x, y, y_pred, per_sample, regularisation):
        count = tf.cast(tf.shape(per_sample)[0], tf.float32)
        sums = {"count": count, "loss": tf.reduce_sum(per_sample) + regularisation * count}
        for identifier in self.metrics:
            name, fn = metric_function(identifier, y, y_pred)
            sums[name] = tf.reduce_sum(tf.cast(fn(y, y_pred), tf.float32))
        return sums

    def _regularisation(self):
        losses = self.model.losses
        return tf.add_n([tf.cast(v, tf.float32) for v in losses]) if losses else tf.constant(0.0)

    def _train_replica(self, x, y, global_count):
        if self.transform is not None:
            x, y = self.transform(x, y)
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            per_sample = tf.cast(self.loss(y, y_pred), tf.float32)
            regularisation = self._regularisation()
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_count)
            loss += tf.nn.scale_regularization_loss(regularisation)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.model.optimizer.apply_gradients(zip(gradients, variables))
        return self._sums(x, y, y_pred, per_sample, regularisation)

    def _evaluate_replica(self, x, y):
        y_pred = self.model(x, training=False)
        per_sample = tf.cast(self.loss(y, y_pred), tf.float32)
        return self._sums(x, y, y_pred, per_sample, self._regularisation())

    def _reduce(self, per_replica):
        return {k: self.strategy.reduce(SUM, v, axis=None) for k, v in per_replica.items()}

    def _train(self, batch, global_count):
        x, y = batch
        return self._reduce(self.strategy.run(self._train_replica, args=(x, y, global_count)))

    def _evaluate(self, batch):
        x, y = batch
        return self._reduce(self.strategy.run(self._evaluate_replica, args=(x, y)))


def _global_count(batch):
    return tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]


def _means(totals):
    count = max(float(totals["count"]), 1.0)
    return {k: float(v) / count for k, v in totals.items() if k != "count"}


def _accumulate(totals, sums):
    for key, value in sums.items():
        totals[key] = totals.get(key, 0.0) + value
    return totals


def train_epoch(steps, batches, callbacks):
    """One epoch over ``batches`` (an iterable of global batches); returns the epoch's logs."""
    totals = {}
    for step, batch in enumerate(batches):
        callbacks.on_train_batch_begin(step)
        sums = steps.train(steps.distribute(batch), _global_count(batch))
        totals = _accumulate(totals, sums)
        callbacks.on_train_batch_end(step, _means(totals))
        if steps.model.stop_training:
            break
    return _means(totals)


def evaluate(steps, batches):
    """Loss and metrics over ``batches``, every replica taking its slice of each batch."""
    totals = {}
    for batch in batches:
        totals = _accumulate(totals, steps.evaluate(steps.distribute(batch)))
    return _means(totals)


def validation_batches(validation, batch_size):
    """``(x, y)`` arrays as a dataset of batches; a ``tf.data.Dataset`` as given."""
    if validation is None or isinstance(validation, tf.data.Dataset):
        return validation
    return tf.data.Dataset.from_tensor_slices(tuple(validation)).batch(batch_size)


def fit(model, strategy, train, epochs, initial_epoch=0, steps_per_epoch=None, validation=None,
        callbacks=(), metrics=("accuracy",), verbose=1, transform=None, validation_batch_size=32):
    """Train a compiled ``model`` whose variables live in ``strategy`` (see ``replicas.replicate``).

    Args:
        model: a Keras model compiled with a loss and an optimizer, built in ``strategy.scope()``.
        strategy: a ``tf.distribute.Strategy``.
        train: a ``tf.data.Dataset`` of global ``(x, y)`` batches: with ``steps_per_epoch`` one
            stream of the batches of every remaining epoch, otherwise one epoch, repeated.
        epochs, initial_epoch: as in Keras's ``fit``.
        steps_per_epoch: batches per epoch of ``train`` (None: until ``train`` ends).
        validation: ``(x_val, y_val)`` arrays or a ``tf.data.Dataset`` of batches, or None.
        callbacks: Keras callbacks; they see the same hooks and logs as under ``fit``.
        metrics: the per-sample metrics to log (see :func:`metric_function`).
        verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
        transform: ``(x, y) -> (x, y)`` applied to each replica's slice inside the step (MixUp).
        validation_batch_size: batch size for validation arrays.

    Returns:
        The logs of the last epoch.

    Example:
        >>> import numpy as np
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        >>> model.compile("sgd", "sparse_categorical_crossentropy")
        >>> data = tf.data.Dataset.from_tensor_slices((np.ones((8, 4)), np.arange(8) % 2)).batch(4)
        >>> sorted(fit(model, tf.distribute.get_strategy(), data, epochs=1, verbose=0, metrics=()))
        ['loss']
    """
    steps = Steps(model, strategy, metrics, transform)
    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_progbar=verbose != 0, model=model,
        verbose=verbose, epochs=epochs, steps=steps_per_epoch,
    )
    val_batches = validation_batches(validation, validation_batch_size)
    stream = iter(train) if steps_per_epoch else None
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        batches = itertools.islice(stream, steps_per_epoch) if stream is not None else train
        logs = train_epoch(steps, batches, callback_list)
        if val_batches is not None:
            logs.update({f"val_{k}": v for k, v in evaluate(steps, val_batches).items()})
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return logs
