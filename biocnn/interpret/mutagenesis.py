"""In-silico mutagenesis: the change of a prediction for every single-letter substitution.

For a one-hot sequence of length L over A letters, each of the L x A variants that replace one
position by one letter is scored by the model; the effect is the variant's score for the target
class minus the reference sequence's score. Substituting a letter by itself has effect 0. The
result is a ``(L, A)`` map per sequence, drawn by :func:`plot_mutagenesis` as a heat map under
a bar of the mean effect per position (how much the prediction depends on that position).
"""

import numpy as np

from biocnn import plots

__all__ = ["in_silico_mutagenesis", "plot_mutagenesis"]

_LETTER_TICKS = 200  # longest sequence whose letters label the x-axis


def _targets(target, reference_scores):
    n = len(reference_scores)
    if target is None:
        return reference_scores.argmax(axis=1)
    targets = np.broadcast_to(np.asarray(target, dtype=np.int64), (n,))
    classes = reference_scores.shape[1]
    if targets.min() < 0 or targets.max() >= classes:
        raise ValueError(
            f"in_silico_mutagenesis: target must be a class index in [0, {classes - 1}], got "
            f"{sorted(set(targets.tolist()))}."
        )
    return targets


def in_silico_mutagenesis(model, x, target=None, log=False, batch_size=1024):
    """Effect of every single-letter substitution on the model's score of the target class.

    Args:
        model: a Keras model taking ``(N, length, letters)`` one-hot inputs and returning
            ``(N, classes)`` scores (probabilities, or logits for a ``head="logits"`` model).
        x: ``(N, length, letters)`` one-hot sequences, or one sequence ``(length, letters)``.
        target: the class whose score is followed: an int, one int per sequence, or None for
            each sequence's predicted class.
        log: compare log scores (for probability outputs): a change from 0.999 to 0.99 then
            counts as much as one from 0.1 to 0.01, so a confident prediction still shows
            which positions it rests on. Scores are clipped at 1e-12 first.
        batch_size: variants per forward pass.

    Returns:
        float32 array ``(N, length, letters)`` (``(length, letters)`` for one sequence):
        ``score(variant)[target] - score(reference)[target]`` (of their logs with ``log=True``)
        where the variant puts letter ``a`` at position ``l``.

    Raises:
        ValueError: an input that is not 2D/3D, or a target outside the classes.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((5, 4)), keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> in_silico_mutagenesis(model, np.eye(4, dtype="float32")[[0, 1, 2, 3, 0]]).shape
        (5, 4)
    """
    x = np.asarray(x, np.float32)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"in_silico_mutagenesis: expected (N, length, letters) inputs, got shape {x.shape}.")
    n, length, letters = x.shape
    transform = (lambda s: np.log(np.clip(s, 1e-12, None))) if log else (lambda s: s)
    reference = transform(np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float64).reshape(n, -1))
    targets = _targets(target, reference)
    identity = np.eye(letters, dtype=np.float32)
    effects = np.zeros((n, length, letters), np.float32)
    for i in range(n):
        variants = np.repeat(x[i][None], length * letters, axis=0).reshape(length, letters, length, letters)
        variants[np.arange(length), :, np.arange(length)] = identity  # variant (l, a): row l = letter a
        scores = transform(np.asarray(
            model.predict(variants.reshape(-1, length, letters), batch_size=batch_size, verbose=0),
            np.float64,
        )).reshape(length, letters, -1)
        effects[i] = scores[..., targets[i]] - reference[i, targets[i]]
        unchanged = np.all(x[i][:, None, :] == identity[None], axis=-1)  # the reference letter
        effects[i][unchanged] = 0.0
    return effects[0] if single else effects


def plot_mutagenesis(effects, sequences, path, letters="ACGT", titles=None, colorbar_label="score change"):
    """Draw mutagenesis maps, one panel pair per sequence, and save them as PNG.

    Args:
        effects: ``(N, length, letters)`` from :func:`in_silico_mutagenesis` (or one map).
        sequences: the N reference sequences as text (the x-axis labels).
        path: the PNG file (written atomically).
        letters: the channel letters (``"ACGT"``).
        titles: optional title per sequence.
        colorbar_label: what the effects measure (e.g. ``"log score change"``).

    Example:
        >>> import tempfile, os
        >>> plot_mutagenesis(np.zeros((4, 4)), ["ACGT"], os.path.join(tempfile.mkdtemp(), "m.png"))
    """
    import matplotlib.pyplot as plt

    effects = np.asarray(effects)
    if effects.ndim == 2:
        effects = effects[None]
    sequences = [sequences] if isinstance(sequences, str) else list(sequences)
    if len(sequences) != len(effects):
        raise ValueError(f"plot_mutagenesis: {len(effects)} maps but {len(sequences)} sequences.")
    length = effects.shape[1]
    fig, axes = plt.subplots(
        2 * len(effects), 1, figsize=(min(max(6.0, 0.16 * length + 2.5), 30.0), 2.8 * len(effects)),
        gridspec_kw={"height_ratios": [1, 1.6] * len(effects)}, squeeze=False, layout="constrained",
    )
    for i, (effect, sequence) in enumerate(zip(effects, sequences)):
        bar, heat = axes[2 * i, 0], axes[2 * i + 1, 0]
        per_position = effect.sum(axis=1) / max(len(letters) - 1, 1)  # mean over substitutions
        bar.bar(np.arange(length), per_position, color=np.where(per_position < 0, "tab:blue", "tab:red"))
        bar.set_xlim(-0.5, length - 0.5)
        bar.set_xticks([])
        bar.set_ylabel("mean effect", fontsize=8)
        bar.set_title(titles[i] if titles else f"sequence {i + 1}", fontsize=9)
        limit = float(np.abs(effect).max()) or 1.0  # each map on its own symmetric scale
        image = heat.imshow(effect.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                            interpolation="nearest")
        heat.set_yticks(range(len(letters)), list(letters))
        if length <= _LETTER_TICKS:
            heat.set_xticks(range(length), list(sequence[:length]) + [""] * (length - len(sequence)), fontsize=6)
        else:  # too long to label every letter: positions instead
            heat.set_xticks(range(0, length, 50))
        heat.set_xlabel("reference sequence (each cell: the effect of substituting that letter)", fontsize=8)
        fig.colorbar(image, ax=[bar, heat], fraction=0.02, pad=0.01, label=colorbar_label)
    plots.save_figure(fig, path)
