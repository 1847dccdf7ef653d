"""The network zoo: every model in every rank, published parameter counts, and the options.

References are independent of the code under test: parameter counts published with the
papers and torchvision, hand formulas written out below, NumPy, and output sizes from the
convolution arithmetic ``floor((W - F + 2P) / S) + 1`` (``biocnn.utils.conv_output_size``).
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from biocnn import models
from biocnn.models import blocks
from biocnn.models.zoo_layers import ChannelMaxout, LocalResponseNormalization
from biocnn.utils import conv_output_size

NUM_CLASSES = 3
# One tiny input per rank, channels last: a sequence, an image, a volume.
TINY_SHAPES = {1: (32, 4), 2: (16, 16, 1), 3: (8, 8, 8, 1)}
# The options that make each registered model tiny (width and units, never the layout).
TINY_OPTIONS = {
    "mlp": {"hidden_units": (8,)},
    "lenet5": {"width_multiplier": 0.5},
    "alexnet": {"width_multiplier": 1 / 16, "fc_units": 64},
    **{f"vgg{d}": {"width_multiplier": 1 / 16, "fc_units": 32} for d in (11, 13, 16, 19)},
    **{f"resnet{d}": {"width_multiplier": 1 / 16} for d in (18, 34, 50, 101, 152)},
    "wide_resnet": {"depth": 10, "widen_factor": 1, "dropout": 0.3},
    "deepbind": {"filters": 4, "kernel_size": 5, "hidden_units": 8},
    "basset": {"width_multiplier": 1 / 20},
    "kim_cnn": {"filters": 4},
    "seqnet": {"filters": 4, "hidden_units": 8},
}


def _batch(input_shape, n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *input_shape)).astype("float32")


def _trainable(model):
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------- every model, every rank


def _registered_cases():
    # Every model in every rank it claims, the deepest ResNets included (about 15 s together).
    return [(name, rank) for name, ranks in models.available().items() for rank in ranks]


@pytest.mark.parametrize("name, rank", _registered_cases())
def test_every_registered_model_builds_runs_and_trains_in_every_rank(name, rank):
    assert name in TINY_OPTIONS, f"add tiny options for the new model {name!r} to TINY_OPTIONS"
    keras.backend.clear_session()
    shape = TINY_SHAPES[rank]
    model = models.create(name, shape, NUM_CLASSES, **TINY_OPTIONS[name])
    if name != "mlp":
        model.get_layer(models.last_conv_layer_name(model))  # every CNN has one
    x, y = _batch(shape), np.array([0, 2])

    out = _numpy(model(x, training=False))  # forward (inference)
    assert out.shape == (2, NUM_CLASSES) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)  # the default softmax head

    # One training step: forward in training mode, loss, gradients, an SGD update.
    before = [_numpy(w).copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probs))
    grads = tape.gradient(loss, model.trainable_weights)
    assert tuple(probs.shape) == (2, NUM_CLASSES)
    assert np.isfinite(float(loss))
    assert all(g is not None for g in grads), "a weight gets no gradient"
    keras.optimizers.SGD(0.01).apply(grads, model.trainable_weights)
    assert any(not np.array_equal(b, _numpy(w)) for b, w in zip(before, model.trainable_weights))


def test_available_lists_the_zoo_with_its_ranks():
    listed = models.available()
    image_nets = ["alexnet", "lenet5", "mlp", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18",
                  "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet"]
    assert {name: listed[name] for name in image_nets} == {name: (1, 2, 3) for name in image_nets}
    assert {name: listed[name] for name in ("deepbind", "basset", "kim_cnn")} == {
        "deepbind": (1,), "basset": (1,), "kim_cnn": (1,)
    }


# ---------------------------------------------------------------- published parameter counts


@pytest.mark.parametrize(
    "name, input_shape, classes, expected",
    [
        ("resnet18", (224, 224, 3), 1000, 11_689_512),  # torchvision resnet18
        ("resnet50", (224, 224, 3), 1000, 25_557_032),  # torchvision resnet50
        ("vgg16", (224, 224, 3), 1000, 138_357_544),  # Simonyan & Zisserman; keras VGG16
        ("wide_resnet", (32, 32, 3), 10, 36_479_194),  # WRN-28-10, the authors' code
        ("alexnet", (227, 227, 3), 1000, 62_378_344),  # ungrouped AlexNet, "62.3 M"
    ],
)
def test_published_parameter_counts(name, input_shape, classes, expected):
    keras.backend.clear_session()
    model = models.create(name, input_shape, classes)  # built only: no forward pass
    assert _trainable(model) == expected
    if name == "wide_resnet":
        assert round(expected / 1e6, 1) == 36.5  # the paper's table


def _vgg_params(depth, widths=(64, 128, 256, 512, 512), fc=4096, channels=3, classes=1000,
                flat=7 * 7, bn=False):
    """Hand count: 3x3 convs with bias (+ gamma, beta per channel with BN), three Dense."""
    per_stage = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
    total, cin = 0, channels
    for convs, cout in zip(per_stage[depth], widths):
        for _ in range(convs):
            total += 9 * cin * cout + cout + (2 * cout if bn else 0)
            cin = cout
    for a, b in ((flat * cin, fc), (fc, fc), (fc, classes)):
        total += a * b + b
    return total


def test_vgg_counts_match_the_hand_formula_and_the_published_totals():
    assert _vgg_params(16) == 138_357_544
    assert _vgg_params(19) == 143_667_240
    assert _vgg_params(16, bn=True) == 138_365_992  # torchvision vgg16_bn
    model = models.vgg11((32, 32, 3), 10, width_multiplier=0.25, fc_units=256, batch_norm=True)
    assert _trainable(model) == _vgg_params(
        11, widths=(16, 32, 64, 128, 128), fc=64, classes=10, flat=1, bn=True
    )


# ---------------------------------------------------------------- residual vs plain


def _projection_params(cin_cout):
    # A 1x1 projection without bias plus its BatchNormalization's gamma and beta.
    return sum(cin * cout + 2 * cout for cin, cout in cin_cout)


def test_plain_resnet_is_the_residual_one_without_shortcuts():
    # Compared, ResNet-18 against ResNet-18 with plain=True: (a) trainable parameters:
    # residual - plain == the three projection shortcuts (1x1 convolution without bias, plus
    # its batch norm's gamma and beta), counted by hand; (b) the convolutions: the plain net
    # has exactly the residual net's non-projection convolutions, same names, same kernel
    # shapes; (c) depth: 17 convolutions + 1 Dense layer == 18, no Add layer; (d) the block
    # outputs keep their names. Parameter counts do not depend on the input size (global
    # pooling), so a 32x32 input gives the 224x224 counts.
    keras.backend.clear_session()
    residual = models.resnet18((32, 32, 3), 1000, stem="imagenet")
    plain = models.resnet18((32, 32, 3), 1000, stem="imagenet", plain=True)
    projections = [(64, 128), (128, 256), (256, 512)]  # at conv3_1, conv4_1, conv5_1
    assert _trainable(residual) == 11_689_512
    assert _trainable(residual) - _trainable(plain) == sum(
        cin * cout + 2 * cout for cin, cout in projections
    ) == 173_824

    def convs(model):
        return {layer.name: tuple(layer.kernel.shape) for layer in model.layers
                if isinstance(layer, keras.layers.Conv2D)}

    residual_convs = convs(residual)
    projection_names = sorted(n for n in residual_convs if n.endswith("_0_conv"))
    assert projection_names == [f"resnet18_conv{s}_block1_0_conv" for s in (3, 4, 5)]
    assert convs(plain) == {n: k for n, k in residual_convs.items() if n not in projection_names}
    assert len(convs(plain)) + 1 == 18
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == 8

    def outs(model):
        return [layer.name for layer in model.layers if layer.name.endswith("_out")]

    assert outs(plain) == outs(residual) and len(outs(plain)) == 8


def test_resnet_depths_are_the_papers_table():
    from biocnn.models.resnet import DEPTHS

    assert DEPTHS == {
        18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
        50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
        152: ("bottleneck", (3, 8, 36, 3)),
    }
    for depth, (kind, counts) in DEPTHS.items():
        # weight layers: stem conv + 2 or 3 convs per block + the Dense layer
        assert 1 + {"basic": 2, "bottleneck": 3}[kind] * sum(counts) + 1 == depth


# ---------------------------------------------------------------- stems and output sizes


def _ceil_half(size, times):
    for _ in range(times):
        size = -(-size // 2)  # 'same' padding with stride 2
    return size


@pytest.mark.parametrize(
    "input_shape, stem, expected",
    [
        # Small stem (auto up to 64 px): conv1 and conv2_x keep the size, then /2 three times.
        ((28, 28, 1), "small", {"conv1_act": (28, 28), "conv2": (28, 28), "conv3": (14, 14),
                                "conv4": (7, 7), "conv5": (4, 4)}),
        ((16, 20, 12, 1), "small", {"conv1_act": (16, 20, 12), "conv5": (2, 3, 2)}),
        # Imagenet stem: /2 (conv1), /2 (pool1), then /2 at conv3_1, conv4_1, conv5_1.
        ((224, 224, 3), "imagenet", {"conv1_act": (112, 112), "pool1": (56, 56),
                                     "conv2": (56, 56), "conv3": (28, 28), "conv4": (14, 14),
                                     "conv5": (7, 7)}),
        ((1000, 4), "imagenet", {"conv1_act": (500,), "pool1": (250,), "conv3": (125,),
                                 "conv4": (63,), "conv5": (32,)}),
    ],
)
def test_resnet_stems_and_downsampling_follow_the_table(input_shape, stem, expected):
    keras.backend.clear_session()
    model = models.resnet18(input_shape, 2, width_multiplier=0.125)
    names = {layer.name for layer in model.layers}
    assert ("resnet18_pool1" in names) == (stem == "imagenet")
    for key, size in expected.items():
        layer = f"resnet18_{key}" if key in ("conv1_act", "pool1") else f"resnet18_{key}_block2_out"
        assert tuple(model.get_layer(layer).output.shape[1:-1]) == size, key
    spatial = input_shape[:-1]
    reduction = 3 if stem == "small" else 5
    assert tuple(model.get_layer("resnet18_conv5_block2_out").output.shape[1:-1]) == tuple(
        _ceil_half(s, reduction) for s in spatial
    )


def test_alexnet_imagenet_sizes_follow_the_convolution_arithmetic():
    model = models.alexnet((227, 227, 3), 1000, width_multiplier=0.125, fc_units=64)
    conv1 = conv_output_size(227, 11, S=4)  # 55
    pool1 = conv_output_size(conv1, 3, S=2)  # 27
    pool2 = conv_output_size(pool1, 3, S=2)  # 13
    pool5 = conv_output_size(pool2, 3, S=2)  # 6
    assert (conv1, pool1, pool2, pool5) == (55, 27, 13, 6)
    for layer, size in (("conv1", conv1), ("pool1", pool1), ("pool2", pool2), ("pool5", pool5)):
        assert model.get_layer(f"alexnet_{layer}").output.shape[1:3] == (size, size)
    assert isinstance(model.get_layer("alexnet_lrn1"), LocalResponseNormalization)


def test_alexnet_small_stem_and_its_error_on_small_inputs():
    model = models.alexnet((28, 28, 1), 2, width_multiplier=0.25)  # auto -> small
    assert model.get_layer("alexnet_conv1").kernel.shape == (5, 5, 1, 24)
    sizes = [model.get_layer(f"alexnet_pool{i}").output.shape[1] for i in (1, 2, 5)]
    assert sizes == [14, 7, 4]
    with pytest.raises(ValueError, match=r"alexnet: stem='imagenet' needs at least 67 values.*"
                                         r"has 28\. Use stem='small'"):
        models.alexnet((28, 28, 1), 2, stem="imagenet")
    assert models.alexnet((67, 67, 1), 2, stem="imagenet", width_multiplier=0.1).output_shape == (None, 2)


# ---------------------------------------------------------------- width, pooling, dropout


def test_width_multiplier_scales_every_layer():
    half = models.resnet18((32, 32, 3), 10, width_multiplier=0.5)
    for layer, published in (("conv1_conv", 64), ("conv3_block1_1_conv", 128), ("conv5_block2_2_conv", 512)):
        assert half.get_layer(f"resnet18_{layer}").filters == published // 2
    lenet = models.lenet5((32, 32, 1), 10, width_multiplier=2.0)
    assert [lenet.get_layer(n).output.shape[-1] for n in ("lenet5_conv1", "lenet5_conv2", "lenet5_fc1", "lenet5_fc2")] == [12, 32, 240, 168]
    wrn = models.wide_resnet((32, 32, 3), 10, depth=10, widen_factor=4, width_multiplier=0.5)
    assert [wrn.get_layer(f"wide_resnet_conv{g}_block1_conv2").filters for g in (2, 3, 4)] == [32, 64, 128]


def test_pooling_and_dropout_options_pick_the_layers():
    model = models.alexnet((32, 32, 1), 2, pooling="avg", dropout=0.0, width_multiplier=0.125)
    assert isinstance(model.get_layer("alexnet_pool5"), keras.layers.AveragePooling2D)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    model = models.resnet18((40, 4), 2, pooling="max", dropout=0.2, width_multiplier=0.125)
    assert isinstance(model.get_layer("resnet18_pool"), keras.layers.GlobalMaxPooling1D)
    assert model.get_layer("resnet18_dropout").rate == 0.2
    wrn = models.wide_resnet((16, 16, 1), 2, depth=10, widen_factor=1, dropout=0.3)
    assert [layer.rate for layer in wrn.layers if isinstance(layer, keras.layers.Dropout)] == [0.3] * 3
    vgg = models.vgg11((32, 32, 1), 2, width_multiplier=0.125, fc_units=64, dropout=0.25)
    assert [vgg.get_layer(f"vgg11_dropout{i}").rate for i in (1, 2)] == [0.25, 0.25]


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("activation, layer_type", [("leaky_relu", keras.layers.LeakyReLU), ("tanh", keras.layers.Activation)])
def test_activation_by_name_everywhere(activation, layer_type):
    model = models.resnet18((28, 28, 1), 2, width_multiplier=0.125, activation=activation)
    acts = [layer for layer in model.layers if layer.name.endswith(("_act", "_out"))]
    assert len(acts) == 1 + 8 + 8  # stem, the first conv of every block, every block output
    assert all(isinstance(layer, layer_type) for layer in acts)
    if activation == "leaky_relu":
        assert acts[0].negative_slope == pytest.approx(0.1)
    vgg = models.vgg11((32, 32, 1), 2, width_multiplier=0.125, fc_units=8, activation=activation)
    acts = [layer for layer in vgg.layers if layer.name.endswith("_act")]
    assert len(acts) == 8 + 2 and all(isinstance(layer, layer_type) for layer in acts)


def test_maxout_doubles_the_affine_maps_and_takes_their_maximum():
    model = models.lenet5((32, 32, 1), 10, activation="maxout", padding="valid")
    assert model.get_layer("lenet5_conv1").filters == 12  # 6 units x 2 pieces
    assert isinstance(model.get_layer("lenet5_conv1_act"), ChannelMaxout)
    assert model.get_layer("lenet5_conv1_act").output.shape[-1] == 6
    # Hand count: each unit has 2 pieces, each with its own weights and bias.
    expected = (25 * 1 * 12 + 12) + (25 * 6 * 32 + 32) + (400 * 240 + 240) + (120 * 168 + 168) + (84 * 10 + 10)
    assert model.count_params() == expected


def test_maxout_mlp_forward_matches_numpy():
    model = models.mlp((3, 2), 4, hidden_units=(5,), activation="maxout", dropout=0, head=None)
    x = _batch((3, 2), n=4)
    w1, b1, w2, b2 = model.get_weights()
    z = x.reshape(4, -1) @ w1 + b1  # (4, 10): units 0..4, pieces consecutive
    hidden = z.reshape(4, 5, 2).max(axis=-1)
    np.testing.assert_allclose(_numpy(model(x)), hidden @ w2 + b2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet18", "wide_resnet"])
def test_maxout_is_refused_where_it_does_not_apply(name):
    with pytest.raises(ValueError, match=r"activation 'maxout' does not apply here: .*residual"):
        models.create(name, (16, 16, 1), 2, activation="maxout")


def test_unknown_activation_suggests_the_closest():
    with pytest.raises(ValueError, match=r"vgg16: unknown activation 'leaky_rlu'\. Did you mean 'leaky_relu'\?"):
        models.create("vgg16", (32, 32, 1), 2, activation="leaky_rlu")


# ---------------------------------------------------------------- heads


def test_heads_share_the_logits_and_differ_only_in_the_output_activation():
    x = _batch((40, 4), n=5)
    logits_model = models.deepbind((40, 4), 3, head=None)
    scores = _numpy(logits_model(x))
    assert logits_model.layers[-1].name == "deepbind_logits"
    for head, reference in (
        ("softmax", np.exp(scores) / np.exp(scores).sum(1, keepdims=True)),
        ("sigmoid", 1 / (1 + np.exp(-scores))),
        ("regression", scores),
        ("logits", scores),
    ):
        model = models.deepbind((40, 4), 3, head=head)
        model.set_weights(logits_model.get_weights())
        np.testing.assert_allclose(_numpy(model(x)), reference, rtol=1e-5, atol=1e-6)
        assert ("deepbind_probs" in {layer.name for layer in model.layers}) == (head in ("softmax", "sigmoid"))


def test_head_errors_and_the_older_output_activation_spelling():
    with pytest.raises(ValueError, match=r"basset: unknown head 'softmx'\. Did you mean 'softmax'\?"):
        models.create("basset", (200, 4), 2, head="softmx")
    model = models.mlp((8, 1), 2, output_activation="sigmoid")
    assert model.get_layer("mlp_probs").get_config()["activation"] == "sigmoid"
    assert models.lenet5((8, 1), 2, output_activation="linear").layers[-1].name == "lenet5_logits"
    with pytest.raises(ValueError, match=r"head='sigmoid' and output_activation=None disagree"):
        models.lenet5((8, 1), 2, head="sigmoid", output_activation=None)


# ---------------------------------------------------------------- sequence models


def test_kim_cnn_filter_widths_are_parallel_branches():
    widths, filters, channels, length = (2, 3, 7), 5, 6, 30
    model = models.kim_cnn((length, channels), 4, filter_widths=widths, filters=filters, dropout=0)
    for w in widths:
        assert model.get_layer(f"kim_cnn_conv_w{w}").kernel.shape == (w, channels, filters)
        assert model.get_layer(f"kim_cnn_conv_w{w}_act").output.shape[1:] == (length, filters)
    assert model.get_layer("kim_cnn_concat").output.shape[1:] == (length, len(widths) * filters)
    expected = sum(w * channels * filters + filters for w in widths) + (len(widths) * filters * 4 + 4)
    assert model.count_params() == expected
    # Concatenate-then-pool equals Kim's pool-each-branch-then-concatenate.
    x = _batch((length, channels), n=3)
    probe = keras.Model(model.input, [model.get_layer(f"kim_cnn_conv_w{w}_act").output for w in widths]
                        + [model.get_layer("kim_cnn_pool").output])
    *branches, pooled = [_numpy(t) for t in probe(x)]
    np.testing.assert_allclose(pooled, np.concatenate([b.max(axis=1) for b in branches], axis=1))
    constraint = model.get_layer("kim_cnn_logits").kernel_constraint
    assert isinstance(constraint, keras.constraints.MaxNorm) and constraint.max_value == 3.0


def test_kim_cnn_and_deepbind_errors():
    with pytest.raises(ValueError, match=r"kim_cnn: filter_widths must be non-empty and without repeats.*\(3, 3\)"):
        models.kim_cnn((20, 4), 2, filter_widths=(3, 3))
    with pytest.raises(ValueError, match=r"kim_cnn: every entry of filter_widths must be a positive int, got 0"):
        models.kim_cnn((20, 4), 2, filter_widths=(3, 0))
    with pytest.raises(ValueError, match=r"model 'deepbind': input_shape \(28, 28, 1\) has 2 spatial axes.*supported: 1D"):
        models.create("deepbind", (28, 28, 1), 2)


def test_basset_layout_and_parameter_count():
    model = models.basset((600, 4), 164, head="sigmoid")
    # Hand sizes: (600 - 18) / 3 = 194; (194 - 10) / 4 = 46; (46 - 6) / 4 = 10; 10 x 200 = 2000.
    assert [model.get_layer(f"basset_pool{i}").output.shape[1] for i in (1, 2, 3)] == [194, 46, 10]
    convs = (19 * 4 * 300 + 300) + (11 * 300 * 200 + 200) + (7 * 200 * 200 + 200)
    norms = 2 * (300 + 200 + 200)
    dense = (2000 * 1000 + 1000) + (1000 * 1000 + 1000) + (1000 * 164 + 164)
    assert _trainable(model) == convs + norms + dense == 4_131_064
    short = models.basset((100, 4), 2, width_multiplier=0.1)  # auto: 'same' below 168
    assert short.get_layer("basset_conv1").padding == "same"
    with pytest.raises(ValueError, match=r"padding='valid' needs a sequence of at least 168"):
        models.basset((100, 4), 2, padding="valid")


def test_deepbind_parameter_count_by_hand():
    model = models.deepbind((101, 4), 1, head="sigmoid")
    assert model.count_params() == (24 * 4 * 16 + 16) + (16 * 32 + 32) + (32 + 1)
    assert isinstance(model.get_layer("deepbind_pool"), keras.layers.GlobalMaxPooling1D)


def test_seqnet_parameter_count_and_both_readouts_by_hand():
    model = models.seqnet((60, 4), 3)
    convs = (9 * 4 * 64 + 64) + (5 * 64 * 64 + 64) + (64 * 8 + 8)  # two units and the 1x1 of the bins
    features = 64 + 8 * 8  # global max (anywhere) + 8 positional bins of 8 values
    dense = (features * 64 + 64) + (64 * 3 + 3)
    assert model.count_params() == convs + dense == 31_883
    assert models.seqnet((60, 4), 3, batch_norm=True).count_params() == 31_883 + 4 * 64 * 2
    # The two read-outs against NumPy on the last feature map (30 positions -> 8 bins of 4; 'same'
    # pads the two missing positions one at each end, as TensorFlow does).
    x = _batch((60, 4), n=2)
    probe = keras.Model(model.input, [model.get_layer(n).output for n in
                                      ("seqnet_conv2_act", "seqnet_anywhere", "seqnet_bins")])
    fmap, anywhere, position = [_numpy(t) for t in probe(x)]
    assert fmap.shape == (2, 30, 64)
    np.testing.assert_allclose(anywhere, fmap.max(axis=1), rtol=1e-6)
    edge = np.full((2, 1, 64), -np.inf)
    padded = np.concatenate([edge, fmap, edge], axis=1)
    np.testing.assert_allclose(position, padded.reshape(2, 8, 4, 64).max(axis=2), rtol=1e-6)
    assert models.last_conv_layer_name(model) == "seqnet_conv2_act"
    with pytest.raises(ValueError, match=r"seqnet: bins must be a positive int"):
        models.seqnet((60, 4), 3, bins=0)
    with pytest.raises(ValueError, match=r"model 'seqnet': input_shape \(28, 28, 1\) has 2 spatial axes"):
        models.create("seqnet", (28, 28, 1), 2)


# ---------------------------------------------------------------- wide ResNet


def test_wide_resnet_depth_errors_and_structure():
    with pytest.raises(ValueError, match=r"depth must be 6n \+ 4.*got 27; try 22 or 28"):
        models.wide_resnet((32, 32, 3), 10, depth=27)
    model = models.wide_resnet((32, 32, 3), 10, depth=16, widen_factor=2)
    blocks_per_group = {g: sum(1 for layer in model.layers if layer.name.startswith(f"wide_resnet_conv{g}_block")
                               and layer.name.endswith("_out")) for g in (2, 3, 4)}
    assert blocks_per_group == {2: 2, 3: 2, 4: 2}
    assert [model.get_layer(f"wide_resnet_conv{g}_block1_out").output.shape[1:] for g in (2, 3, 4)] == [
        (32, 32, 32), (16, 16, 64), (8, 8, 128)
    ]
    # The shortcut of a widening block convolves the block's pre-activated input.
    shortcut = model.get_layer("wide_resnet_conv2_block1_shortcut")
    assert shortcut.input is model.get_layer("wide_resnet_conv2_block1_act1").output


# ---------------------------------------------------------------- layer names


@pytest.mark.parametrize(
    "name, input_shape, options, expected",
    [
        ("lenet5", (28, 28, 1), {}, "lenet5_conv2_act"),
        ("alexnet", (28, 28, 1), {"width_multiplier": 0.125}, "alexnet_conv5_act"),
        ("vgg16", (32, 32, 1), {"width_multiplier": 0.125}, "vgg16_block5_conv3_act"),
        ("resnet18", (28, 28, 1), {"width_multiplier": 0.125}, "resnet18_conv5_block2_out"),
        ("wide_resnet", (16, 16, 1), {"depth": 10, "widen_factor": 1}, "wide_resnet_final_act"),
        ("deepbind", (40, 4), {}, "deepbind_conv1_act"),
        ("basset", (40, 4), {"width_multiplier": 0.1}, "basset_conv3_act"),
        ("kim_cnn", (40, 4), {}, "kim_cnn_concat"),
    ],
)
def test_last_conv_layer_name(name, input_shape, options, expected):
    model = models.create(name, input_shape, 2, **options)
    assert models.last_conv_layer_name(model) == expected
    assert len(model.get_layer(expected).output.shape) == len(input_shape) + 1


def test_last_conv_layer_name_of_an_mlp_is_an_error():
    with pytest.raises(ValueError, match=r"model 'mlp' has no layer with a spatial output"):
        models.last_conv_layer_name(models.mlp((28, 28, 1), 2, hidden_units=(4,)))


def test_layer_names_carry_the_model_name():
    model = models.create("vgg11", (32, 32, 1), 2, width_multiplier=0.125, name="net")
    assert all(layer.name.startswith("net_") for layer in model.layers)
    assert model.name == "net"


# ---------------------------------------------------------------- registry options


def test_named_constructors_expose_the_builder_options():
    with pytest.raises(ValueError, match=r"model 'resnet50' has no option 'widht_multiplier'\. "
                                         r"Did you mean 'width_multiplier'\?.*plain"):
        models.create("resnet50", (32, 32, 3), 10, widht_multiplier=0.5)
    with pytest.raises(ValueError, match=r"model 'vgg16' has no option 'depth'"):
        models.create("vgg16", (32, 32, 3), 10, depth=11)
    assert models.create("vgg13", (32, 32, 3), 10, width_multiplier=0.125).name == "vgg13"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("lenet5", ("lenet5", {})),
        ("lenet5:activation=tanh", ("lenet5", {"activation": "tanh"})),
        ("kim_cnn:filter_widths=(3,4,5),dropout=0.5,head=None",
         ("kim_cnn", {"filter_widths": (3, 4, 5), "dropout": 0.5, "head": None})),
        ("alexnet: stem = 'small' , lrn=False", ("alexnet", {"stem": "small", "lrn": False})),
    ],
)
def test_parse_spec(spec, expected):
    assert models.parse_spec(spec) == expected


@pytest.mark.parametrize(
    "spec, match",
    [
        (":activation=tanh", r"no model name in ':activation=tanh'"),
        ("lenet5:tanh", r"cannot read option 'tanh' in 'lenet5:tanh'; expected 'name' or"),
        ("lenet5:dropout=0.1,dropout=0.2", r"option 'dropout' is given twice"),
    ],
)
def test_parse_spec_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        models.parse_spec(spec)


# ---------------------------------------------------------------- .keras round trips


@pytest.mark.parametrize(
    "name, input_shape, options",
    [
        ("alexnet", (32, 32, 1), {"width_multiplier": 0.125, "fc_units": 32}),  # LRN
        ("vgg11", (16, 16, 1), {"width_multiplier": 0.125, "fc_units": 16, "batch_norm": True}),
        ("resnet18", (16, 16, 1), {"width_multiplier": 0.125}),
        ("wide_resnet", (8, 8, 8, 1), {"depth": 10, "widen_factor": 1}),
        ("deepbind", (40, 4), {"activation": "maxout"}),  # ChannelMaxout
        ("basset", (40, 4), {"width_multiplier": 0.05}),
        ("kim_cnn", (40, 4), {"filters": 4}),
    ],
)
def test_keras_round_trip_per_family(name, input_shape, options, tmp_path):
    model = models.create(name, input_shape, 3, **options)
    x = _batch(input_shape, n=3, seed=1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(_numpy(loaded(x, training=False)), _numpy(model(x, training=False)),
                               rtol=1e-6, atol=1e-7)


def test_blocks_scaled_rounds_and_never_reaches_zero():
    assert [blocks.scaled(64, w) for w in (1.0, 0.5, 1 / 16, 0.001)] == [64, 32, 4, 1]
    with pytest.raises(ValueError, match=r"resnet18: width_multiplier must be a positive number.*got 0"):
        models.resnet18((32, 32, 3), 10, width_multiplier=0)
