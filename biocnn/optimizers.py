"""Optimizers: momentum SGD with weight decay exactly as in AlexNet.

Krizhevsky, Sutskever and Hinton (2012), "ImageNet Classification with Deep Convolutional
Neural Networks", section 5, train with

    v <- momentum * v - weight_decay * lr * w - lr * grad
    w <- w + v

The learning rate sits *inside* the velocity, so when it is lowered the velocity already
accumulated keeps its size and only the new contributions shrink. None of the stock
optimizers does exactly this:

* ``keras.optimizers.SGD(momentum=m, weight_decay=wd)`` decays decoupled from the momentum
  (``w <- w - lr * wd * w`` before the momentum step), so the decay never enters ``v``;
* ``keras.optimizers.SGD(momentum=m)`` with an L2 loss term ``wd / 2 * sum(w ** 2)`` does
  follow the rule, but the decay then lives in the loss, and every model must add it;
* PyTorch's ``SGD(momentum=m, weight_decay=wd)`` keeps the learning rate outside the
  velocity (``b <- m * b + g + wd * w``; ``w <- w - lr * b``), which agrees only while the
  learning rate is constant: after a drop its whole accumulated step shrinks at once.
"""

import numbers

import keras
from keras import ops

__all__ = ["MomentumSGD"]

_EXCLUDE_OPTIONS = "'auto', None (decay every variable) or a list of variable-name substrings"


def _as_float(value, argument):
    """`value` as a Python float, or a ValueError naming `argument`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{argument}` must be a number. Received: {argument}={value!r}")
    return float(value)


def _normalise_exclude(exclude_from_decay):
    """Canonical form of `exclude_from_decay`: "auto", None or a list of strings."""
    if exclude_from_decay is None or exclude_from_decay is False:
        return None
    if isinstance(exclude_from_decay, str):
        if exclude_from_decay == "auto":
            return "auto"
        raise ValueError(
            f"`exclude_from_decay` must be {_EXCLUDE_OPTIONS}. "
            f"Received: exclude_from_decay={exclude_from_decay!r}; "
            f"for a name substring pass a list, e.g. exclude_from_decay=[{exclude_from_decay!r}]."
        )
    if isinstance(exclude_from_decay, (list, tuple)):
        names = list(exclude_from_decay)
        bad = [n for n in names if not isinstance(n, str) or not n]
        if bad:
            raise ValueError(
                "`exclude_from_decay` as a list must hold non-empty strings (substrings of "
                f"variable paths such as 'bias' or 'batch_normalization'). Received: "
                f"exclude_from_decay={exclude_from_decay!r}"
            )
        return names or None
    raise ValueError(
        f"`exclude_from_decay` must be {_EXCLUDE_OPTIONS}. "
        f"Received: exclude_from_decay={exclude_from_decay!r}"
    )


@keras.saving.register_keras_serializable(package="biocnn")
class MomentumSGD(keras.optimizers.Optimizer):
    """SGD with momentum and weight decay inside the velocity, as in AlexNet.

    For every trainable variable ``w`` with gradient ``g``, at learning rate ``lr``:

    ```python
    v = momentum * v - weight_decay * lr * w - lr * g
    w = w + v
    ```

    ``v`` starts at zero. With ``momentum=0`` and ``weight_decay=0`` this is plain SGD,
    ``w = w - lr * g``. The learning rate may be a float (it is then stored in a variable,
    so ``optimizer.learning_rate = x`` and `keras.callbacks.ReduceLROnPlateau` change it
    between steps) or a `keras.optimizers.schedules.LearningRateSchedule`. Either way
    the velocity already accumulated is not rescaled when the rate changes.

    Keras's own decoupled weight decay (the base class ``weight_decay``) is off: the
    decay coefficient is kept in ``decay_rate`` and applied inside the velocity, so
    ``optimizer.weight_decay`` is ``None`` (don't set it, or Keras would decay twice).

    Which variables are decayed (``exclude_from_decay``):

    * ``"auto"`` (default): variables of rank <= 1 are *not* decayed. In Keras layers
      those are the biases, the BatchNormalization / LayerNormalization /
      GroupNormalization ``gamma`` and ``beta`` (scale and offset), PReLU slopes of
      a 1-D input, and any other scalar or vector weight. Kernels (rank >= 2:
      Dense, Conv1D/2D/3D, embeddings) are decayed.
    * ``None``, ``False`` or ``[]``: every trainable variable is decayed (what the
      AlexNet paper literally did).
    * a list of strings: a variable is not decayed if any of the strings occurs,
      literally, in its path (``"dense_1/bias"``, ``"batch_normalization/gamma"``),
      i.e. in its layer name or its own name. No rank rule is applied then; to skip
      biases and normalisation parameters as well, name them, e.g.
      ``["bias", "gamma", "beta"]``.

    Variables excluded with the base-class method
    ``optimizer.exclude_from_weight_decay(var_list=..., var_names=...)`` (called before
    the optimizer is built) are also not decayed.

    Args:
        learning_rate: float > 0, or a `keras.optimizers.schedules.LearningRateSchedule`,
            or a callable taking no argument. Defaults to 0.01 (AlexNet's initial rate).
        momentum: float in [0, 1). Defaults to 0.9.
        weight_decay: float >= 0, the coefficient of ``lr * w`` subtracted from the
            velocity (``None`` means 0). Defaults to 5e-4.
        exclude_from_decay: ``"auto"``, ``None``/``False``/``[]`` or a list of
            variable-path substrings; see above. Defaults to ``"auto"``.
        name: optimizer name. Defaults to ``"momentum_sgd"``.
        **kwargs: other `keras.optimizers.Optimizer` arguments (``clipnorm``,
            ``clipvalue``, ``global_clipnorm``, ``use_ema``, ``ema_momentum``,
            ``ema_overwrite_frequency``, ``loss_scale_factor``,
            ``gradient_accumulation_steps``).

    Returns:
        A `keras.optimizers.Optimizer`, usable in ``model.compile(optimizer=...)`` and
        saved with the model in ``.keras`` files (velocities included).

    Raises:
        ValueError: if ``learning_rate`` is a number <= 0, ``momentum`` is outside
            [0, 1), ``weight_decay`` is negative, ``exclude_from_decay`` is none of
            the accepted forms, or an unknown keyword argument is given.

    Example:

    >>> import keras
    >>> from biocnn.optimizers import MomentumSGD
    >>> w = keras.Variable([[1.0, 2.0]])  # rank 2: decayed under "auto"
    >>> opt = MomentumSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.1)
    >>> opt.apply([keras.ops.ones((1, 2))], [w])  # v = -0.1*0.1*w - 0.1*1
    >>> print([round(x, 6) for x in keras.ops.convert_to_numpy(w)[0].tolist()])
    [0.89, 1.88]
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        weight_decay=5e-4,
        exclude_from_decay="auto",
        name="momentum_sgd",
        **kwargs,
    ):
        if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
            learning_rate = float(learning_rate)
            if not learning_rate > 0:
                raise ValueError(
                    "`learning_rate` must be > 0 (AlexNet started at 0.01). "
                    f"Received: learning_rate={learning_rate}"
                )
        momentum = _as_float(momentum, "momentum")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(
                "`momentum` must be in [0, 1) (0 gives plain SGD; AlexNet used 0.9). "
                f"Received: momentum={momentum}"
            )
        weight_decay = 0.0 if weight_decay is None else _as_float(weight_decay, "weight_decay")
        if not weight_decay >= 0.0:
            raise ValueError(
                "`weight_decay` must be >= 0 (0 disables it; AlexNet used 5e-4). "
                f"Received: weight_decay={weight_decay}"
            )
        exclude = _normalise_exclude(exclude_from_decay)
        # The base class would apply *decoupled* decay whenever its `weight_decay` is set;
        # this rule puts the decay inside the velocity instead, so that one stays None.
        super().__init__(learning_rate=learning_rate, weight_decay=None, name=name, **kwargs)
        self.momentum = momentum
        self.decay_rate = weight_decay
        self.exclude_from_decay = exclude

    def _decays(self, variable):
        """Whether `variable` gets the weight-decay term (decided once, at build)."""
        if self.decay_rate == 0.0:
            return False
        # Honour exclusions made with the public base method `exclude_from_weight_decay`.
        if not self._use_weight_decay(variable):
            return False
        if self.exclude_from_decay == "auto":
            return len(variable.shape) > 1
        if self.exclude_from_decay:
            path = getattr(variable, "path", None) or str(variable.name)
            return not any(part in path for part in self.exclude_from_decay)
        return True

    def build(self, variables):
        """Create one zero-initialised velocity per trainable variable.

        Args:
            variables: the trainable variables this optimizer will update.
        """
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")
        # Python booleans, one per variable index: the choice is static, so the update
        # traced under tf.function / XLA has no branch on it.
        self._decay_mask = [self._decays(v) for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        """v <- momentum*v - weight_decay*lr*w - lr*grad;  w <- w + v."""
        index = self._get_variable_index(variable)
        velocity = self.velocities[index]
        lr = ops.cast(learning_rate, variable.dtype)
        step = ops.cast(gradient, variable.dtype)
        if self._decay_mask[index]:
            decay = ops.convert_to_tensor(self.decay_rate, dtype=variable.dtype)
            step = ops.add(step, ops.multiply(decay, variable))
        # convert_to_tensor(dtype=...) rather than cast: cast goes through float32 first,
        # which would round 0.9 to 0.8999999762 for float64 variables.
        momentum = ops.convert_to_tensor(self.momentum, dtype=variable.dtype)
        self.assign(
            velocity,
            ops.subtract(ops.multiply(momentum, velocity), ops.multiply(lr, step)),
        )
        self.assign_add(variable, velocity)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from `get_config` output (the schedule, if any, is deserialised).

        Args:
            config: dict from `get_config`; it is not modified.
            custom_objects: optional dict of custom schedule classes.

        Returns:
            A new `MomentumSGD` with the same settings and fresh (zero) velocities.
        """
        # The base class swaps the schedule's dict for the object inside the dict it is
        # given; a copy keeps the caller's config intact.
        return super().from_config(dict(config), custom_objects=custom_objects)

    def get_config(self):
        """Config for `from_config`; the schedule, if any, is serialised by the base class.

        Returns:
            A JSON-serialisable dict.
        """
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.decay_rate,
                "exclude_from_decay": (
                    list(self.exclude_from_decay)
                    if isinstance(self.exclude_from_decay, list)
                    else self.exclude_from_decay
                ),
            }
        )
        return config
