"""First-layer convolution filters as position weight matrices, written in MEME motif format.

A filter of the first convolution scans one-hot sequences like a motif. Its position weight
matrix (PWM) is built as in DeepBind and Basset (Kelley et al., 2016): every window of the
input where the filter's activation exceeds ``threshold`` times its largest activation over
the data is a site, and the PWM is the base frequency at each position of those sites. The
MEME minimal format written by :func:`write_meme` is what TomTom reads to compare the filters
with databases of known motifs (JASPAR, CIS-BP, HOCOMOCO)::

    tomtom -no-ssc -dist pearson -thresh 0.1 motifs.meme JASPAR2024_CORE.meme
"""

import dataclasses
import math
import warnings

import keras
import numpy as np

from biocnn.data.encoding import ALPHABETS
from biocnn.rundir import write_text

__all__ = ["FilterMotifs", "first_conv_layer", "filter_activations", "filter_pwms", "write_meme"]

_CONV = (keras.layers.Conv1D,)


@dataclasses.dataclass
class FilterMotifs:
    """What :func:`filter_pwms` returns.

    Attributes:
        pwms: ``(filters, width, letters)`` base frequencies; each row sums to 1 (uniform
            for a filter without sites).
        nsites: ``(filters,)`` the number of windows that made each PWM.
        names: one name per filter, ``"<layer>_filter<i>"``.
        layer: the convolution's name.
    """

    pwms: np.ndarray
    nsites: np.ndarray
    names: list
    layer: str


def first_conv_layer(model):
    """The model's first ``Conv1D`` layer (in layer order), the layer that sees the sequence.

    Raises:
        ValueError: the model has no ``Conv1D`` layer.

    Example:
        >>> m = keras.Sequential([keras.Input((20, 4)), keras.layers.Conv1D(3, 5, name="c")])
        >>> first_conv_layer(m).name
        'c'
    """
    for layer in model.layers:
        if isinstance(layer, _CONV):
            return layer
    raise ValueError(
        f"first_conv_layer: model {model.name!r} has no Conv1D layer; sequence motifs need a 1D "
        "convolutional model (e.g. deepbind or basset)."
    )


def _conv_layer(model, layer):
    if layer is None:
        return first_conv_layer(model)
    found = model.get_layer(layer) if isinstance(layer, str) else layer
    if not isinstance(found, _CONV):
        raise ValueError(f"filter_pwms: layer {found.name!r} is a {type(found).__name__}, not a Conv1D.")
    return found


def filter_activations(model, x, layer=None, batch_size=256):
    """The output of a convolution layer of ``model`` on inputs ``x``.

    Args:
        model: a functional or sequential Keras model.
        x: ``(N, length, letters)`` one-hot inputs.
        layer: a layer name or layer; None: :func:`first_conv_layer`.
        batch_size: inputs per forward pass.

    Returns:
        ``(N, positions, filters)`` float32.

    Example:
        >>> m = keras.Sequential([keras.Input((20, 4)), keras.layers.Conv1D(3, 5)])
        >>> filter_activations(m, np.zeros((2, 20, 4))).shape
        (2, 16, 3)
    """
    conv = _conv_layer(model, layer)
    probe = keras.Model(model.inputs, conv.output)
    return np.asarray(probe.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0))


def _left_padding(conv, length):
    kernel, stride, dilation = conv.kernel_size[0], conv.strides[0], conv.dilation_rate[0]
    span = (kernel - 1) * dilation + 1
    if conv.padding == "valid":
        return 0
    if conv.padding == "causal":
        return span - 1
    total = max((math.ceil(length / stride) - 1) * stride + span - length, 0)
    return total // 2  # TensorFlow's "same": the extra zero goes at the end


def filter_pwms(model, x, layer=None, threshold=0.5, batch_size=256):
    """Position weight matrices of a convolution's filters, from the windows that activate them.

    Args:
        model: a Keras model whose first convolution (or ``layer``) reads one-hot sequences.
        x: ``(N, length, letters)`` one-hot sequences (e.g. the training set).
        layer: a ``Conv1D`` layer name or layer; None: the first one.
        threshold: a window is a site of a filter when its activation exceeds ``threshold``
            times the filter's largest activation over ``x`` (0.5 in Basset); filters whose
            largest activation is not positive have no sites.
        batch_size: inputs per forward pass.

    Returns:
        A :class:`FilterMotifs`. Windows reaching into the convolution's zero padding count
        only their real positions.

    Raises:
        ValueError: no ``Conv1D`` layer, a layer whose input is not ``x``'s letters, or a
            threshold outside [0, 1).

    Example:
        >>> m = keras.Sequential([keras.Input((20, 4)), keras.layers.Conv1D(3, 5, name="c")])
        >>> x = np.eye(4, dtype="float32")[np.random.randint(0, 4, (8, 20))]
        >>> filter_pwms(m, x).pwms.shape
        (3, 5, 4)
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"filter_pwms: threshold must be in [0, 1), got {threshold!r}.")
    conv = _conv_layer(model, layer)
    x = np.asarray(x, np.float32)
    if conv.kernel.shape[-2] != x.shape[-1]:
        raise ValueError(
            f"filter_pwms: layer {conv.name!r} reads {conv.kernel.shape[-2]} channels but x has "
            f"{x.shape[-1]}; motifs are read from the convolution applied to the one-hot input."
        )
    activations = filter_activations(model, x, conv, batch_size)
    kernel, stride, dilation = conv.kernel_size[0], conv.strides[0], conv.dilation_rate[0]
    left = _left_padding(conv, x.shape[1])
    span = (kernel - 1) * dilation + 1
    right = max(0, (activations.shape[1] - 1) * stride + span - left - x.shape[1])
    padded = np.pad(x, ((0, 0), (left, right), (0, 0)))
    offsets = np.arange(kernel) * dilation
    num_filters, letters = activations.shape[-1], x.shape[-1]
    pwms = np.full((num_filters, kernel, letters), 1.0 / letters)
    nsites = np.zeros(num_filters, np.int64)
    for f in range(num_filters):
        best = activations[..., f].max()
        if best <= 0:
            continue
        samples, positions = np.nonzero(activations[..., f] > threshold * best)
        counts = np.zeros((kernel, letters))
        for chunk in range(0, len(samples), 4096):  # bounded memory for many sites
            rows = samples[chunk:chunk + 4096, None]
            columns = positions[chunk:chunk + 4096, None] * stride + offsets
            counts += padded[rows, columns].sum(axis=0)
        totals = counts.sum(axis=1, keepdims=True)
        pwms[f] = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / letters)
        nsites[f] = len(samples)
    names = [f"{conv.name}_filter{f}" for f in range(num_filters)]
    return FilterMotifs(pwms=pwms, nsites=nsites, names=names, layer=conv.name)


def write_meme(path, motifs, alphabet="dna", background=None):
    """Write PWMs in MEME minimal motif format (the input of TomTom and other MEME tools).

    Filters without sites are left out, with a warning.

    Args:
        path: the ``.meme`` file to write (atomically).
        motifs: a :class:`FilterMotifs`, or an array ``(motifs, width, letters)`` of
            frequencies.
        alphabet: ``"dna"``, ``"rna"`` or ``"protein"``: the letters of the columns.
        background: letter frequencies (default uniform).

    Returns:
        int: the number of motifs written.

    Raises:
        ValueError: an array whose last axis does not match the alphabet, or rows that are not
            frequencies.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "m.meme")
        >>> write_meme(path, np.array([[[1.0, 0, 0, 0], [0, 0.5, 0.5, 0]]]))
        1
        >>> open(path).read().splitlines()[-3:]
        ['letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0', ' 1.000000 0.000000 0.000000 0.000000', ' 0.000000 0.500000 0.500000 0.000000']
    """
    if isinstance(motifs, FilterMotifs):
        pwms, nsites, names = motifs.pwms, motifs.nsites, motifs.names
    else:
        pwms = np.asarray(motifs, np.float64)
        nsites = np.full(len(pwms), 20)  # MEME's default site count when it is unknown
        names = [f"motif{i}" for i in range(len(pwms))]
    letters = ALPHABETS[alphabet] if alphabet in ALPHABETS else None
    if letters is None:
        raise ValueError(f"write_meme: unknown alphabet {alphabet!r}; valid: {', '.join(ALPHABETS)}.")
    if pwms.ndim != 3 or pwms.shape[-1] != len(letters):
        raise ValueError(
            f"write_meme: expected PWMs of shape (motifs, width, {len(letters)}) for the {alphabet} "
            f"alphabet, got {pwms.shape}."
        )
    if np.any(pwms < 0) or not np.allclose(pwms.sum(axis=-1), 1.0, atol=1e-4):
        raise ValueError("write_meme: every PWM row must hold frequencies >= 0 that sum to 1.")
    background = np.full(len(letters), 1.0 / len(letters)) if background is None else np.asarray(background)
    lines = ["MEME version 4", "", f"ALPHABET= {letters}", ""]
    if alphabet != "protein":
        lines += ["strands: + -", ""]
    lines += ["Background letter frequencies",
              " ".join(f"{letter} {p:.4f}" for letter, p in zip(letters, background)), ""]
    skipped = [name for name, n in zip(names, nsites) if n == 0]
    for pwm, n, name in zip(pwms, nsites, names):
        if n == 0:
            continue
        lines += [f"MOTIF {name}", "",
                  f"letter-probability matrix: alength= {len(letters)} w= {len(pwm)} nsites= {int(n)} E= 0"]
        lines += [" " + " ".join(f"{p:.6f}" for p in row) for row in pwm]
        lines.append("")
    if skipped:
        warnings.warn(
            f"write_meme: {len(skipped)} filters have no sites (never activated) and are left out: "
            f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}.",
            UserWarning,
            stacklevel=2,
        )
    write_text(path, "\n".join(lines).rstrip("\n") + "\n")
    return len(pwms) - len(skipped)
