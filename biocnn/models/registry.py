"""A name -> constructor registry, so configs and pipelines can say ``model: lenet5``.

A constructor is a function ``f(input_shape, num_classes, **options) -> keras.Model`` decorated
with :func:`register`, which records the ranks (1D, 2D, 3D) it supports. :func:`create` checks
the name, the input's rank and the options before calling it, so a typo in a config fails with
a message naming the valid choices instead of deep inside Keras.
"""

import ast
import inspect

from biocnn.models.blocks import RANKS, look_up, rank_of
from biocnn.utils import did_you_mean

__all__ = ["register", "create", "available", "options_of", "parse_spec"]

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


def options(name):
    """The options that ``create(name, ...)`` accepts (keyword arguments of its constructor).

    Example:
        >>> "dropout" in options("mlp")
        True
    """
    look_up("model name", name, _REGISTRY, where="options")
    return tuple(sorted(_options_of(_REGISTRY[name][0])[0]))


def create(name, /, input_shape, num_classes, **options):
    """Build the registered model ``name`` for a channels-last ``input_shape``.

    The rank is ``len(input_shape) - 1``: ``(40, 4)`` is a 1D sequence, ``(28, 28, 1)`` a 2D
    image, ``(16, 16, 16, 1)`` a 3D volume.

    ``name`` is positional-only, so ``name=...`` among ``options`` is the model's own ``name``
    option (its layer-name prefix), not the registry name; ``input_shape`` and ``num_classes``
    may be given by keyword, as Keras users do.

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
        >>> print(create("resnet18", input_shape=(32, 32, 3), num_classes=2, width_multiplier=0.25).output_shape)
        (None, 2)
    """
    look_up("model name", name, _REGISTRY, where="create")
    constructor, ranks = _REGISTRY[name]
    rank_of(input_shape, ranks, where=f"model {name!r}")
    valid, accepts_any = _options_of(constructor)
    unknown = sorted(set(options) - set(valid))
    if unknown and not accepts_any:
        hint = did_you_mean(unknown[0], valid)
        raise ValueError(
            f"create: model {name!r} has no option {', '.join(map(repr, unknown))}.{hint} "
            f"Valid options: {', '.join(sorted(valid))}."
        )
    return constructor(input_shape, num_classes, **options)


def options_of(builder, fixed=(), **defaults):
    """Decorator: give a named constructor the options (signature) of the builder it calls.

    A named constructor such as ``resnet18(input_shape, num_classes, **options)`` hands its
    options to one builder (``resnet``). With this decorator ``inspect.signature``, ``help()``
    and :func:`create` see the builder's options, less the ``fixed`` ones the constructor sets
    itself, with new defaults from ``defaults`` (e.g. ``name="resnet18"``); so a misspelt
    option fails in :func:`create` with a did-you-mean instead of a ``TypeError``.

    Args:
        builder: the function the constructor calls.
        fixed: names of the builder's arguments the constructor fixes (e.g. ``("depth",)``).
        **defaults: builder arguments whose default the constructor changes.

    Returns:
        A decorator that sets ``__signature__`` and returns the constructor unchanged.

    Raises:
        ValueError: if a ``fixed`` or ``defaults`` name is not an argument of ``builder``.

    Example:
        >>> def builder(input_shape, num_classes, depth=1, name="net"):
        ...     return depth, name
        >>> @options_of(builder, fixed=("depth",), name="net2")
        ... def net2(input_shape, num_classes, **options):
        ...     return builder(input_shape, num_classes, depth=2, **{"name": "net2", **options})
        >>> print(inspect.signature(net2))
        (input_shape, num_classes, name='net2')
    """
    signature = inspect.signature(builder)
    unknown = sorted((set(fixed) | set(defaults)) - set(signature.parameters))
    if unknown:
        raise ValueError(
            f"options_of: {builder.__qualname__} has no argument {', '.join(map(repr, unknown))}."
        )
    parameters = [
        p.replace(default=defaults[n]) if n in defaults else p
        for n, p in signature.parameters.items()
        if n not in fixed
    ]

    def decorator(constructor):
        constructor.__signature__ = signature.replace(parameters=parameters)
        return constructor

    return decorator


def _split_top_level(text, separator=","):
    # Split on separators outside brackets and quotes, so "widths=(3,4,5)" stays whole.
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word such as tanh is a string


def parse_spec(spec):
    """Split a model spec ``"name:option=value,option=value"`` into a name and options.

    Values are Python literals (``0.5``, ``False``, ``None``, ``(3, 4, 5)``, ``'same'``);
    anything else is taken as a string, so ``activation=tanh`` needs no quotes.

    Args:
        spec: str, e.g. ``"lenet5"``, ``"lenet5:activation=tanh"`` or
            ``"kim_cnn:filter_widths=(3,4,5),dropout=0.5"``.

    Returns:
        tuple ``(name, options)``: the registry name and a dict of options for :func:`create`.

    Raises:
        ValueError: for an empty name, an option without ``=``, or an option given twice; the
            message echoes the spec and shows the expected form.

    Example:
        >>> print(parse_spec("alexnet:stem=small,lrn=False,width_multiplier=0.25"))
        ('alexnet', {'stem': 'small', 'lrn': False, 'width_multiplier': 0.25})
    """
    if not isinstance(spec, str):
        raise ValueError(f"parse_spec: a model spec must be a string, got {spec!r}.")
    name, _, rest = spec.partition(":")
    name = name.strip()
    form = "expected 'name' or 'name:option=value,option=value', e.g. 'lenet5:activation=tanh'"
    if not name:
        raise ValueError(f"parse_spec: no model name in {spec!r}; {form}.")
    options = {}
    for item in _split_top_level(rest) if rest.strip() else []:
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key.isidentifier():
            raise ValueError(f"parse_spec: cannot read option {item.strip()!r} in {spec!r}; {form}.")
        if key in options:
            raise ValueError(f"parse_spec: option {key!r} is given twice in {spec!r}.")
        options[key] = _literal(value.strip())
    return name, options
