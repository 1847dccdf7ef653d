"""A new classification head on a backbone, and two-phase fine-tuning with MomentumSGD.

Phase 1 trains the head with the whole backbone frozen. Phase 2 unfreezes the top ``N``
blocks of the backbone at a lower learning rate, batch normalisation kept frozen: in Keras 3 a
``BatchNormalization`` layer with ``trainable=False`` runs in inference mode, so its moving
mean and variance (ImageNet's) neither move nor are replaced by batch statistics.

A **block** is found from the graph alone, for every family alike: walking the layers in
topological order, a block ends where a single tensor is all that later layers need (the
output of a residual, dense or inverted-residual block, or of each layer of a plain chain such
as VGG) and the layers since the previous end hold weights other than batch normalisation's.
Layers after the last such end (e.g. ResNet v2's ``post_bn``) belong to the last block.

**Phase 1 computes the frozen backbone once.** While only the head trains, the backbone (batch
norm in inference mode, stochastic depth off) maps each input to the same features every epoch,
so :func:`fine_tune` embeds the training and validation inputs once (through the head's global
pooling, which has no weights) and trains a copy of the rest of the head on those features; the
trained weights (and the dropout's random state) are copied back. The batches, shuffling, dropout
masks, loss and updates are those of training the whole model, at the cost of one forward pass
instead of one per epoch. Callbacks given to :func:`fine_tune` see that head model in phase 1. Augmentation, MixUp, a
batch transform or a ``tf.data`` input change the inputs every epoch, and a random layer inside
the backbone (a ``Dropout``, as in keras.applications' EfficientNets, or a random augmentation
layer) changes its features every epoch even when frozen, so with any of them phase 1 trains the
whole model as before. (biocnn's ``StochasticDepth`` is the identity when frozen.)
"""

import dataclasses
import functools
import os
import time

import keras
import numpy as np
import pandas as pd

from biocnn import training
from biocnn.models import blocks as zoo

__all__ = ["classifier", "freeze_backbone", "unfreeze_top", "set_batch_norm_momentum", "backbone_blocks", "fine_tune", "FineTuneResult",
           "fine_tune_and_evaluate", "split_head"]

HEAD = "_head_"


def classifier(backbone_model, num_classes, dropout=0.2, head=None, name=None):
    """``backbone_model`` followed by a new head: [global pooling], dropout, Dense, softmax/sigmoid.

    The head's layers are named ``{name}_head_pool`` (only for a feature-map backbone),
    ``{name}_head_dropout``, ``{name}_head_logits`` and ``{name}_head_probs`` (the
    :func:`biocnn.models.blocks.output_head` convention); the backbone's layers are shared, so
    the result is one flat model.

    Args:
        backbone_model: a keras.Model (e.g. :func:`biocnn.transfer.backbone`).
        num_classes: int >= 1.
        dropout: rate before the Dense layer (0: none).
        head: ``"softmax"`` (default for 2+ classes), ``"sigmoid"`` (default for 1) or
            ``"logits"``.
        name: the model's name (default ``{backbone name}_classifier``).

    Returns:
        keras.Model: raw images -> class probabilities.

    Example:
        >>> from biocnn.transfer.backbone import backbone
        >>> m = classifier(backbone("MobileNetV2", weights=None, input_shape=(32, 32, 3), alpha=0.35), 3)
        >>> print(m.output_shape)
        (None, 3)
    """
    zoo.check_num_classes(num_classes, where="classifier")
    dropout = zoo.check_rate(dropout, where="classifier")
    head = zoo.look_up("head", head or ("softmax" if num_classes > 1 else "sigmoid"), zoo.HEADS, where="classifier")
    name = name or f"{backbone_model.name}_classifier"
    x = backbone_model.outputs[0]
    if len(x.shape) > 2:
        x = zoo.GLOBAL_AVG_POOL[len(x.shape) - 2](name=f"{name}{HEAD}pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}{HEAD}dropout")(x)
    outputs = zoo.output_head(x, num_classes, head, f"{name}{HEAD[:-1]}")
    return keras.Model(backbone_model.inputs[0], outputs, name=name)


def _is_head(model, layer):
    del model  # the head keeps its names when the model is renamed or inflated
    return HEAD in layer.name


def freeze_backbone(model):
    """Freeze every layer except the head's (layers whose name holds ``_head_``).

    Returns:
        list of the trainable (head) layer names.
    """
    trainable = []
    for layer in model.layers:
        layer.trainable = _is_head(model, layer)
        if layer.trainable and layer.weights:
            trainable.append(layer.name)
    return trainable


def _inputs_of(operation):
    tensors = operation.input
    return tensors if isinstance(tensors, (list, tuple)) else [tensors]


def _flat(tensors):
    out = []
    for t in tensors:
        out.extend(_flat(t) if isinstance(t, (list, tuple, dict)) else [t])
    return out


def backbone_blocks(model):
    """The backbone's blocks, bottom to top, each a list of layers (see the module docstring).

    Args:
        model: a flat functional model (a backbone, or a :func:`classifier` on one).

    Returns:
        list of lists of layers; the head's layers and the input are left out.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.MaxPooling2D(), keras.layers.Conv2D(4, 3)])
        >>> print([len(block) for block in backbone_blocks(m)])
        [2, 1]
    """
    operations = [op for op in getattr(model, "operations", model.layers)  # a Sequential has no operations
                  if not isinstance(op, keras.layers.InputLayer) and not _is_head(model, op)]
    last_use = {}
    for i, op in enumerate(operations):
        for tensor in _flat(_inputs_of(op)):
            last_use[id(tensor)] = i
    def weighted(op):
        return isinstance(op, keras.layers.Layer) and op.weights and not isinstance(op, keras.layers.BatchNormalization)

    blocks, current, live, ended = [], [], {id(t) for t in model.inputs}, False
    for i, op in enumerate(operations):
        if ended and weighted(op):  # weightless layers after a block's end (activation, pooling) stay in it
            blocks.append(current)
            current, ended = [], False
        current.append(op)
        live = {t for t in live if last_use.get(t, -1) > i}
        outputs = [id(t) for t in _flat([op.output])]
        live.update(t for t in outputs if last_use.get(t, -1) > i)
        if any(weighted(o) for o in current) and live <= set(outputs):
            ended = True
    if current:
        blocks.append(current)
    return [[op for op in block if isinstance(op, keras.layers.Layer)] for block in blocks]


def unfreeze_top(model, n, train_batch_norm=False):
    """Freeze the backbone except its top ``n`` blocks; batch normalisation stays frozen.

    Args:
        model: a :func:`classifier` (or a backbone).
        n: int >= 0, or ``"all"``.
        train_batch_norm: also train the batch-norm layers of those blocks (their statistics
            then move). Keep False for pretrained weights; True only for random ones, whose
            initial statistics (mean 0, variance 1) normalise nothing.

    Returns:
        list of the names of the backbone layers made trainable.

    Raises:
        ValueError: ``n`` is neither a non-negative int nor ``"all"``.
    """
    found = backbone_blocks(model)
    if n == "all":
        n = len(found)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"unfreeze_top: n must be a non-negative int or 'all', got {n!r}.")
    freeze_backbone(model)
    unfrozen = []
    for block in found[len(found) - n:] if n else []:
        for layer in block:
            if train_batch_norm or not isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = True
                if layer.weights:
                    unfrozen.append(layer.name)
    return unfrozen


def set_batch_norm_momentum(model, momentum):
    """Set the momentum of every BatchNormalization layer of ``model`` (nested models too).

    keras.applications use 0.999 (0.99 for some families), tuned for ImageNet's thousands of
    steps an epoch; trained from random weights on a few hundred images, such moving averages
    stay near their initial values (mean 0, variance 1) and the evaluated network predicts one
    class. 0.9-0.99 suits small data.

    Args:
        model: a keras.Model.
        momentum: float in [0, 1).

    Returns:
        the number of layers changed.

    Raises:
        ValueError: ``momentum`` outside [0, 1).

    Example:
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.999)])
        >>> print(set_batch_norm_momentum(m, 0.99), m.layers[0].momentum)
        1 0.99
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"set_batch_norm_momentum: momentum must be in [0, 1), got {momentum!r}.")
    def walk(layers):
        for layer in layers:
            yield layer
            if isinstance(layer, keras.Model):
                yield from walk(layer.layers)

    changed = 0
    for layer in walk(model.layers):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            changed += 1
    return changed


@dataclasses.dataclass
class FineTuneResult:
    """What :func:`fine_tune` returns.

    Attributes:
        history: one row per epoch of both phases, epochs numbered on (column ``phase``:
            ``"head"`` or ``"fine_tune"``).
        head: phase 1's :class:`biocnn.training.TrainingResult`.
        fine_tune: phase 2's, or None when nothing was unfrozen.
        unfrozen: the backbone layers trained in phase 2.
        best_epoch: the epoch (in ``history``'s numbering) whose weights the model holds.
    """

    history: pd.DataFrame
    head: training.TrainingResult
    fine_tune: training.TrainingResult | None
    unfrozen: list
    best_epoch: int

    @property
    def stopped_early(self):
        """Whether the last phase run was ended by early stopping."""
        return bool((self.fine_tune or self.head).stopped_early)

    @property
    def metrics(self):
        """What ``metrics.json`` records about the phases."""
        return {"head_epochs_run": len(self.head.history), "unfrozen_layers": len(self.unfrozen)}


def _best_value(result):
    history = result.history
    column = "val_loss" if "val_loss" in history else "loss"
    return float(history.loc[history["epoch"] == result.best_epoch, column].iloc[0])


def split_head(model):
    """``model`` as (backbone features, a copy of the head on them), or None when it cannot be split.

    The features end at the head's global pooling (the backbone's output when the head has
    none); the copy holds the rest of the head (dropout, logits, probabilities) with the same
    weights and configuration. None when ``model`` has no head (layers named ``_head_``), or the
    head is not one chain of layers on one tensor.

    Example:
        >>> from biocnn.transfer.backbone import backbone
        >>> features, head = split_head(classifier(backbone("MobileNetV2", weights=None, input_shape=(32, 32, 3), alpha=0.35), 3))
        >>> print(features.output_shape, head.output_shape)
        (None, 1280) (None, 3)
    """
    head = [layer for layer in model.layers if _is_head(model, layer)]
    if not head or len(model.inputs) != 1 or len(model.outputs) != 1 or head[-1].output is not model.outputs[0]:
        return None  # the head must be the whole path to the one output
    if any(layer.input is not previous.output for previous, layer in zip(head, head[1:])):
        return None
    pooled = type(head[0]) in (*zoo.GLOBAL_AVG_POOL.values(), *zoo.GLOBAL_MAX_POOL.values())
    cut, rest = (head[0].output, head[1:]) if pooled else (head[0].input, head)
    if not rest or not isinstance(cut, keras.KerasTensor):
        return None
    features = keras.Model(model.inputs[0], cut, name=f"{model.name}_features")
    inputs = keras.Input(cut.shape[1:], name=f"{model.name}_head_input")
    outputs = inputs
    for layer in rest:
        copy = type(layer).from_config(layer.get_config())
        outputs = copy(outputs)
        copy.set_weights(layer.get_weights())
        _copy_random_state(layer, copy)
    return features, keras.Model(inputs, outputs, name=f"{model.name}_head")


def _copy_random_state(source, target):
    """The head's dropout masks continue the same random stream in the copy (and back)."""
    from biocnn.distribute.replicas import seed_generators

    for a, b in zip(seed_generators(source), seed_generators(target), strict=True):
        b.state.assign(a.state)


def _copy_head_back(model, head_model):
    for layer in head_model.layers[1:]:
        original = model.get_layer(layer.name)
        if layer.weights:
            original.set_weights(layer.get_weights())
        _copy_random_state(layer, original)


def _random_in_training(model):
    """Whether a layer of ``model`` draws random numbers in training although frozen (dropout, augmentation)."""
    from biocnn.models.zoo_layers import StochasticDepth  # the identity when frozen

    from biocnn.distribute.replicas import seed_generators

    return any(seed_generators(layer) for layer in model.layers if not isinstance(layer, StochasticDepth))


def _head_once(model, x, y, validation, config, checkpoint_dir, resume, verbose, fit_kwargs):
    """Phase 1 on features computed once (see the module docstring), or None where that does not apply."""
    from biocnn.transfer.embedding import embed

    varies = any(fit_kwargs.get(key) is not None for key in ("augmentation", "batch_transform", "mixup"))
    arrays = isinstance(x, np.ndarray) and (validation is None or (isinstance(validation, (tuple, list))
                                                                  and isinstance(validation[0], np.ndarray)))
    if varies or not arrays:
        return None
    parts = split_head(model)
    if parts is None:
        return None
    features, head_model = parts
    if _random_in_training(features) or None in features.output_shape[1:]:
        return None
    fingerprint = fit_kwargs.pop("data_fingerprint", None)
    if fingerprint is None and checkpoint_dir:
        fingerprint = training.fingerprint_data(x, y, validation)  # the inputs', not the features'
    if isinstance(fingerprint, dict):  # a checkpoint of the whole-model path is not resumed on features
        fingerprint = {**fingerprint, "phase 1": "the head on features computed once"}
    if verbose:
        print(f"phase 1: the frozen backbone's features, computed once for {len(x)} training"
              f"{'' if validation is None else f' and {len(validation[0])} validation'} samples", flush=True)
    batch, start = max(config.batch_size, 32), time.perf_counter()
    shown = verbose if verbose in (0, 1, 2) else 1
    x_features = embed(features, x, batch_size=batch, verbose=shown).reshape(len(x), *features.output_shape[1:])
    if validation is not None:
        v = validation[0]
        validation = (embed(features, v, batch_size=batch, verbose=shown).reshape(len(v), *features.output_shape[1:]), *validation[1:])
    if verbose:
        print(f"phase 1: features computed in {time.perf_counter() - start:.0f} s", flush=True)
    result = training.fit(head_model, x_features, y, validation=validation, config=config,
                          checkpoint_dir=checkpoint_dir, resume=resume, verbose=verbose,
                          data_fingerprint=fingerprint, **fit_kwargs)
    _copy_head_back(model, head_model)
    model.compile(optimizer=head_model.optimizer, loss=head_model.loss, metrics=list(fit_kwargs.get("metrics", ("accuracy",))))
    return result


def fine_tune(model, x, y=None, validation=None, config=None, head_epochs=5, unfreeze=2, fine_tune_lr_factor=0.1,
              checkpoint_dir=None, resume=True, verbose="auto", train_batch_norm=False, embed_once=True,
              **fit_kwargs):
    """Two-phase transfer learning with :func:`biocnn.training.fit` (MomentumSGD).

    Phase 1: ``head_epochs`` epochs of the head alone (backbone frozen) at
    ``config.learning_rate``. Phase 2 (when ``unfreeze`` > 0): up to ``config.epochs`` epochs
    with the top ``unfreeze`` blocks trainable (batch norm frozen) at ``config.learning_rate *
    fine_tune_lr_factor``. Each phase selects its best epoch on ``validation``; the model ends
    with the better of the two phases' best weights. Each phase checkpoints in its own folder
    (``checkpoint_dir/head``, ``checkpoint_dir/fine_tune``), so an interrupted run resumes in
    the phase where it stopped.

    Args:
        model: a :func:`classifier`.
        x, y, validation: as :func:`biocnn.training.fit`.
        config: a :class:`biocnn.training.TrainingConfig`; ``epochs`` is phase 2's budget.
        head_epochs: positive int, phase 1's epochs.
        unfreeze: blocks unfrozen in phase 2 (see :func:`unfreeze_top`); 0: phase 1 only.
        fine_tune_lr_factor: phase 2's learning rate relative to phase 1's, in (0, 1].
        checkpoint_dir: folder for both phases' checkpoints, or None.
        resume: continue from the checkpoints.
        verbose: Keras's verbosity.
        train_batch_norm: phase 2 also trains the unfrozen blocks' batch norm (see
            :func:`unfreeze_top`); for random weights only.
        embed_once: phase 1 trains the head on the frozen backbone's features computed once
            (see the module docstring) where the inputs do not change between epochs; False:
            it runs the whole model every epoch.
        **fit_kwargs: more :func:`biocnn.training.fit` arguments (augmentation, mixup ...).

    Returns:
        A :class:`FineTuneResult`.

    Raises:
        ValueError: a bad ``head_epochs``, ``unfreeze`` or ``fine_tune_lr_factor``.
    """
    config = config or training.TrainingConfig()
    if not 0 < fine_tune_lr_factor <= 1:
        raise ValueError(f"fine_tune: fine_tune_lr_factor must be in (0, 1], got {fine_tune_lr_factor!r}.")
    head_config = dataclasses.replace(config, epochs=head_epochs)  # checks head_epochs

    def folder(phase):
        return os.path.join(checkpoint_dir, phase) if checkpoint_dir else None

    freeze_backbone(model)
    head = None
    if embed_once:
        head = _head_once(model, x, y, validation, head_config, folder("head"), resume, verbose, dict(fit_kwargs))
    if head is None:
        head = training.fit(model, x, y, validation=validation, config=head_config, checkpoint_dir=folder("head"),
                            resume=resume, verbose=verbose, **fit_kwargs)
    histories = [head.history.assign(phase="head")]
    tuned, unfrozen, best_epoch = None, [], head.best_epoch
    if unfreeze:
        head_weights = model.get_weights()
        unfrozen = unfreeze_top(model, unfreeze, train_batch_norm=train_batch_norm)
        tune_config = dataclasses.replace(config, learning_rate=config.learning_rate * fine_tune_lr_factor)
        tuned = training.fit(model, x, y, validation=validation, config=tune_config,
                             checkpoint_dir=folder("fine_tune"), resume=resume, verbose=verbose, **fit_kwargs)
        offset = len(head.history)
        histories.append(tuned.history.assign(phase="fine_tune", epoch=tuned.history["epoch"] + offset))
        if tuned.best_epoch and _best_value(tuned) <= _best_value(head):
            best_epoch = tuned.best_epoch + offset
        else:  # fine-tuning never beat the head alone: keep phase 1's weights
            model.set_weights(head_weights)
    return FineTuneResult(pd.concat(histories, ignore_index=True), head, tuned, unfrozen, best_epoch)


def fine_tune_and_evaluate(run, model, splits, config, arguments=None, class_names=None, ids=None,
                           head_epochs=5, unfreeze=2, fine_tune_lr_factor=0.1, extra_config=None, verbose=2,
                           **fit_kwargs):
    """:func:`fine_tune` as the training step of :func:`biocnn.experiment.train_and_evaluate`.

    Writes what every run writes (``config.json`` with a ``fine_tuning`` section, ``history.csv``
    with both phases, ``metrics.json``, ``model.keras``, ``predictions.csv`` ...), with
    checkpoints in ``checkpoints/head`` and ``checkpoints/fine_tune``.

    Returns:
        ``(metrics, scores, FineTuneResult)``.
    """
    from biocnn import experiment  # the experiment path calls this step; imported when used

    settings = {"head_epochs": head_epochs, "unfreeze": unfreeze, "fine_tune_lr_factor": fine_tune_lr_factor}
    step = functools.partial(fine_tune, **settings)
    result = experiment.train_and_evaluate(run, model, splits, config, arguments, class_names, ids,
                                           extra_config={"fine_tuning": settings, **(extra_config or {})},
                                           verbose=verbose, train_step=step, **fit_kwargs)
    return result.metrics, result.scores, result.training
