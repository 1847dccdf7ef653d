"""Learning-rate schedules beside the plateau rule: linear warm-up then cosine, and one-cycle.

Both are ``keras.optimizers.schedules.LearningRateSchedule`` objects of the optimisation step,
so they go straight into :class:`biocnn.optimizers.MomentumSGD` (the AlexNet rule keeps the
learning rate inside the velocity, so a schedule changes the step size of every later update)
and are saved with the optimizer in ``.keras`` files and checkpoints.

* :class:`WarmupCosine`: ``peak * (t + 1) / warmup`` for the first ``warmup_steps`` steps, then
  a half cosine from ``peak`` down to ``final`` at ``total_steps`` (Goyal et al. 2017 warm-up,
  Loshchilov and Hutter 2017 cosine without restarts).
* :class:`OneCycle`: Smith and Topin's one-cycle policy as PyTorch's ``OneCycleLR`` defines it
  (two cosine phases, ``anneal_strategy="cos"``): from ``peak / div_factor`` up to ``peak`` over
  ``pct_start`` of the steps, then down to ``peak / div_factor / final_div_factor``.
  (PyTorch also cycles the momentum by default; biocnn keeps the momentum fixed.)
"""

import math

import keras
from keras import ops

__all__ = ["WarmupCosine", "OneCycle", "get"]


def _check_positive(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a number > 0, got {value!r}.")


def _step(step):
    return ops.cast(step, "float32")


def _cosine(start, end, fraction):
    """``end + (start - end) / 2 * (1 + cos(pi * fraction))``: start at 0, end at 1."""
    return end + (start - end) * 0.5 * (1.0 + ops.cos(math.pi * fraction))


@keras.saving.register_keras_serializable(package="biocnn")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak_learning_rate``, then cosine decay to ``final_learning_rate``.

    Args:
        peak_learning_rate: the learning rate at the end of warm-up (> 0).
        total_steps: optimisation steps of the whole run (epochs x steps per epoch); after it
            the rate stays at ``final_learning_rate``.
        warmup_steps: steps of linear warm-up (0: start at the peak). Must be < total_steps.
        final_learning_rate: the rate at ``total_steps`` (>= 0).

    Raises:
        ValueError: for a non-positive peak or total, a negative warm-up or final rate, or a
            warm-up that is not shorter than the run.

    Example:
        >>> schedule = WarmupCosine(0.1, total_steps=10, warmup_steps=2)
        >>> [round(float(schedule(t)), 4) for t in (0, 1, 2, 6, 10)]
        [0.05, 0.1, 0.1, 0.05, 0.0]
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0, final_learning_rate=0.0):
        _check_positive("WarmupCosine", "peak_learning_rate", peak_learning_rate)
        _check_positive("WarmupCosine", "total_steps", total_steps)
        if int(warmup_steps) != warmup_steps or not 0 <= warmup_steps < total_steps:
            raise ValueError(f"WarmupCosine: warmup_steps must be an integer in [0, total_steps={total_steps}), "
                             f"got {warmup_steps!r}.")
        if not final_learning_rate >= 0:
            raise ValueError(f"WarmupCosine: final_learning_rate must be >= 0, got {final_learning_rate!r}.")
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.final_learning_rate = float(final_learning_rate)

    def __call__(self, step):
        t = _step(step)
        peak, final = self.peak_learning_rate, self.final_learning_rate
        warm = peak * (t + 1.0) / max(self.warmup_steps, 1)
        fraction = ops.clip((t - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0)
        return ops.where(t < self.warmup_steps, warm, _cosine(peak, final, fraction))

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_learning_rate": self.final_learning_rate,
        }


@keras.saving.register_keras_serializable(package="biocnn")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle learning rate (PyTorch ``OneCycleLR`` with cosine annealing, two phases).

    Args:
        max_learning_rate: the peak rate (> 0).
        total_steps: optimisation steps of the whole run; the rate reaches its minimum at step
            ``total_steps - 1`` and stays there.
        pct_start: the fraction of steps spent rising (0 < pct_start < 1).
        div_factor: the first rate is ``max_learning_rate / div_factor``.
        final_div_factor: the last rate is the first divided by this.

    Raises:
        ValueError: for non-positive rates, factors or totals, or ``pct_start`` outside (0, 1).

    Example:
        >>> schedule = OneCycle(1.0, total_steps=11, pct_start=0.5, div_factor=10, final_div_factor=10)
        >>> [round(float(schedule(t)), 4) for t in (0, 4.5, 10)]
        [0.1, 1.0, 0.01]
    """

    def __init__(self, max_learning_rate, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        for name, value in (("max_learning_rate", max_learning_rate), ("total_steps", total_steps),
                            ("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            _check_positive("OneCycle", name, value)
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"OneCycle: pct_start must be in (0, 1), got {pct_start!r}.")
        if total_steps < 2:
            raise ValueError(f"OneCycle: total_steps must be at least 2, got {total_steps!r}.")
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        t = _step(step)
        initial = self.max_learning_rate / self.div_factor
        minimum = initial / self.final_div_factor
        peak_step = self.pct_start * self.total_steps - 1.0  # as torch: float(pct_start * total) - 1
        last_step = self.total_steps - 1.0
        rising = _cosine(initial, self.max_learning_rate, ops.clip(t / max(peak_step, 1e-12), 0.0, 1.0))
        falling = _cosine(self.max_learning_rate, minimum,
                          ops.clip((t - peak_step) / max(last_step - peak_step, 1e-12), 0.0, 1.0))
        return ops.where(t <= peak_step, rising, falling)

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


NAMES = ("plateau", "cosine", "onecycle")


def get(name, *, learning_rate, total_steps, warmup_steps=0):
    """The schedule a pipeline names: ``"plateau"`` (a constant rate that the plateau rule
    divides by 10; returns ``learning_rate`` itself), ``"cosine"`` or ``"onecycle"``.

    Args:
        name: one of ``NAMES``.
        learning_rate: the peak (cosine, one-cycle) or initial (plateau) rate.
        total_steps: optimisation steps of the run.
        warmup_steps: warm-up steps for ``"cosine"`` (one-cycle rises by itself).

    Returns:
        A float or a ``LearningRateSchedule``.

    Raises:
        ValueError: for an unknown name (the valid ones are listed).

    Example:
        >>> type(get("cosine", learning_rate=0.1, total_steps=100, warmup_steps=5)).__name__
        'WarmupCosine'
    """
    if name == "plateau":
        return float(learning_rate)
    if name == "cosine":
        return WarmupCosine(learning_rate, total_steps, warmup_steps=warmup_steps)
    if name == "onecycle":
        return OneCycle(learning_rate, total_steps)
    raise ValueError(f"Unknown learning-rate schedule {name!r}; choose one of {', '.join(NAMES)}.")
