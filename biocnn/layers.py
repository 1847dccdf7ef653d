"""Layers: activations by name, maxout units, a ReLU with a hand-written gradient, fused batch norm.

* :func:`activation` builds an activation layer from a name (``"relu"``, ``"leaky_relu"``, ...)
  so that blocks and configs can say ``activation="leaky_relu"``; it suggests the closest name
  on a typo.
* :class:`Maxout` (Goodfellow et al., 2013): each output is the maximum of ``pieces`` affine
  maps of the input's last axis, so it acts on feature vectors and on channels-last feature maps
  of any rank alike.
* :class:`CustomGradientReLU`: ``max(x, 0)`` whose backward pass ``upstream * (x > 0)`` is
  written by hand with ``keras.ops.custom_gradient``, as in the lecture on backpropagation.
* :class:`BatchNormalization`: ``keras.layers.BatchNormalization`` whose training step runs
  as one fused kernel on TensorFlow (the zoo models' batch norm).

All layers are registered under the package ``biocnn`` and round-trip through ``.keras`` files.
"""

import numbers

import keras
from keras import ops

from biocnn.utils import did_you_mean

__all__ = ["ACTIVATIONS", "BatchNormalization", "CustomGradientReLU", "Maxout", "activation"]


# --------------------------------------------------------------------------------------------
# CustomGradientReLU
# --------------------------------------------------------------------------------------------


@ops.custom_gradient
def _relu_with_hand_gradient(x):
    def grad(*args, upstream=None):
        # TensorFlow and JAX call grad(upstream); PyTorch calls grad(*args, upstream=...).
        if upstream is None:
            (upstream,) = args
        return upstream * ops.cast(ops.greater(x, 0), upstream.dtype)

    return ops.maximum(x, ops.zeros_like(x)), grad


@keras.saving.register_keras_serializable(package="biocnn")
class CustomGradientReLU(keras.layers.Layer):
    """ReLU with a hand-written forward and backward pass.

    Forward: ``y = max(x, 0)``. Backward: ``dL/dx = dL/dy * (x > 0)`` (0 at ``x == 0``, as
    Keras' own ReLU). Numerically the same as ``keras.layers.ReLU()``; it exists to show (and
    test) how a layer defines its own gradient with ``keras.ops.custom_gradient``.

    Args:
        **kwargs: base layer arguments such as ``name`` and ``dtype``.

    Returns:
        A tensor of the input's shape.

    Example:
        >>> import numpy as np
        >>> y = CustomGradientReLU()(np.array([[-1.0, 2.0]], dtype="float32"))
        >>> print(y.shape, np.asarray(y))
        (1, 2) [[0. 2.]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return _relu_with_hand_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


# --------------------------------------------------------------------------------------------
# Maxout
# --------------------------------------------------------------------------------------------


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Maxout: {name} must be a positive integer, got {value!r} "
            f"({type(value).__name__})."
        )
    return int(value)


@keras.saving.register_keras_serializable(package="biocnn")
class Maxout(keras.layers.Layer):
    """Maxout units: each output is the maximum over ``pieces`` affine maps of the last axis.

    For an input ``x`` with ``C`` features on its last axis, output unit ``u`` is
    ``max_p (x @ W[:, u * pieces + p] + b[u * pieces + p])`` for ``p`` in ``range(pieces)``;
    ``W`` (the ``kernel``) has shape ``(C, units * pieces)``. Only the last axis is touched, so
    the layer works on ``(batch, C)`` vectors and on channels-last maps ``(batch, L, C)``,
    ``(batch, H, W, C)`` and ``(batch, D, H, W, C)`` alike (a 1x1 maxout convolution). With
    ``pieces=1`` it is a ``Dense`` layer without activation.

    Args:
        units: positive int, number of outputs.
        pieces: positive int, affine maps per output that the max is taken over. Default 2.
        use_bias: bool, whether to add a bias to each affine map. Default True.
        kernel_initializer: initializer for the kernel. Default ``"glorot_uniform"``.
        bias_initializer: initializer for the bias. Default ``"zeros"``.
        kernel_regularizer: optional regularizer for the kernel.
        bias_regularizer: optional regularizer for the bias.
        kernel_constraint: optional constraint for the kernel.
        bias_constraint: optional constraint for the bias.
        **kwargs: base layer arguments such as ``name``, ``dtype``, ``activity_regularizer``.

    Returns:
        A tensor of shape ``input_shape[:-1] + (units,)``.

    Raises:
        ValueError: if ``units`` or ``pieces`` is not a positive integer, or (at build) if the
            input has fewer than 2 axes or an unknown last axis.

    Example:
        >>> import numpy as np
        >>> y = Maxout(4, pieces=3)(np.zeros((2, 8, 8, 5), dtype="float32"))
        >>> print(y.shape)
        (2, 8, 8, 4)
    """

    def __init__(self, units, pieces=2, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_positive_int("units", units)
        self.pieces = _check_positive_int("pieces", pieces)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Maxout expects inputs of shape (batch, ..., features) with a known last axis, "
                f"got input shape {tuple(input_shape)}."
            )
        in_features = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(in_features, self.units * self.pieces),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units * self.pieces,),
                initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: in_features})

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        # Leading dims may be dynamic (None batch or length), so take them from the tensor.
        z = ops.reshape(z, tuple(ops.shape(z)[:-1]) + (self.units, self.pieces))
        return ops.max(z, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "pieces": self.pieces,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        })
        return config


# --------------------------------------------------------------------------------------------
# BatchNormalization
# --------------------------------------------------------------------------------------------


_FUSED_MIN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="biocnn")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that trains through TensorFlow's fused kernel.

    Keras 3 normalises a training batch with separate ops (moments, then the affine map) and
    differentiates through each; TensorFlow's ``FusedBatchNormV3`` does the forward pass and
    its gradient in one oneDNN kernel each. Same arguments, weights, config and results as the
    Keras layer (the batch variance it uses and puts into ``moving_variance`` is the biased one,
    as Keras's; an epsilon below 1.001e-5 is raised to it in training, as TensorFlow's own
    ``fused_batch_norm`` does for cuDNN); only the training step on the TensorFlow backend changes. Every input rank
    uses the 4D kernel: the statistics are per channel over every other axis, so the input is
    reshaped to ``(N, -1, 1, C)`` and back. Where the fused kernel does not apply (another
    backend, inference, a frozen layer, a mask, renorm, synchronized statistics, an axis other
    than the last, inputs that are not float32), the Keras layer's own ``call`` runs.

    It keeps Keras's class name on purpose: a weights file (``.weights.h5``, biocnn's checkpoints,
    the converted ImageNet weights) names each layer's variables by its class, so weights saved
    from a network built with either layer load into the other. (``.keras`` files record the
    class itself, ``biocnn>BatchNormalization``.)

    Measured on a 2-vCPU AVX-512 CPU (``pipelines/BENCHMARKS.md``): forward + backward of a
    ``(8, 32, 32, 32, 16)`` batch 21 ms -> 8 ms on two threads.

    Example:
        >>> import numpy as np
        >>> bn = BatchNormalization()
        >>> y = bn(np.random.rand(4, 6, 3).astype("float32"), training=True)
        >>> print(tuple(y.shape), bool(abs(float(keras.ops.mean(y))) < 1e-5))
        (4, 6, 3) True
    """

    def _fusable(self, inputs, mask):
        rank = len(inputs.shape)
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.renorm
                and not self.synchronized and rank >= 2 and self.axis in (-1, rank - 1)
                and keras.backend.standardize_dtype(inputs.dtype) == "float32"
                and self.compute_dtype == "float32")

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # the TensorFlow backend only (checked by _fusable)

        shape = tf.shape(inputs)
        channels = inputs.shape[-1]
        x = tf.reshape(inputs, [shape[0], -1, 1, channels])
        gamma = self.gamma if self.scale else tf.ones([channels])
        beta = self.beta if self.center else tf.zeros([channels])
        empty = tf.constant([], dtype=tf.float32)
        # cuDNN refuses an epsilon below its minimum (1e-5, and float32's 1e-5 is just under it);
        # TensorFlow's own fused_batch_norm and Keras 2 raise it to 1.001e-5 the same way.
        epsilon = max(float(self.epsilon), _FUSED_MIN_EPSILON)
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=epsilon,
            exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
        # The kernel normalises by the biased variance but returns the unbiased one.
        count = tf.cast(tf.size(inputs) // channels, tf.float32)
        variance = variance * tf.maximum(count - 1.0, 0.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.reshape(y, shape)


# --------------------------------------------------------------------------------------------
# activation(name)
# --------------------------------------------------------------------------------------------


def _leaky_relu(**kwargs):
    # The lecture's leaky ReLU uses 0.1 (Keras' default is 0.3); the deprecated Keras argument
    # `alpha` is passed through untouched so that Keras' own warning applies.
    if "alpha" not in kwargs:
        kwargs.setdefault("negative_slope", 0.1)
    return keras.layers.LeakyReLU(**kwargs)


_ACTIVATION_CONSTRUCTORS = {
    "relu": lambda **kw: keras.layers.ReLU(**kw),
    "leaky_relu": _leaky_relu,
    "sigmoid": lambda **kw: keras.layers.Activation("sigmoid", **kw),
    "tanh": lambda **kw: keras.layers.Activation("tanh", **kw),
    "softmax": lambda **kw: keras.layers.Softmax(**kw),
    "linear": lambda **kw: keras.layers.Activation("linear", **kw),
    "custom_relu": lambda **kw: CustomGradientReLU(**kw),
}

#: Names accepted by :func:`activation` (case-insensitive; ``-`` and spaces read as ``_``).
ACTIVATIONS = tuple(_ACTIVATION_CONSTRUCTORS)


def activation(name, /, **kwargs):
    """Build an activation layer from its name.

    Args:
        name: one of :data:`ACTIVATIONS` (case-insensitive, ``-`` and spaces read as ``_``):

            * ``"relu"`` -> ``keras.layers.ReLU``;
            * ``"leaky_relu"`` -> ``keras.layers.LeakyReLU`` with ``negative_slope=0.1`` unless
              given (Keras' own default is 0.3);
            * ``"sigmoid"``, ``"tanh"``, ``"linear"`` -> ``keras.layers.Activation``;
            * ``"softmax"`` -> ``keras.layers.Softmax`` (``axis`` kwarg, default -1);
            * ``"custom_relu"`` -> :class:`CustomGradientReLU`.

            Also accepted: an existing ``keras.layers.Layer``, returned unchanged, and ``None``,
            which gives ``keras.layers.Identity`` (no activation) so callers can always apply
            the result.
        **kwargs: passed to the layer's constructor (e.g. ``negative_slope``, and ``name`` for
            the layer's name: ``name`` is positional-only, so ``activation("relu", name="act1")``
            names the layer); not allowed with a layer instance.

    Returns:
        A ``keras.layers.Layer``.

    Raises:
        ValueError: on an unknown name (the message suggests the closest valid name and lists
            all of them), or when ``kwargs`` come with a layer instance.
        TypeError: if ``name`` is neither a string, a layer nor None.

    Example:
        >>> import numpy as np
        >>> layer = activation("leaky_relu")
        >>> print(np.asarray(layer(np.array([-2.0, 3.0], dtype="float32"))))
        [-0.2  3. ]
    """
    if name is None:
        return keras.layers.Identity(**kwargs)
    if isinstance(name, keras.layers.Layer):
        if kwargs:
            raise ValueError(
                f"activation: keyword arguments {sorted(kwargs)} cannot be applied to an "
                f"existing layer ({name.__class__.__name__}); pass a name such as 'leaky_relu' "
                "instead, or configure the layer yourself."
            )
        return name
    if not isinstance(name, str):
        raise TypeError(
            "activation: expected an activation name (one of " + ", ".join(ACTIVATIONS)
            + f"), a keras Layer or None; got {name!r} of type {type(name).__name__}."
        )
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ACTIVATION_CONSTRUCTORS:
        hint = did_you_mean(key, ACTIVATIONS)
        raise ValueError(
            f"Unknown activation '{name}'.{hint} Valid names: {', '.join(ACTIVATIONS)}."
        )
    return _ACTIVATION_CONSTRUCTORS[key](**kwargs)
