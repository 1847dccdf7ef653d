"""What a biocnn export may do: the TensorFlow operations its graph may hold, checked before loading.

A SavedModel is a program: ``tf.saved_model.load`` and a signature call run whatever
operations its graph holds, and TensorFlow has operations that read and write files
(``ReadFile``, ``WriteFile``, ``MatchingFiles``, ``Save``/``Restore``), run Python
(``PyFunc``, ``EagerPyFunc``), or reach the network. :func:`check_graph` reads
``saved_model.pb`` as data (protobuf parsing only, nothing runs) and lists every operation of
the graph and of every function in its library; any operation outside :data:`ALLOWED_OPS` is
refused with one line naming it. The checkpoint functions that TensorFlow writes into every
SavedModel (``saver_def``: save and restore of the variables) may also use
:data:`CHECKPOINT_OPS`, and only they.

:data:`ALLOWED_OPS` is what biocnn's own exports use, collected by exporting one network of
each registered family (mlp, lenet5, alexnet, vgg11, resnet18/50/101, wide_resnet, deepbind,
basset, kim_cnn) in every rank it supports, as sequence, signal, image (uint16, channel choice,
resize) and volume (window, NaN policy "min", resize) exports, and five transfer backbones
(ResNet50, EfficientNetB0, MobileNetV2, DenseNet121, ConvNeXtTiny):
``python pipelines/collect_export_ops.py --folder /tmp/ops`` prints that set and what the list lacks
(nothing, for those 43 exports; the check took 0.02 s median, 0.30 s at most per export on the
2-vCPU development machine under load).

Example:
    >>> check_graph("exports/cells")  # doctest: +SKIP
"""

import os

__all__ = ["ALLOWED_OPS", "CHECKPOINT_OPS", "check_graph", "graph_ops"]

#: Operations biocnn's exports use (collected; see the module docstring), and pure tensor
#: arithmetic of the same kind that Keras layers compile to. No file, network or Python op.
ALLOWED_OPS = frozenset({
    "Abs", "Add", "AddN", "AddV2", "All", "Any", "ArgMax", "ArgMin", "AsString", "Assert", "AssignVariableOp",
    "Atan2", "AvgPool", "AvgPool3D", "BatchMatMulV2", "BatchMatMulV3", "BiasAdd", "Bincount", "Bitcast",
    "BroadcastTo", "Cast", "Ceil", "CheckNumerics", "ClipByValue", "ConcatV2", "Const", "Conv1D", "Conv2D",
    "Conv3D", "Cos", "Cumprod", "Cumsum", "DecodePaddedRaw", "DecodeRaw", "DenseBincount", "DepthwiseConv2dNative", "DivNoNan",
    "Einsum", "Elu", "EnsureShape", "Equal", "Erf", "Erfc", "Exp", "ExpandDims", "Expm1", "Fill", "Floor", "FloorDiv",
    "FloorMod", "FusedBatchNormV3", "GatherNd", "GatherV2", "Greater", "GreaterEqual", "Identity", "IdentityN",
    "If", "IsFinite", "IsInf", "IsNan", "L2Loss", "LRN", "LeakyRelu", "Less", "LessEqual", "Log", "Log1p",
    "LogSoftmax", "LogicalAnd", "LogicalNot", "LogicalOr", "MatMul", "Max", "MaxPool", "MaxPool3D", "MaxPoolV2",
    "Maximum", "Mean", "Min", "Minimum", "MirrorPad", "Mod", "Mul", "Neg", "NoOp", "NotEqual", "OneHot", "OnesLike",
    "Pack", "Pad", "PadV2", "PartitionedCall", "Placeholder", "Pow", "Prod", "RaggedRange",
    "RaggedTensorFromVariant", "RaggedTensorToTensor", "Range", "Rank", "ReadVariableOp", "RealDiv", "Reciprocal",
    "Relu", "Relu6", "Reshape", "ResizeBilinear", "ResizeNearestNeighbor", "ReverseV2", "Round", "Rsqrt",
    "ScatterNd", "SegmentSum", "Select", "SelectV2", "Selu", "Shape", "Sigmoid", "Sign", "Sin", "Size", "Slice",
    "Softmax", "Softplus", "Softsign", "Split", "SplitV", "Sqrt", "Square", "SquaredDifference", "Squeeze",
    "StatefulPartitionedCall", "StatelessIf", "StatelessWhile", "StopGradient", "StridedSlice", "StringFormat",
    "StringLength", "StringSplit", "StringToHashBucketFast", "Sub", "Substr", "Sum", "Tanh", "Tile", "TopKV2",
    "Transpose", "TruncateDiv", "Unpack", "UnsortedSegmentSum", "VarHandleOp", "VarIsInitializedOp", "Where",
    "While", "ZerosLike",
})

#: Operations TensorFlow's variable save/restore functions use; allowed only there.
CHECKPOINT_OPS = frozenset({
    "Const", "DisableCopyOnRead", "Identity", "IdentityN", "MergeV2Checkpoints", "NoOp", "Pack", "ReadVariableOp",
    "RestoreV2", "SaveV2", "Select", "ShardedFilename", "StaticRegexFullMatch", "StringJoin", "AssignVariableOp",
})


def _read(path):
    from tensorflow.core.protobuf import saved_model_pb2  # the SavedModel's own schema

    pb = os.path.join(os.fspath(path), "saved_model.pb")
    if not os.path.isfile(pb):
        raise ValueError(f"'{path}' has no saved_model.pb; it is not a SavedModel.")
    model = saved_model_pb2.SavedModel()
    with open(pb, "rb") as f:
        try:
            model.ParseFromString(f.read())
        except Exception as error:  # protobuf's DecodeError
            raise ValueError(f"'{pb}' is not a readable SavedModel ({error}); export the model again.") from None
    return model


def _called(nodes, functions):
    """Library functions that ``nodes`` call (as an op, or through a function-valued attribute)."""
    called = set()
    for node in nodes:
        if node.op in functions:
            called.add(node.op)
        for value in node.attr.values():
            if value.HasField("func"):
                called.add(value.func.name)
            if value.HasField("list"):
                called.update(f.name for f in value.list.func)
    return called & set(functions)


def _reachable(start, functions):
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += _called(functions[name].node_def, functions) - seen
    return seen


def graph_ops(path):
    """The operations of a SavedModel, and where each is used.

    Args:
        path: a SavedModel directory.

    Returns:
        (ops, checkpoint_only): dict op -> sorted list of the functions (or ``"<graph>"``) that
        use it, and the set of functions reachable only from the checkpoint (save/restore) nodes.

    Raises:
        ValueError: no readable ``saved_model.pb``.
    """
    model = _read(path)
    ops, checkpoint_only = {}, set()
    for meta in model.meta_graphs:
        functions = {f.signature.name: f for f in meta.graph_def.library.function}
        saver = {meta.saver_def.save_tensor_name.split(":")[0], meta.saver_def.restore_op_name.split(":")[0]} - {""}
        saver_nodes = [n for n in meta.graph_def.node if n.name in saver]
        other_nodes = [n for n in meta.graph_def.node if n.name not in saver]
        served = _reachable(_called(other_nodes, functions) | set(meta.object_graph_def.concrete_functions), functions)
        only = _reachable(_called(saver_nodes, functions), functions) - served
        checkpoint_only |= only
        for node in meta.graph_def.node:
            ops.setdefault(node.op, set()).add("<graph>")
        for name, function in functions.items():
            for node in function.node_def:
                if node.op not in functions:
                    ops.setdefault(node.op, set()).add(name)
    return {op: sorted(where) for op, where in ops.items()}, checkpoint_only


def check_graph(path, allowed=None):
    """Refuse a SavedModel whose graph holds an operation outside the allowlist.

    Args:
        path: a SavedModel directory (a biocnn export or any other).
        allowed: the allowed operations (default :data:`ALLOWED_OPS`).

    Returns:
        the sorted list of operations the graph uses (all allowed).

    Raises:
        ValueError: one line naming the first operation outside the list, where it is, and
            ``--trust-export`` / ``trust_export=True``; or no readable ``saved_model.pb``.
    """
    allowed = ALLOWED_OPS if allowed is None else frozenset(allowed)
    ops, checkpoint_only = graph_ops(path)
    refused = {}
    for op, where in ops.items():
        if op in allowed:
            continue
        if op in CHECKPOINT_OPS and all(w in checkpoint_only for w in where):
            continue
        refused[op] = where
    if refused:
        op = sorted(refused)[0]
        others = sorted(refused)[1:]
        where = refused[op][0]
        raise ValueError(
            f"'{path}': the SavedModel's graph uses the operation '{op}' (in {where}), which biocnn exports never "
            f"use{' (also: ' + ', '.join(others) + ')' if others else ''}; an export can run any operation it holds "
            "(reading or writing files, running code), so it was not loaded. If you trust where it came from, "
            "pass --trust-export (trust_export=True)."
        )
    return sorted(ops)
