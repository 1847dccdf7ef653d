"""Three layers the network zoo needs that Keras does not have, for every rank.

* :class:`LocalResponseNormalization`: AlexNet's brightness normalisation across channels
  (Krizhevsky et al., 2012, section 3.3).
* :class:`ChannelMaxout`: the maximum over groups of ``pieces`` consecutive channels, which
  turns a convolution (or Dense layer) with ``filters * pieces`` outputs into a maxout unit
  (Goodfellow et al., 2013) with ``filters`` outputs.
* :class:`StochasticDepth`: drops a residual branch for whole samples while training (Huang et
  al., 2016; EfficientNet's ``drop_connect``), used by ResNet, the wide ResNet and
  EfficientNet-Lite.

The first two act on the last (channel) axis only, the third on the batch axis only, so they
work on ``(batch, features)`` vectors and on channels-last sequences, images and volumes alike. They are registered under the package
``biocnn`` (as ``biocnn.layers`` is), so models using them round-trip through ``.keras`` files,
and moving them to :mod:`biocnn.layers` later would not change their registered names.
"""

import numbers

import keras
from keras import ops

__all__ = ["ChannelMaxout", "LocalResponseNormalization", "StochasticDepth"]


def _positive(owner, argument, value, kind=numbers.Real, strict=True):
    if isinstance(value, bool) or not isinstance(value, kind) or (
        value <= 0 if strict else value < 0
    ):
        what = "integer" if kind is numbers.Integral else "number"
        sign = "positive" if strict else "non-negative"
        raise ValueError(f"{owner}: {argument} must be a {sign} {what}, got {value!r}.")
    return value


@keras.saving.register_keras_serializable(package="biocnn")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's local response normalisation across neighbouring channels.

    For channel ``i`` of ``C`` at one position, with ``a`` the input:
    ``b_i = a_i / (k + alpha * sum_{j=max(0, i-size//2)}^{min(C-1, i+size//2)} a_j ** 2) ** beta``.
    This is the paper's formula (``alpha`` is *not* divided by ``size``, as in
    ``tf.nn.local_response_normalization``; PyTorch's ``LocalResponseNorm`` divides it).
    The paper's values are the defaults: ``size=5, k=2, alpha=1e-4, beta=0.75``.

    Args:
        size: positive odd int, the number of adjacent channels summed over. Default 5.
        k: non-negative float, the additive constant. Default 2.0.
        alpha: non-negative float, the scale of the sum. Default 1e-4.
        beta: non-negative float, the exponent. Default 0.75.
        **kwargs: base layer arguments such as ``name``.

    Returns:
        A tensor of the input's shape.

    Raises:
        ValueError: if ``size`` is not a positive odd int or a constant is negative.

    Example:
        >>> import numpy as np
        >>> y = LocalResponseNormalization()(np.ones((2, 8, 8, 16), dtype="float32"))
        >>> print(y.shape)
        (2, 8, 8, 16)
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        owner = "LocalResponseNormalization"
        size = _positive(owner, "size", size, numbers.Integral)
        if size % 2 == 0:
            raise ValueError(
                f"{owner}: size must be odd (a window centred on each channel), got {size}; "
                f"use {size - 1} or {size + 1}."
            )
        self.size = int(size)
        self.k = float(_positive(owner, "k", k, strict=False))
        self.alpha = float(_positive(owner, "alpha", alpha, strict=False))
        self.beta = float(_positive(owner, "beta", beta, strict=False))

    def call(self, inputs):
        half = self.size // 2
        channels = inputs.shape[-1]
        squared = ops.square(inputs)
        pad = [[0, 0]] * (len(inputs.shape) - 1) + [[half, half]]
        padded = ops.pad(squared, pad)
        window = sum(padded[..., i : i + channels] for i in range(self.size))
        return inputs / ops.power(self.k + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "k": self.k, "alpha": self.alpha, "beta": self.beta})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class ChannelMaxout(keras.layers.Layer):
    """Maximum over groups of ``pieces`` consecutive channels (the last axis).

    Output channel ``u`` is ``max(x[..., u * pieces : (u + 1) * pieces])``, the grouping of
    :class:`biocnn.layers.Maxout`. After a convolution or Dense layer with ``units * pieces``
    outputs this gives ``units`` maxout units: each is the maximum of ``pieces`` affine maps
    (Goodfellow et al., 2013). ``Dense(units * pieces)`` followed by ``ChannelMaxout(pieces)``
    computes exactly ``biocnn.layers.Maxout(units, pieces)`` with the same kernel.

    Args:
        pieces: positive int, the group size. Default 2.
        **kwargs: base layer arguments such as ``name``.

    Returns:
        A tensor of shape ``input_shape[:-1] + (input_shape[-1] // pieces,)``.

    Raises:
        ValueError: if ``pieces`` is not a positive int, or (at build) if the number of
            channels is unknown or not a multiple of ``pieces``.

    Example:
        >>> import numpy as np
        >>> y = ChannelMaxout(pieces=3)(np.zeros((2, 10, 12), dtype="float32"))
        >>> print(y.shape)
        (2, 10, 4)
    """

    def __init__(self, pieces=2, **kwargs):
        super().__init__(**kwargs)
        self.pieces = int(_positive("ChannelMaxout", "pieces", pieces, numbers.Integral))

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.pieces:
            raise ValueError(
                f"ChannelMaxout: the last axis must be a known multiple of pieces={self.pieces}, "
                f"got input shape {tuple(input_shape)}. Give the layer before it "
                f"units * {self.pieces} outputs."
            )

    def call(self, inputs):
        channels = inputs.shape[-1]
        leading = tuple(ops.shape(inputs)[:-1])
        grouped = ops.reshape(inputs, leading + (channels // self.pieces, self.pieces))
        return ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // self.pieces,)

    def get_config(self):
        config = super().get_config()
        config.update({"pieces": self.pieces})
        return config


@keras.saving.register_keras_serializable(package="biocnn")
class StochasticDepth(keras.layers.Layer):
    """Stochastic depth on a residual branch: keep each sample's branch or zero it (training only).

    Put on the residual branch before the addition: ``x + StochasticDepth(rate)(f(x))``. In
    training, with ``survival = 1 - rate``, each sample draws ``keep = floor(survival + u)``,
    ``u ~ U[0, 1)`` (1 with probability ``survival``), once for all its other axes, and the
    output is ``inputs / survival * keep``, so its expectation is ``inputs``. This is the
    reference EfficientNet's ``drop_connect`` and the "stochastic depth" of Huang et al. (2016)
    with inverted scaling (the kept branches are scaled up in training, nothing at inference).

    The layer is the identity at inference (``training`` false), when ``rate == 0``, and when the
    layer is not trainable: a frozen backbone (``model.trainable = False``) keeps every branch,
    as Keras 3's BatchNormalization stops updating its statistics there. It has no weights; its
    random state is a ``keras.random.SeedGenerator`` (seeded by ``seed``, else from Keras's
    global seed, which ``biocnn.training.set_seed`` sets), so runs repeat.

    Args:
        rate: float in [0, 1), the probability of dropping a sample's branch.
        seed: int or None, seeds the layer's ``keras.random.SeedGenerator``.
        **kwargs: base layer arguments such as ``name``.

    Returns:
        A tensor of the input's shape.

    Raises:
        ValueError: if ``rate`` is not a number in [0, 1) or ``seed`` not an int or None.

    Example:
        >>> import numpy as np
        >>> layer = StochasticDepth(0.5, seed=1)
        >>> y = np.asarray(layer(np.ones((4, 3, 2), dtype="float32"), training=True))
        >>> print(y.shape, set(np.unique(y).tolist()) <= {0.0, 2.0})
        (4, 3, 2) True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"StochasticDepth: rate must be a number in [0, 1) (the probability of dropping a "
                             f"sample's residual branch; 0 for none), got {rate!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"StochasticDepth: seed must be an int or None, got {seed!r}.")
        self.rate = float(rate)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or not self.trainable or self.rate == 0:
            return inputs
        survival = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, dtype=inputs.dtype, seed=self.seed_generator)
        return inputs / survival * ops.floor(survival + noise)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
