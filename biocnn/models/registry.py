"""A name -> constructor registry, so configs and pipelines can say ``model: lenet5``.

A constructor is a function ``f(input_shape, num_classes, **options) -> keras.Model`` decorated
with :func:`register`, which records the ranks (1D, 2D, 3D) it supports. :func:`create` checks
the name, the input's rank and the options before calling it, so a typo in a config fails with
a message naming the valid choices instead of deep inside Keras.
"""

import difflib
import inspect

from biocnn.models.blocks import RANKS, look_up, rank_of

__all__ = ["register", "create", "available"]

_REGISTRY = {}  # name -> (constructor, ranks)

_POSITIONAL = ("input_shape", "num_classes")


def register(name, ranks=RANKS):
    """Decorator: register a model constructor under ``name`` for the given ranks.

    Args:
        name: str, the registry name (e.g. ``"lenet5"``).
        ranks: iterable of int, the spatial ranks the model supports, among 1, 2 and 3.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        ValueError: if ``name`` is not a non-empty string, ``ranks`` is empty or holds
            something other than 1, 2 or 3, or ``name`` is already taken by another function.
        TypeError: if the decorated function does not take ``input_shape`` and ``num_classes``
            as its first two arguments.

    Example:
        >>> import keras
        >>> @register("tiny_dense", ranks=(1,))
        ... def tiny_dense(input_shape, num_classes, name="tiny_dense"):
        ...     x = keras.Input(input_shape)
        ...     y = keras.layers.Dense(num_classes)(keras.layers.Flatten()(x))
        ...     return keras.Model(x, y, name=name)
        >>> print(create("tiny_dense", (40, 4), 3).output_shape)
        (None, 3)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register: name must be a non-empty string, got {name!r}.")
    ranks = tuple(sorted(set(ranks)))
    if not ranks or any(r not in RANKS for r in ranks):
        raise ValueError(
            f"register({name!r}): ranks must be a non-empty subset of {RANKS}, got {ranks}."
        )

    def decorator(constructor):
        parameters = list(inspect.signature(constructor).parameters)
        if tuple(parameters[:2]) != _POSITIONAL:
            raise TypeError(
                f"register({name!r}): {constructor.__qualname__} must take "
                f"(input_shape, num_classes, ...) first; its arguments are {parameters}."
            )
        if name in _REGISTRY:
            old = _REGISTRY[name][0]
            same = (old.__module__, old.__qualname__) == (
                constructor.__module__,
                constructor.__qualname__,
            )
            if not same:  # a reloaded module may re-register itself; anything else is a clash
                raise ValueError(
                    f"register: the name {name!r} is already used by "
                    f"{old.__module__}.{old.__qualname__}; choose another name."
                )
        _REGISTRY[name] = (constructor, ranks)
        return constructor

    return decorator


def available():
    """The registered models and the ranks each supports.

    Returns:
        dict: name -> tuple of ranks, sorted by name.

    Example:
        >>> import biocnn.models
        >>> print(available()["lenet5"])
        (1, 2, 3)
    """
    return {name: _REGISTRY[name][1] for name in sorted(_REGISTRY)}


def _options_of(constructor):
    signature = inspect.signature(constructor)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    options = [
        n
        for n, p in signature.parameters.items()
        if n not in _POSITIONAL and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return options, accepts_any


def create(name, input_shape, num_classes, /, **options):
    """Build the registered model ``name`` for a channels-last ``input_shape``.

    The rank is ``len(input_shape) - 1``: ``(40, 4)`` is a 1D sequence, ``(28, 28, 1)`` a 2D
    image, ``(16, 16, 16, 1)`` a 3D volume.

    The first three arguments are positional-only, so ``name=...`` among ``options`` is the
    model's own ``name`` option (its layer-name prefix), not the registry name.

    Args:
        name: str, a name from :func:`available`.
        input_shape: tuple of int, the input shape without the batch axis, channels last.
        num_classes: int, the number of outputs.
        **options: keyword arguments of the model's constructor (e.g. ``pooling="avg"``).

    Returns:
        keras.Model: the built (uncompiled) model.

    Raises:
        ValueError: for an unknown name (with a did-you-mean and the valid names), an
            ``input_shape`` whose rank the model does not support (listing the supported
            ranks), or an option the constructor does not take (naming the valid options).

    Example:
        >>> import biocnn.models
        >>> model = create("lenet5", (28, 28, 1), 10, pooling="avg")
        >>> print(model.output_shape)
        (None, 10)
    """
    look_up("model name", name, _REGISTRY, where="create")
    constructor, ranks = _REGISTRY[name]
    rank_of(input_shape, ranks, where=f"model {name!r}")
    valid, accepts_any = _options_of(constructor)
    unknown = sorted(set(options) - set(valid))
    if unknown and not accepts_any:
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"create: model {name!r} has no option {', '.join(map(repr, unknown))}.{hint} "
            f"Valid options: {', '.join(sorted(valid))}."
        )
    return constructor(input_shape, num_classes, **options)
