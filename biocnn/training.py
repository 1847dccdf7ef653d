"""Training: the lecture's mini-batch SGD with momentum, model selection, and resume.

``fit`` compiles a model with :class:`biocnn.optimizers.MomentumSGD` and a loss by name,
trains it with a learning rate divided by 10 when the validation loss stops improving,
keeps the weights of the best validation epoch, stops early, and checkpoints every epoch so
that an interrupted run resumes where it stopped and ends with the same weights as an
uninterrupted one.
"""

import contextlib
import dataclasses
import json
import math
import os
import warnings

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from biocnn import class_balance, distribute, lr_finder, schedules
from biocnn import losses as losses_module
from biocnn.distribute import is_chief_task, loop, replicas
from biocnn.optimizers import MomentumSGD
from biocnn.errors import UserError
from biocnn.rundir import (atomic_path, file_sha256, fingerprint, fingerprint_differences, make_folder, write_json,
                           write_text)

#: The commit record of a checkpoint folder: the state of the last finished epoch, naming its
#: weights file (model and optimizer) and the best epoch's, each with its SHA-256.
STATE = "state.json"
#: The commit record before the last one, kept (with its files) to fall back on.
PREVIOUS_STATE = "state.previous.json"
# The layout before checkpoints were committed as one unit (still read, to resume old runs).
LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"


def epoch_weights(epoch):
    """The name of the weights file (model and optimizer variables) of ``epoch`` in a checkpoint
    folder.

    Example:
        >>> epoch_weights(3)
        'epoch-0003.weights.h5'
    """
    return f"epoch-{int(epoch):04d}.weights.h5"


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """The settings of one training run (the lecture's defaults).

    Args:
        epochs: the most epochs to train.
        batch_size: mini-batch size.
        learning_rate: initial (or peak, with a schedule) learning rate of MomentumSGD; ``"auto"``:
            the learning-rate range test (:func:`biocnn.lr_finder.lr_range_test`) on a copy of the
            model picks it before training (array data).
        momentum: MomentumSGD's momentum (0.9 in AlexNet).
        weight_decay: MomentumSGD's weight decay (5e-4 in AlexNet), inside the velocity.
        loss: a loss name from ``biocnn.losses.NAMES``.
        lr_drop_factor: the learning rate is multiplied by this on a plateau (0.1: divide by 10).
        lr_drop_patience: epochs without improvement of the monitored loss before a drop.
        min_learning_rate: the learning rate is never dropped below this.
        min_improvement: a decrease of the monitored loss smaller than this is no improvement
            (for the learning-rate drops and early stopping).
        early_stopping_patience: epochs without improvement before stopping; None never stops.
        seed: seeds the epoch order of array data and every random op in training.
        strategy: ``"default"`` (one device, Keras's fit), ``"mirrored"`` (every GPU of this
            machine) or ``"multiworker"`` (the machines in ``TF_CONFIG``); see
            :mod:`biocnn.distribute`. ``batch_size`` is the global batch, split over all replicas.
        schedule: ``"plateau"`` (the learning rate divided by ``1 / lr_drop_factor`` on a
            plateau), ``"cosine"`` (linear warm-up over ``warmup_epochs``, then a half cosine to 0
            over the run) or ``"onecycle"`` (see :mod:`biocnn.schedules`); with a schedule there
            are no plateau drops.
        warmup_epochs: epochs of linear warm-up for ``"cosine"``.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        class_weight: ``None`` or ``"balanced"``: each class weighs ``n / (k * n_c)`` in the loss
            (:func:`biocnn.class_balance.class_weights`); array labels, one device.

    Example:
        >>> TrainingConfig(epochs=3, batch_size=32).learning_rate
        0.01
    """

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float | str = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    loss: str = "cross_entropy"
    lr_drop_factor: float = 0.1
    lr_drop_patience: int = 5
    min_learning_rate: float = 1e-6
    min_improvement: float = 1e-4
    early_stopping_patience: int | None = 10
    seed: int = 0
    strategy: str = "default"
    schedule: str = "plateau"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    class_weight: str | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "lr_drop_patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainingConfig.{name} must be a positive integer, got {value!r}.")
        if not 0.0 < self.lr_drop_factor < 1.0:
            raise ValueError(
                f"TrainingConfig.lr_drop_factor must be between 0 and 1, got {self.lr_drop_factor!r}."
            )
        patience = self.early_stopping_patience
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ValueError(
                f"TrainingConfig.early_stopping_patience must be a positive integer or None, "
                f"got {patience!r}."
            )
        if self.learning_rate != "auto" and (isinstance(self.learning_rate, (str, bool))
                                             or not self.learning_rate > 0):
            raise ValueError(f"TrainingConfig.learning_rate must be a number > 0 or 'auto', got {self.learning_rate!r}.")
        losses_module.get(self.loss)  # an unknown loss name fails here, before any training
        distribute.check_name(self.strategy)
        if self.schedule not in schedules.NAMES:
            raise ValueError(f"TrainingConfig.schedule must be one of {', '.join(schedules.NAMES)}, got {self.schedule!r}.")
        if not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0 or (
                self.warmup_epochs and self.warmup_epochs >= self.epochs):
            raise ValueError(f"TrainingConfig.warmup_epochs must be an integer in [0, epochs={self.epochs}), "
                             f"got {self.warmup_epochs!r}.")
        if self.warmup_epochs and self.schedule != "cosine":
            raise ValueError(f"TrainingConfig.warmup_epochs={self.warmup_epochs} needs schedule='cosine' "
                             f"(one-cycle warms up by itself; the plateau rule has no warm-up), got {self.schedule!r}.")
        if self.label_smoothing:
            losses_module.get(self.loss, label_smoothing=self.label_smoothing)  # only cross-entropy smooths
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"TrainingConfig.class_weight must be None or 'balanced', got {self.class_weight!r}.")

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class TrainingResult:
    """What ``fit`` returns.

    Attributes:
        history: one row per epoch (``epoch``, ``loss``, metrics, ``val_*``, ``learning_rate``).
        best_epoch: the epoch (1-based) whose weights the model holds at the end.
        resumed_from: the last finished epoch of the interrupted run, or 0.
        stopped_early: whether early stopping ended the run.
    """

    history: pd.DataFrame
    best_epoch: int
    resumed_from: int
    stopped_early: bool


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow so that model initialisation is repeatable.

    Call it before building the model.
    """
    keras.utils.set_random_seed(int(seed))


#: The most training steps per call into TensorFlow (Keras's ``steps_per_execution``) that
#: :func:`fit` uses. A small model's step is mostly per-call overhead: DeepBind and LeNet-5
#: trained 1.2-3x faster with several steps per call (pipelines/BENCHMARKS.md), and 4-9 % faster
#: again on two threads with up to 64 instead of 16; large models do not change. The batches,
#: their order and the weights are the same as one step per call.
MAX_STEPS_PER_EXECUTION = 64


def compile_model(model, config, metrics=("accuracy",), steps_per_execution=1, steps_per_epoch=None):
    """Compile ``model`` with MomentumSGD and the loss named in ``config``.

    Args:
        model: a Keras model.
        config: a :class:`TrainingConfig`.
        metrics: compiled metrics.
        steps_per_execution: training steps per call into TensorFlow (see :func:`steps_per_execution`).
        steps_per_epoch: optimisation steps per epoch; needed by ``config.schedule`` other than
            ``"plateau"`` (the schedule spans ``epochs * steps_per_epoch`` steps).

    Returns:
        ``model``, compiled.

    Raises:
        ValueError: a schedule without a known number of steps per epoch.
    """
    if config.schedule != "plateau" and not steps_per_epoch:
        raise ValueError(f"schedule={config.schedule!r} needs the number of steps per epoch: give array data or a "
                         "tf.data.Dataset of known length.")
    learning_rate = schedules.get(config.schedule, learning_rate=config.learning_rate,
                                  total_steps=config.epochs * (steps_per_epoch or 1),
                                  warmup_steps=config.warmup_epochs * (steps_per_epoch or 1))
    optimizer = MomentumSGD(
        learning_rate=learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    loss = losses_module.get(config.loss, **({"label_smoothing": config.label_smoothing}
                                             if config.label_smoothing else {}))
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics),
                  steps_per_execution=steps_per_execution)
    return model


def steps_per_execution(x, batch_size, limit=MAX_STEPS_PER_EXECUTION):
    """How many training steps :func:`fit` runs per call into TensorFlow for input ``x``.

    Array data, and a ``tf.data`` input of known length: the largest divisor of the steps per
    epoch up to ``limit``, so that no call runs past the end of an epoch (:func:`fit` feeds
    both as one stream of batches over all epochs). A dataset of unknown or infinite length: 1.

    Example:
        >>> print(steps_per_execution(np.zeros((100, 3)), 10), steps_per_execution(np.zeros((37, 3)), 1))
        10 1
    """
    if isinstance(x, tf.data.Dataset):
        steps = int(x.cardinality())
        if steps <= 0:  # unknown or infinite
            return 1
    else:
        steps = math.ceil(len(x) / batch_size)
    return max(d for d in range(1, min(limit, steps) + 1) if steps % d == 0)


def epoch_order(num_samples, seed, epoch):
    """The sample order of one epoch: a permutation drawn from (seed, epoch) alone.

    Because the order depends only on the epoch number, a resumed run sees exactly the batches
    that the uninterrupted run would have seen.
    """
    return np.random.default_rng([int(seed), int(epoch)]).permutation(num_samples)


def array_batches(x, y, batch_size, seed, first_epoch, last_epoch):
    """A ``tf.data.Dataset`` of the mini-batches of epochs ``first_epoch..last_epoch-1``.

    Each epoch is a fresh permutation (see :func:`epoch_order`); the last batch of an epoch
    may be smaller. Example:

        >>> ds = array_batches(np.zeros((10, 3)), np.arange(10), 4, seed=0, first_epoch=0, last_epoch=2)
        >>> [int(b[0].shape[0]) for b in ds]
        [4, 4, 2, 4, 4, 2]
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y have different numbers of samples: {n} and {len(y)}.")
    orders = np.stack([epoch_order(n, seed, e) for e in range(first_epoch, last_epoch)])
    x_t, y_t = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    steps = math.ceil(n / batch_size)
    ds = tf.data.Dataset.from_tensor_slices(orders)
    ds = ds.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps * len(orders)))
    ds = ds.map(lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx)))
    return ds.prefetch(tf.data.AUTOTUNE)


class _Resumable:
    """Mixin: restore a Keras callback's counters after its ``on_train_begin`` resets them."""

    STATE_KEYS = ("wait", "best")
    _pending_state = None

    def state(self):
        return {k: _to_python(getattr(self, k)) for k in self.STATE_KEYS}

    def restore(self, state):
        self._pending_state = state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for key, value in (self._pending_state or {}).items():
            setattr(self, key, value)


class _ReduceLROnPlateau(_Resumable, keras.callbacks.ReduceLROnPlateau):
    STATE_KEYS = ("wait", "best", "cooldown_counter")


class _EarlyStopping(_Resumable, keras.callbacks.EarlyStopping):
    STATE_KEYS = ("wait", "best", "best_epoch")


def _to_python(value):
    if hasattr(value, "item"):
        return value.item()
    return value


class _Checkpointer(keras.callbacks.Callback):
    """Records the history, keeps the best weights and commits what resume needs, each epoch.

    A checkpoint is committed as one unit: the epoch's weights file (model and optimizer
    variables) is written and flushed to disk under a new name, then ``state.json``, which
    names it with its SHA-256, replaces the previous state in one atomic rename. The previous
    state and its files are kept until the next commit (``state.previous.json``), so a torn or
    damaged checkpoint falls back on the epoch before (:func:`load_checkpoint`). The best
    epoch's weights are that epoch's file, kept while it is the best.
    """

    def __init__(self, folder, monitor, config, stateful_callbacks, history, best, keep_in_memory=False,
                 data=None, previous=None):
        super().__init__()
        self.folder = folder
        self.monitor = monitor
        self.config = config
        self.stateful = stateful_callbacks
        self.history = history
        self.best = best  # {"value": ..., "epoch": ...}
        self.best_weights = None  # kept in memory when there is no folder, or when asked
        self.keep_in_memory = keep_in_memory or not folder
        self.data = data
        self.state = previous  # the last committed state (resume: the one restored)
        self._epoch_lr = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        row["learning_rate"] = self._epoch_lr  # the rate used in this epoch, before any drop
        self.history.append(row)
        value = row.get(self.monitor)
        improved = value is not None and (self.best["value"] is None or value < self.best["value"])
        if improved:
            self.best.update(value=value, epoch=epoch + 1)
            if self.keep_in_memory:
                self.best_weights = self.model.get_weights()
        if self.folder:
            self._commit(epoch + 1, improved)

    def best_file(self):
        """The path of the best epoch's weights in the checkpoint folder, or None."""
        entry = ((self.state or {}).get("weights") or {}).get("best")
        return os.path.join(self.folder, entry["file"]) if self.folder and entry else None

    def _commit(self, epoch, improved):
        name = epoch_weights(epoch)
        with atomic_path(os.path.join(self.folder, name), fsync=True) as tmp:
            self.model.save_weights(tmp)
            digest = file_sha256(tmp)  # here: on a worker that is not the chief, the file is discarded
        last = {"file": name, "sha256": digest}
        weights = {"last": last, "best": last if improved else self._previous_best()}
        state = {
            "epoch": epoch,
            "config": self.config.to_dict(),
            "data": self.data,
            "weights": weights,
            "history": list(self.history),  # copies: the state kept as "previous" must not grow
            "best": dict(self.best),
            "stopped": bool(self.model.stop_training),
            "callbacks": {type(cb).__name__: cb.state() for cb in self.stateful},
            "seed_generators": [
                np.asarray(g.state.numpy()).tolist() for g in replicas.seed_generators(self.model)
            ],
        }
        if self.state is not None:
            write_json(os.path.join(self.folder, PREVIOUS_STATE), self.state, fsync=True)
        write_json(os.path.join(self.folder, STATE), state, fsync=True)  # the commit
        self.state = state
        self._prune()

    def _previous_best(self):
        if self.state is None:
            return None
        if "weights" in self.state:
            return self.state["weights"].get("best")
        legacy = os.path.join(self.folder, BEST_WEIGHTS)  # a run checkpointed before one-unit commits
        return {"file": BEST_WEIGHTS, "sha256": file_sha256(legacy)} if os.path.exists(legacy) else None

    def _prune(self):
        # Keep the files of the current and previous states; remove older epochs' weights.
        if not is_chief_task():
            return  # the chief's folder: only the chief writes or removes there
        keep = set()
        for record in (self.state, _read_json(os.path.join(self.folder, PREVIOUS_STATE))):
            for entry in ((record or {}).get("weights") or {}).values():
                if entry:
                    keep.add(entry["file"])
        for name in os.listdir(self.folder):
            if name.startswith("epoch-") and name.endswith(".weights.h5") and name not in keep:
                os.remove(os.path.join(self.folder, name))


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _check_state(folder, state):
    """Why the checkpoint ``state`` cannot be used (its weights missing or damaged), or None."""
    weights = state.get("weights")
    if weights is None:  # the layout before one-unit commits: no checksums to check
        missing = [n for n in (LAST_WEIGHTS,) if not os.path.exists(os.path.join(folder, n))]
        return f"{missing[0]} is missing" if missing else None
    for role, entry in weights.items():
        if not entry:
            continue
        path = os.path.join(folder, entry["file"])
        if not os.path.exists(path):
            return f"its {role} weights {entry['file']} are missing"
        if file_sha256(path) != entry["sha256"]:
            return f"its {role} weights {entry['file']} do not match their checksum (a torn or damaged file)"
    return None


def load_checkpoint(folder):
    """The last complete checkpoint in ``folder``: its state, with the weights checked.

    ``state.json`` is used when its weights files are present and match their SHA-256; else the
    state before it (``state.previous.json``), with a warning naming what was wrong.

    Returns:
        the state dict (``epoch``, ``history``, ``weights``: {"last", "best"} -> {"file", "sha256"},
        ...), or None when ``folder`` holds no checkpoint.

    Raises:
        UserError: ``folder`` holds a checkpoint but neither it nor the previous one is complete.
    """
    problems = []
    for name in (STATE, PREVIOUS_STATE):
        path = os.path.join(folder, name)
        try:
            state = _read_json(path)
        except ValueError as error:  # a truncated or damaged state file
            problems.append(f"{name} cannot be read ({error})")
            continue
        if state is None:
            continue
        problem = _check_state(folder, state)
        if problem is None:
            if problems:
                warnings.warn(
                    f"The last checkpoint in '{folder}' is incomplete ({'; '.join(problems)}); "
                    f"resuming from the one before it, epoch {state['epoch']}.",
                    RuntimeWarning, stacklevel=2,
                )
            return state
        problems.append(f"{name} (epoch {state.get('epoch')}): {problem}")
    if problems:
        raise UserError(
            f"Cannot resume from '{folder}': no complete checkpoint ({'; '.join(problems)}). "
            "Start the run again (--overwrite), or choose another --out."
        )
    return None


def weights_file(folder, state, role="last"):
    """The path of the ``"last"`` or ``"best"`` weights named by checkpoint ``state``.

    Example:
        >>> weights_file("/runs/a/checkpoints", {"weights": {"last": {"file": "epoch-0003.weights.h5"}}})
        '/runs/a/checkpoints/epoch-0003.weights.h5'
    """
    weights = state.get("weights")
    if weights is None:
        return os.path.join(folder, LAST_WEIGHTS if role == "last" else BEST_WEIGHTS)
    entry = weights.get(role)
    return os.path.join(folder, entry["file"]) if entry else None


def fingerprint_data(x, y=None, validation=None):
    """The fingerprint (:func:`biocnn.rundir.fingerprint`) of array training and validation
    data that :func:`fit` records in a checkpoint, or None for a ``tf.data`` input.

    Example:
        >>> sorted(fingerprint_data(np.zeros((4, 2)), np.arange(4)))
        ['train[0]', 'train[1]']
    """
    if isinstance(x, tf.data.Dataset) or isinstance(validation, tf.data.Dataset):
        return None
    value = {"train": (x, y)}
    if validation is not None:
        value["validation"] = tuple(validation)
    return fingerprint(value)


#: Settings a resumed run may change: the schedule's length (--epochs, and with it a table warm-up
#: that shrinks to a short run, see biocnn.cli) and the strategy (same results).
RESUMABLE = ("epochs", "warmup_epochs", "strategy")


def resume_settings(settings):
    """``settings`` (a TrainingConfig dict) with the ones a resumed run may change (:data:`RESUMABLE`) blanked.

    Example:
        >>> resume_settings({"epochs": 3, "warmup_epochs": 1, "strategy": "default", "seed": 0})
        {'epochs': None, 'warmup_epochs': None, 'strategy': None, 'seed': 0}
    """
    return {**settings, **dict.fromkeys(RESUMABLE)}


def _load_state(folder, config, data=None):
    state = load_checkpoint(folder)
    if state is None:
        return None
    saved = resume_settings(state["config"])
    asked = resume_settings(config.to_dict())
    changed = {k: (saved.get(k), v) for k, v in asked.items() if saved.get(k) != v}
    if changed:
        listing = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise UserError(
            f"Cannot resume from '{folder}': the run was started with other settings "
            f"({listing}). Resume with the same settings (only epochs may change), or start a "
            "new run."
        )
    if data is not None and state.get("data") is not None:
        differences = fingerprint_differences(state["data"], data)
        if differences:
            raise UserError(
                f"Cannot resume from '{folder}': the run was trained on other data "
                f"({'; '.join(differences)}). Resume with the same data and split (only epochs may "
                "change), or start a new run (another checkpoint folder, --overwrite or --out)."
            )
    return state


def _restore(model, folder, state, stateful_callbacks):
    model.optimizer.build(model.trainable_variables)
    model.load_weights(weights_file(folder, state, "last"))
    for generator, value in zip(replicas.seed_generators(model), state["seed_generators"]):
        generator.state.assign(np.asarray(value, dtype=generator.state.dtype))
    for cb in stateful_callbacks:
        cb.restore(state["callbacks"].get(type(cb).__name__, {}))


def _keep_best(model, checkpoint_dir, checkpointer):
    # Model selection: end with the weights of the best monitored epoch.
    if checkpointer.best_weights is not None:
        model.set_weights(checkpointer.best_weights)
    elif checkpoint_dir and checkpointer.state is not None:
        best = weights_file(checkpoint_dir, checkpointer.state, "best")
        if best and os.path.exists(best):
            model.load_weights(best)


def with_augmentation(model, augmentation):
    """A training model: ``augmentation`` (active only in training) followed by ``model``.

    The two share their layers, so training the result trains ``model``, and ``model`` itself
    stays free of augmentation for saving, export and interpretation.
    """
    inputs = keras.Input(model.input_shape[1:], name=f"{model.name}_train_input")
    return keras.Model(inputs, model(augmentation(inputs)), name=f"{model.name}_with_augmentation")


class _MixUpTrainer(keras.Model):
    """Applies MixUp inside the training step, so its random state lives in the trainer and is
    checkpointed (exact resume), and its draws follow the training steps one for one."""

    def __init__(self, network, mixup, **kwargs):
        super().__init__(name=f"{network.name}_mixup", **kwargs)
        self.network = network
        self.mixup = mixup

    def build(self, input_shape):
        pass  # the network is built already; MixUp has no weights

    def call(self, inputs, training=None):
        return self.network(inputs, training=training)

    def train_step(self, data):
        x, y = data[0], data[1]
        return super().train_step(self.mixup((x, y), training=True))


def _one_hot_validation(validation, mixup):
    # Training labels are mixed one-hot vectors: validation labels must have the same form, or
    # Keras picks the metric for one and applies it to the other.
    if validation is None:
        return None
    if isinstance(validation, tf.data.Dataset):
        return validation.map(lambda x, y: (x, mixup.one_hot(y)))
    x_val, y_val = validation
    return x_val, np.asarray(mixup.one_hot(y_val))


def fit(
    model,
    x,
    y=None,
    validation=None,
    config=None,
    checkpoint_dir=None,
    resume=True,
    callbacks=(),
    metrics=("accuracy",),
    verbose="auto",
    augmentation=None,
    batch_transform=None,
    mixup=None,
    strategy=None,
    data_fingerprint=None,
):
    """Train ``model`` with MomentumSGD, learning-rate drops, early stopping and resume.

    Args:
        model: a Keras model (uncompiled, or compiled: it is compiled again from ``config``).
        x: training inputs (array), or a ``tf.data.Dataset`` of ``(inputs, labels)`` batches.
        y: training labels when ``x`` is an array.
        validation: ``(x_val, y_val)`` or a ``tf.data.Dataset``; used for the learning-rate
            drops, early stopping and choosing the weights that are kept. Without it the
            training loss is monitored instead.
        config: a :class:`TrainingConfig` (default: the lecture's defaults).
        checkpoint_dir: folder for ``last.weights.h5``, ``best.weights.h5`` and ``state.json``,
            written atomically after every epoch. None: no checkpoints.
        resume: continue from ``checkpoint_dir``'s last epoch when one is there.
        callbacks: extra Keras callbacks (run after biocnn's own). ``fit`` runs up to
            :data:`MAX_STEPS_PER_EXECUTION` training steps per call into TensorFlow (see
            :func:`steps_per_execution`), unless one of these callbacks has batch hooks
            (``on_train_batch_end`` ...): then one step per call, so they see every batch.
        metrics: compiled metrics.
        verbose: Keras's verbosity (``"auto"``, 0, 1 or 2).
        augmentation: a Keras layer (e.g. ``biocnn.augment.policy(...)``) applied to the
            inputs during training only; see :func:`with_augmentation`. Its random state is
            checkpointed, so resume stays exact.
        batch_transform: a function ``(x, y) -> (x, y)`` mapped over the training batches
            only (in the input pipeline: its random state is not checkpointed).
        mixup: a ``biocnn.augment.MixUp`` layer, applied to each training batch inside the
            training step (its random state is checkpointed, so resume stays exact);
            validation labels are one-hot encoded to match the mixed training labels.
        strategy: a ``tf.distribute.Strategy`` to train under; None: the one named in
            ``config.strategy``. Under any strategy but the default, ``model`` is cloned
            inside the strategy's scope, trained there by :func:`biocnn.distribute.loop.fit`,
            and its trained weights are copied back: build ``model`` as usual, outside any scope.
            In a multi-worker cluster only the chief writes ``checkpoint_dir``; every worker
            resumes from it (it must be on a file system all workers share).
        data_fingerprint: what identifies the training data, stored in the checkpoint: a resume
            on other data is refused, naming what changed. Default: computed from array ``x``,
            ``y`` and ``validation`` (:func:`fingerprint_data`); for a ``tf.data`` input pass one
            (e.g. of the sample ids, labels and split), or nothing is checked. A dict of parts,
            or any value :func:`biocnn.rundir.fingerprint` describes.

    Returns:
        A :class:`TrainingResult`; the model holds the weights of the best epoch.

    Raises:
        ValueError: invalid data.
        biocnn.errors.UserError (a ValueError): a resume whose settings or data differ from the
            saved run's, or a checkpoint folder without a complete checkpoint.

    Checkpoints are committed as one unit each epoch (see :func:`load_checkpoint`): a checkpoint
    torn by a crash or damaged on disk is detected by its checksum and the one before it used.

    Array data is shuffled each epoch by a permutation drawn from ``(config.seed, epoch)``, so
    an interrupted run that resumes ends with the same weights as an uninterrupted one.
    A ``tf.data`` input is used as given: its order is the caller's.

    Example:
        >>> import numpy as np, keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        >>> result = fit(model, np.random.rand(32, 4), np.arange(32) % 2,
        ...              config=TrainingConfig(epochs=2, batch_size=8), verbose=0)
        >>> result.history.shape[0]
        2
    """
    config = config or TrainingConfig()
    if config.learning_rate == "auto":
        config = auto_learning_rate(model, x, y, config, verbose=verbose)
    if data_fingerprint is None and checkpoint_dir:
        data_fingerprint = fingerprint_data(x, y, validation)
    elif data_fingerprint is not None and not isinstance(data_fingerprint, dict):
        data_fingerprint = fingerprint(data_fingerprint)
    strategy = distribute.get_strategy(config.strategy) if strategy is None else strategy
    default = distribute.is_default(strategy)
    verbose = verbose if distribute.is_chief(strategy) else 0  # progress from the chief only
    network = replicas.replicate(model, strategy)
    class_weight = _class_weight(config, y, mixup, default, network)
    with distribute.scope(strategy):
        trainer, validation = _trainer(network, augmentation, mixup, validation, default)
        compile_model(trainer, config, metrics,
                      _steps_per_call(x, config, callbacks, default), steps_per_epoch=_epoch_steps(x, config))
    monitor = "val_loss" if validation is not None else "loss"
    stateful = _stateful_callbacks(config, monitor)
    state = _resume_state(trainer, strategy, checkpoint_dir, resume, config, stateful, verbose,
                          data_fingerprint)
    history, best = (state["history"], state["best"]) if state else ([], {"value": None, "epoch": 0})
    first_epoch, stopped = (state["epoch"], bool(state["stopped"])) if state else (0, False)
    checkpointer = _Checkpointer(checkpoint_dir, monitor, config, stateful, history, best,
                                 keep_in_memory=not default, data=data_fingerprint, previous=state)
    if first_epoch < config.epochs and not stopped:
        train, steps = _training_batches(x, y, config, first_epoch, batch_transform)
        run = _keras_fit if default else _distributed_fit
        stopped = run(trainer, strategy, train, steps, validation, config, first_epoch,
                      [*stateful, checkpointer, *callbacks], metrics, verbose, mixup, class_weight)
    _keep_best(trainer, checkpoint_dir, checkpointer)
    _hand_back(model, network, trainer, config, metrics, default)
    return TrainingResult(
        history=pd.DataFrame(history),
        best_epoch=best["epoch"],
        resumed_from=first_epoch,
        stopped_early=stopped and len(history) < config.epochs,
    )


_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def _steps_per_call(x, config, callbacks, default):
    """Steps per call into TensorFlow: one where a caller's callback acts on single batches
    (with several steps per call Keras calls batch hooks once per call) or under a strategy."""
    base = keras.callbacks.Callback
    batch_hooks = any(getattr(type(cb), hook) is not getattr(base, hook) for cb in callbacks for hook in _BATCH_HOOKS)
    if batch_hooks or not default:
        return 1
    return steps_per_execution(x, config.batch_size, MAX_STEPS_PER_EXECUTION)


def _trainer(network, augmentation, mixup, validation, default):
    """The model that trains: ``network`` behind augmentation and MixUp, and its validation data."""
    if augmentation is not None:
        augmentation = augmentation if default else replicas.clone_layer(augmentation)
        trainer = with_augmentation(network, augmentation)
    else:
        trainer = network
    if mixup is not None:
        trainer = _MixUpTrainer(trainer, mixup if default else replicas.clone_layer(mixup))
        trainer(tf.zeros((1, *network.input_shape[1:])))  # build, so weights can be restored
        validation = _one_hot_validation(validation, mixup)
    return trainer, validation


def auto_learning_rate(model, x, y, config, verbose=1):
    """``config`` with ``learning_rate="auto"`` replaced by the range test's suggestion.

    The test runs on a clone of ``model`` (same weights, its own optimizer), so the model and
    its random state are untouched; batch size, momentum, weight decay and loss are the run's.

    Args:
        model: the Keras model about to be trained.
        x, y: the training arrays.
        config: a :class:`TrainingConfig`.
        verbose: print the suggestion when truthy.

    Returns:
        A :class:`TrainingConfig`.

    Raises:
        ValueError: for a ``tf.data`` input (the test needs arrays).
    """
    if isinstance(x, tf.data.Dataset) or y is None:
        raise ValueError("learning_rate='auto' (--lr auto) runs the range test on array data; with streamed "
                         "inputs give a number (run biocnn.lr_finder.lr_range_test on a sample to choose it).")
    probe = keras.models.clone_model(model)
    probe.set_weights(model.get_weights())
    result = lr_finder.lr_range_test(probe, x, y, loss=config.loss, batch_size=config.batch_size,
                                     momentum=config.momentum, weight_decay=config.weight_decay, seed=config.seed)
    if verbose:
        print(f"learning rate: {result.suggestion:.3g} (range test over {len(result.losses)} steps, "
              f"lowest smoothed loss at {result.suggestion * 10:.3g})", flush=True)
    return dataclasses.replace(config, learning_rate=float(f"{result.suggestion:.3g}"))


def _epoch_steps(x, config):
    """Optimisation steps per epoch, or None for a dataset of unknown length."""
    if isinstance(x, tf.data.Dataset):
        known = int(x.cardinality())
        return known if known > 0 else None
    return math.ceil(len(x) / config.batch_size)


def _class_weight(config, y, mixup, default, network):
    """Keras's ``class_weight`` dict for ``config.class_weight == "balanced"``, else None."""
    if config.class_weight is None:
        return None
    if y is None or mixup is not None or not default:
        raise ValueError("class_weight='balanced' needs array labels, no MixUp and the default strategy "
                         "(weigh a tf.data input's samples yourself, e.g. with rejection sampling).")
    outputs = int(network.output_shape[-1])
    return class_balance.class_weights(np.asarray(y), max(outputs, 2))


def _stateful_callbacks(config, monitor):
    """The learning-rate drops (the plateau rule only) and early stopping, whose counters resume saves."""
    stateful = [] if config.schedule != "plateau" else [_ReduceLROnPlateau(
        monitor=monitor,
        factor=config.lr_drop_factor,
        patience=config.lr_drop_patience,
        min_lr=config.min_learning_rate,
        min_delta=config.min_improvement,
        verbose=0,
    )]
    if config.early_stopping_patience:
        stateful.append(_EarlyStopping(
            monitor=monitor,
            patience=config.early_stopping_patience,
            min_delta=config.min_improvement,
        ))
    return stateful


def _resume_state(trainer, strategy, checkpoint_dir, resume, config, stateful, verbose, data):
    """The checkpoint state of the run in ``checkpoint_dir``, restored into ``trainer``; None
    for a fresh start (no checkpoint, or ``resume`` False)."""
    state = None
    if checkpoint_dir:
        make_folder(checkpoint_dir)
        state = _load_state(checkpoint_dir, config, data) if resume else None
        if state is None and distribute.is_chief(strategy) and os.path.isdir(checkpoint_dir):
            with contextlib.suppress(FileNotFoundError):  # a fresh start: no older state to fall back on
                os.remove(os.path.join(checkpoint_dir, PREVIOUS_STATE))
    if state is None:
        return None
    with distribute.scope(strategy):
        _restore(trainer, checkpoint_dir, state, stateful)
    if verbose:
        print(f"Resuming from epoch {state['epoch']} of {config.epochs} ({checkpoint_dir})")
    return state


def _training_batches(x, y, config, first_epoch, batch_transform):
    """``(dataset, steps_per_epoch)``: the seeded batches of array data, or ``x`` as given.

    A dataset of known length is repeated and cut into epochs by ``steps_per_epoch``, so one
    iterator serves every epoch (Keras would start a new one, and its prefetching, each epoch:
    20-30 % of an epoch of a small model, pipelines/BENCHMARKS.md); each repetition is a new
    pass over ``x``, reshuffled where ``x`` reshuffles, as with a new iterator.
    """
    if isinstance(x, tf.data.Dataset):
        known = int(x.cardinality())
        train, steps = (x.repeat(), known) if known > 0 else (x, None)
    else:
        train = array_batches(x, y, config.batch_size, config.seed, first_epoch, config.epochs)
        steps = math.ceil(len(x) / config.batch_size)
    if batch_transform is not None:
        train = train.map(batch_transform).prefetch(tf.data.AUTOTUNE)
    return train, steps


def _keras_fit(trainer, strategy, train, steps, validation, config, first_epoch, callbacks,
               metrics, verbose, mixup, class_weight=None):
    trainer.fit(
        train,
        validation_data=validation,
        epochs=config.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=steps,
        shuffle=False,  # array data is already in the seeded epoch order
        callbacks=callbacks,
        verbose=verbose,
        class_weight=class_weight,
    )
    return bool(trainer.stop_training)


def _distributed_fit(trainer, strategy, train, steps, validation, config, first_epoch, callbacks,
                     metrics, verbose, mixup, class_weight=None):
    with strategy.scope():
        if not trainer.optimizer.built:  # resume built it already
            trainer.optimizer.build(trainer.trainable_variables)
    transform = None if mixup is None else (lambda x, y: trainer.mixup((x, y), training=True))
    loop.fit(
        trainer, strategy, train, config.epochs, first_epoch, steps, validation,
        callbacks=callbacks, metrics=metrics, verbose=1 if verbose == "auto" else verbose,
        transform=transform, validation_batch_size=config.batch_size,
    )
    return bool(trainer.stop_training)


def _hand_back(model, network, trainer, config, metrics, default):
    """Leave the caller's ``model`` trained and compiled like the trainer."""
    if not default:  # the trained clone lives in the strategy: copy its weights out
        replicas.copy_weights(network, model)
        compile_model(model, config, metrics)
    elif model is not trainer:
        model.compile(optimizer=trainer.optimizer, loss=trainer.loss, metrics=list(metrics))


def write_history(history, path):
    """Write a history DataFrame as CSV, atomically."""
    write_text(path, history.to_csv(index=False))
