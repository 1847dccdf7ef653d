"""CNNs for biological sequences (1D, channels last: one-hot DNA is ``(length, 4)``).

* :func:`deepbind` (Alipanahi et al., 2015): one convolution of motif detectors (16 filters of
  width 24), ReLU, global max pooling over the sequence, one hidden layer of 32 ReLU units with
  dropout, and the output.
* :func:`basset` (Kelley, Snoek and Rinn, 2016): three convolution - batch norm - ReLU - max
  pool layers (300x19 pool 3, 200x11 pool 4, 200x7 pool 4), two fully connected layers of 1000
  with dropout 0.3, and the output (164 sigmoid outputs, one per cell type, in the paper: use
  ``head="sigmoid"``). On 600 bp it flattens 10 x 200 = 2000 values, as the original.
* :func:`kim_cnn` (Kim, 2014): convolutions of several widths side by side (3, 4 and 5 with
  100 maps each), ReLU, max over positions, concatenated, dropout 0.5, and an output layer
  whose weight vectors are constrained to an L2 norm of at most 3. The input is a sequence of
  vectors: one-hot nucleotides or amino acids, or word embeddings.

These are registered for 1D only: their kernels (24, 19, ...) are sequence motifs. The code
is rank-generic all the same (every layer comes from the rank tables).
"""

import numbers

import keras

from biocnn.models import blocks, naming
from biocnn.models.registry import register

__all__ = ["deepbind", "basset", "kim_cnn", "seqnet", "BASSET_CONVS", "basset_min_valid_length"]

#: Basset's convolutions: (filters, width, pool size).
BASSET_CONVS = ((300, 19, 3), (200, 11, 4), (200, 7, 4))
BASSET_FC = (1000, 1000)
PADDINGS = ("auto", "valid", "same")


@register("deepbind", ranks=(1,))
def deepbind(
    input_shape,
    num_classes,
    filters=16,
    kernel_size=24,
    hidden_units=32,
    activation="relu",
    dropout=0.5,
    pooling="max",
    width_multiplier=1.0,
    head="softmax",
    name="deepbind",
):
    """DeepBind: motif convolution, global pooling, one small hidden layer.

    Layers, with ``name`` as prefix: ``_input``, ``_conv1``, ``_conv1_act`` (the last
    convolutional feature map), ``_pool`` (global), ``_fc1``, ``_fc1_act``, ``_dropout1``
    (absent when ``hidden_units`` is 0 or ``dropout`` is 0), ``_logits`` and ``_probs``.

    The convolution pads the sequence ('same') so that motifs at its ends are scored too
    (DeepBind pads with ``kernel_size - 1`` uninformative positions).

    Args:
        input_shape: ``(length, channels)``, e.g. ``(101, 4)`` for one-hot DNA.
        num_classes: int, number of outputs (1 with ``head="sigmoid"`` or ``"regression"``
            for a single binding score).
        filters: int, number of motif detectors (16 in the paper).
        kernel_size: int, motif width (24 in the paper).
        hidden_units: int, units of the hidden layer (32); 0 for none (the paper's other
            choice).
        activation: hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS``.
        dropout: float in [0, 1), dropout after the hidden layer. Default 0.5.
        pooling: ``"max"`` (default) or ``"avg"`` over positions.
        width_multiplier: positive float scaling ``filters`` and ``hidden_units``.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: DeepBind.

    Raises:
        ValueError: for a non-1D ``input_shape`` (DeepBind is registered for sequences),
            bad ``num_classes``/``filters``/``kernel_size``/``hidden_units``/``dropout``/
            ``width_multiplier``, or an unknown ``activation``/``pooling``/``head``.

    Example:
        >>> model = deepbind((101, 4), 1, head="sigmoid")
        >>> print(model.output_shape, model.count_params())
        (None, 1) 2129
    """
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, ranks=(1,))
    filters = blocks.check_positive_int(filters, "filters", where=name)
    kernel_size = blocks.check_positive_int(kernel_size, "kernel_size", where=name)
    if isinstance(hidden_units, bool) or not isinstance(hidden_units, numbers.Integral) or hidden_units < 0:
        raise ValueError(f"{name}: hidden_units must be an int >= 0 (0: no hidden layer), got {hidden_units!r}.")

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = blocks.conv_unit(
        inputs, rank, blocks.scaled(filters, width), kernel_size, activation, f"{name}_conv1",
        padding="same",
    )
    x = blocks.global_pool(rank, pooling, name=f"{name}_pool")(x)
    if hidden_units:
        x = blocks.dense_unit(x, blocks.scaled(hidden_units, width), activation, f"{name}_fc1")
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout1")(x)
    x = blocks.output_head(x, num_classes, head, name)
    return keras.Model(inputs, x, name=name)


def _basset_length(length, padding):
    """Length after Basset's three conv/pool layers, or 0 when a window no longer fits."""
    for _, width, pool in BASSET_CONVS:
        if padding == "valid":
            length = length - width + 1
            length = length // pool if length >= pool else 0
        else:
            length = -(-length // pool)
        if length < 1:
            return 0
    return length


def basset_min_valid_length():
    """Shortest sequence for Basset's original unpadded ('valid') layout (168).

    Example:
        >>> print(basset_min_valid_length())
        168
    """
    return next(n for n in range(1, 10_000) if _basset_length(n, "valid") >= 1)


@register("basset", ranks=(1,))
def basset(
    input_shape,
    num_classes,
    activation="relu",
    batch_norm=True,
    dropout=0.3,
    pooling="max",
    padding="auto",
    width_multiplier=1.0,
    head="softmax",
    name="basset",
):
    """Basset: three convolution/pooling layers and two fully connected layers.

    Layers, with ``name`` as prefix: ``_input``; for ``i`` in 1..3 ``_conv{i}``,
    ``_conv{i}_bn`` (when ``batch_norm``), ``_conv{i}_act``, ``_pool{i}``; ``_flatten``;
    ``_fc1``, ``_fc1_act``, ``_dropout1``, ``_fc2``, ``_fc2_act``, ``_dropout2``; ``_logits``
    and ``_probs``. The last convolutional feature map is ``_conv3_act``.

    Args:
        input_shape: ``(length, channels)``, e.g. ``(600, 4)`` as in the paper.
        num_classes: int, number of outputs (164 DNase-seq cell types in the paper, with
            ``head="sigmoid"``).
        activation: hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS``.
        batch_norm: bool, batch normalisation after each convolution (the paper's). Default
            True.
        dropout: float in [0, 1), dropout after each fully connected layer. Default 0.3.
        pooling: ``"max"`` (default) or ``"avg"``.
        padding: ``"auto"`` (default: the original's unpadded 'valid' layout when the sequence
            has at least 168 positions, else 'same'), ``"valid"`` or ``"same"``.
        width_multiplier: positive float scaling every layer's filters and units.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: Basset.

    Raises:
        ValueError: for a non-1D ``input_shape``, bad ``num_classes``/``dropout``/
            ``width_multiplier``, an unknown ``activation``/``pooling``/``padding``/``head``,
            or ``padding="valid"`` on a sequence shorter than 168.

    Example:
        >>> model = basset((600, 4), 164, head="sigmoid")
        >>> print(model.get_layer("basset_flatten").output.shape)
        (None, 2000)
    """
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, pools=blocks.POOL, ranks=(1,))
    blocks.look_up("padding", padding, PADDINGS, where=name)
    length, minimum = input_shape[0], basset_min_valid_length()
    if padding == "auto":
        padding = "valid" if length >= minimum else "same"
    elif padding == "valid" and length < minimum:
        raise ValueError(
            f"{name}: padding='valid' needs a sequence of at least {minimum} positions, got "
            f"input_shape {tuple(input_shape)}. Use padding='auto' or 'same'."
        )

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = inputs
    for i, (filters, kernel, pool_size) in enumerate(BASSET_CONVS, start=1):
        x = blocks.conv_unit(
            x, rank, blocks.scaled(filters, width), kernel, activation, f"{name}_conv{i}",
            batch_norm=batch_norm, padding=padding,
        )
        x = blocks.pool(rank, pooling, pool_size, padding=padding, name=f"{name}_pool{i}")(x)
    fc_numbers = range(1, len(BASSET_FC) + 1)
    x = blocks.dense_classifier(x, fc_numbers, [blocks.scaled(u, width) for u in BASSET_FC], activation, dropout,
                                num_classes, head, name)
    return keras.Model(inputs, x, name=name)


def _check_filter_widths(filter_widths, name):
    if isinstance(filter_widths, (str, bytes)) or not hasattr(filter_widths, "__iter__"):
        raise ValueError(
            f"{name}: filter_widths must be a sequence of positive ints, e.g. (3, 4, 5); got "
            f"{filter_widths!r}."
        )
    widths = tuple(filter_widths)
    if not widths or len(set(widths)) != len(widths):
        raise ValueError(
            f"{name}: filter_widths must be non-empty and without repeats (each width is one "
            f"branch, named after it), got {widths}."
        )
    for w in widths:
        blocks.check_positive_int(w, "every entry of filter_widths", where=name)
    return widths


@register("kim_cnn", ranks=(1,))
def kim_cnn(
    input_shape,
    num_classes,
    filter_widths=(3, 4, 5),
    filters=100,
    activation="relu",
    dropout=0.5,
    max_norm=3.0,
    pooling="max",
    width_multiplier=1.0,
    head="softmax",
    name="kim_cnn",
):
    """Kim's sentence CNN: parallel convolutions of several widths, max over positions.

    Layers, with ``name`` as prefix: ``_input``; for each width ``w`` in ``filter_widths``
    ``_conv_w{w}`` and ``_conv_w{w}_act``; ``_concat`` (the branches' maps side by side, when
    there are several widths: the last convolutional feature map); ``_pool`` (global);
    ``_dropout``; ``_logits`` and ``_probs``.

    Every branch pads ('same') so its map has the input's length; the maps are concatenated
    before the global pooling, which is the same as pooling each branch and concatenating the
    vectors (Kim's order), and gives one feature map for interpretation.

    Args:
        input_shape: ``(length, channels)``: one-hot sequence or embedded words.
        num_classes: int, number of outputs.
        filter_widths: sequence of distinct positive ints, one branch each. Default (3, 4, 5).
        filters: int, feature maps per branch (100 in the paper).
        activation: hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS``.
        dropout: float in [0, 1), dropout on the pooled features. Default 0.5.
        max_norm: positive float or None: the L2 norm limit of each output unit's weight
            vector (3 in the paper); None for no limit.
        pooling: ``"max"`` (default, max-over-time) or ``"avg"``.
        width_multiplier: positive float scaling ``filters``.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the CNN.

    Raises:
        ValueError: for a non-1D ``input_shape``, empty/repeated/non-positive
            ``filter_widths``, bad ``num_classes``/``filters``/``dropout``/``max_norm``/
            ``width_multiplier``, or an unknown ``activation``/``pooling``/``head``.

    Example:
        >>> model = kim_cnn((50, 300), 2)
        >>> print(model.get_layer("kim_cnn_concat").output.shape, model.count_params())
        (None, 50, 300) 360902
    """
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling=pooling, head=head, where=name, ranks=(1,))
    widths = _check_filter_widths(filter_widths, name)
    filters = blocks.check_positive_int(filters, "filters", where=name)
    if max_norm is not None and (
        isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real) or max_norm <= 0
    ):
        raise ValueError(f"{name}: max_norm must be a positive number or None, got {max_norm!r}.")

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    branches = [
        blocks.conv_unit(
            inputs, rank, blocks.scaled(filters, width), w, activation, f"{name}_conv_w{w}",
            padding="same",
        )
        for w in widths
    ]
    x = keras.layers.Concatenate(name=f"{name}_concat")(branches) if len(branches) > 1 else branches[0]
    x = blocks.global_pool(rank, pooling, name=f"{name}_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    constraint = None if max_norm is None else keras.constraints.MaxNorm(float(max_norm), axis=0)
    x = blocks.output_head(x, num_classes, head, name, kernel_constraint=constraint)
    return keras.Model(inputs, x, name=name)


@register("seqnet", ranks=(1,))
def seqnet(
    input_shape,
    num_classes,
    filters=64,
    kernel_size=9,
    depth=2,
    bins=8,
    bin_channels=8,
    hidden_units=64,
    activation="relu",
    dropout=0.3,
    batch_norm=False,
    width_multiplier=1.0,
    head="softmax",
    name="seqnet",
):
    """biocnn's default sequence CNN: it sees both *whether* a motif is there and *where*.

    ``depth`` convolution - activation units ('same' padding; the first of width
    ``kernel_size``, the next of width 5), each but the last followed by max pooling by 2. The
    last feature map then feeds two read-outs, concatenated: global max pooling over the whole
    sequence (a motif anywhere, as DeepBind) and max pooling into ``bins`` equal bins, each
    reduced by a 1x1 convolution to ``bin_channels`` values and flattened (a motif at a
    position, as a flattening CNN: splice sites, promoters, TSS-centred windows). Then one
    hidden layer, dropout and the output. A DeepBind-style model (global pooling only) cannot
    tell a donor site at the centre from the same dinucleotide elsewhere; a flattening model has
    to learn a motif once per position and over-fits where only presence matters. The narrow
    positional read-out serves both kinds of task (``pipelines/results/defaults_study``).

    Batch norm is off by default: on a few thousand sequences its running statistics lag the
    weights for the first epochs, validation stalls, and the plateau rule cuts the learning rate
    before anything is learnt (measured on the motif task: chance level with it, 0.77 without).

    Layers, with ``name`` as prefix: ``_input``; for ``i`` in 1..depth ``_conv{i}``
    (``_conv{i}_bn``), ``_conv{i}_act`` (and ``_pool{i}`` but for the last); ``_anywhere``
    (global max), ``_bins`` (pooling into bins), ``_bins_readout`` (1x1), ``_position``
    (flattened), ``_features`` (concatenated), ``_fc1``, ``_fc1_act``, ``_dropout1``,
    ``_logits`` and ``_probs``. The first convolution holds the motif detectors (``_conv1``).

    Args:
        input_shape: ``(length, channels)``, e.g. ``(60, 4)`` for one-hot DNA.
        num_classes: int, number of outputs.
        filters: int, channels of every convolution (64).
        kernel_size: int, width of the first convolution (9: most transcription-factor
            motifs and splice-site cores fit; deeper units widen the receptive field).
        depth: int >= 1, convolution units.
        bins: int >= 1, positional bins of the second read-out (8).
        bin_channels: int >= 1, values per bin after the 1x1 convolution (8).
        hidden_units: int >= 1, units of the hidden layer.
        activation: hidden activation, one of ``blocks.HIDDEN_ACTIVATIONS``.
        dropout: float in [0, 1), after the hidden layer.
        batch_norm: bool, batch norm after every convolution (off; see above).
        width_multiplier: positive float scaling ``filters`` and ``hidden_units``.
        head: ``"softmax"`` (default), ``"sigmoid"``, ``"regression"`` or ``"logits"``/None.
        name: str, the model name and the prefix of every layer name.

    Returns:
        keras.Model: the network.

    Raises:
        ValueError: for a non-1D ``input_shape``, a bad ``num_classes``/``filters``/
            ``kernel_size``/``depth``/``bins``/``bin_channels``/``hidden_units``/``dropout``/
            ``width_multiplier``, or an unknown ``activation``/``head``.

    Example:
        >>> model = seqnet((60, 4), 3)
        >>> print(model.output_shape, model.count_params())
        (None, 3) 31883
    """
    rank, num_classes, activation, dropout, width, head = blocks.check_model_options(
        input_shape, num_classes, activation=activation, dropout=dropout, width_multiplier=width_multiplier,
        pooling="max", head=head, where=name, ranks=(1,))
    filters = blocks.check_positive_int(filters, "filters", where=name)
    kernel_size = blocks.check_positive_int(kernel_size, "kernel_size", where=name)
    depth = blocks.check_positive_int(depth, "depth", where=name)
    bins = blocks.check_positive_int(bins, "bins", where=name)
    bin_channels = blocks.check_positive_int(bin_channels, "bin_channels", where=name)
    hidden_units = blocks.check_positive_int(hidden_units, "hidden_units", where=name)
    channels = blocks.scaled(filters, width)

    inputs = keras.Input(tuple(input_shape), name=f"{name}_input")
    x = inputs
    for i in range(1, depth + 1):
        x = blocks.conv_unit(x, rank, channels, kernel_size if i == 1 else 5, activation, f"{name}_conv{i}",
                             batch_norm=bool(batch_norm), padding="same")
        if i < depth:
            x = blocks.pool(rank, "max", 2, padding="same", name=f"{name}_pool{i}")(x)
    anywhere = blocks.global_pool(rank, "max", name=f"{name}_anywhere")(x)
    length = x.shape[1]
    if length is None:
        raise ValueError(f"{name}: needs a fixed sequence length (input_shape[0]), got {tuple(input_shape)}.")
    size = -(-length // min(bins, length))
    where = blocks.pool(rank, "max", size, padding="same", name=f"{name}_bins")(x)
    where = blocks.conv(rank, bin_channels, 1, name=f"{name}_bins{naming.READOUT_SUFFIX}")(where)
    where = keras.layers.Flatten(name=f"{name}_position")(where)
    x = keras.layers.Concatenate(name=f"{name}_features")([anywhere, where])
    x = blocks.dense_unit(x, blocks.scaled(hidden_units, width), activation, f"{name}_fc1")
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout1")(x)
    x = blocks.output_head(x, num_classes, head, name)
    return keras.Model(inputs, x, name=name)
