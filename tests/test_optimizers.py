"""Tests for biocnn.optimizers.MomentumSGD (the AlexNet momentum + weight-decay rule).

Rule under test:  v <- m*v - wd*lr*w - lr*g ;  w <- w + v   (v starts at 0).
"""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

import biocnn.optimizers
from biocnn.optimizers import MomentumSGD

# ---------------------------------------------------------------------------------------
# Independent NumPy references
# ---------------------------------------------------------------------------------------


def alexnet_reference(w0, grads, lrs, momentum, weight_decay):
    """The paper's rule in float64: v = m*v - wd*lr*w - lr*g; w = w + v."""
    w = np.array(w0, dtype=np.float64)
    v = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        v = momentum * v - weight_decay * lr * w - lr * np.asarray(g, np.float64)
        w = w + v
    return w, v


def torch_sgd_reference(w0, grads, lrs, momentum, weight_decay):
    """torch.optim.SGD(momentum, weight_decay), dampening 0: lr outside the buffer."""
    w = np.array(w0, dtype=np.float64)
    b = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        b = momentum * b + np.asarray(g, np.float64) + weight_decay * w
        w = w - lr * b
    return w


def _run_constant_gradient(opt, w0, grad, steps, lr_after=None, drop_at=None):
    """Apply a constant gradient `steps` times; optionally set opt.learning_rate mid-way."""
    w = keras.Variable(w0, name="w")
    history = []
    for step in range(steps):
        if drop_at is not None and step == drop_at:
            opt.learning_rate = lr_after
        opt.apply([keras.ops.convert_to_tensor(grad, dtype=w.dtype)], [w])
        history.append(float(keras.ops.convert_to_numpy(w)))
    return history, opt


# Hand arithmetic, w0 = 1, g = 1 every step, m = 0.9, wd = 0.1; lr 0.1 for steps 1-2, 0.01
# for steps 3-4 (wd*lr = 0.01, then 0.001):
#   step 1: v1 = 0.9*0          - 0.01*1      - 0.1*1  = -0.11          w1 = 0.89
#   step 2: v2 = 0.9*(-0.11)    - 0.01*0.89   - 0.1    = -0.099 - 0.0089 - 0.1
#                                                      = -0.2079        w2 = 0.6821
#   step 3: v3 = 0.9*(-0.2079)  - 0.001*0.6821 - 0.01  = -0.18711 - 0.0006821 - 0.01
#                                                      = -0.1977921     w3 = 0.4843079
#   step 4: v4 = 0.9*(-0.1977921) - 0.001*0.4843079 - 0.01
#                                  = -0.17801289 - 0.0004843079 - 0.01
#                                                      = -0.1884971979  w4 = 0.2958107021
# The velocity carried over the drop (-0.2079) is NOT rescaled: step 3 still moves w by ~0.2.
GOLDEN_W = [0.89, 0.6821, 0.4843079, 0.2958107021]
GOLDEN_V4 = -0.1884971979


def test_golden_values_with_learning_rate_assigned_mid_way():
    opt = MomentumSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.1, exclude_from_decay=None)
    history, opt = _run_constant_gradient(opt, 1.0, 1.0, steps=4, lr_after=0.01, drop_at=2)
    np.testing.assert_allclose(history, GOLDEN_W, rtol=0, atol=1e-6)
    velocity = float(keras.ops.convert_to_numpy(opt.velocities[0]))
    assert velocity == pytest.approx(GOLDEN_V4, abs=1e-6)
    assert float(opt.learning_rate) == pytest.approx(0.01)


def test_golden_values_with_piecewise_constant_schedule():
    # PiecewiseConstantDecay gives values[0] while iteration <= 1, i.e. for the updates at
    # iterations 0 and 1, then values[1]: same lr sequence 0.1, 0.1, 0.01, 0.01 as above.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[1], values=[0.1, 0.01])
    opt = MomentumSGD(learning_rate=schedule, momentum=0.9, weight_decay=0.1, exclude_from_decay=None)
    history, _ = _run_constant_gradient(opt, 1.0, 1.0, steps=4)
    np.testing.assert_allclose(history, GOLDEN_W, rtol=0, atol=1e-6)


def test_golden_values_with_gradient_equal_to_weight():
    # loss = 0.5*w^2 so g = w; w0 = 2, m = 0.9, wd = 0.5, lr = 0.1 (wd*lr = 0.05):
    #   step 1: v1 = 0 - 0.05*2 - 0.1*2 = -0.3                         w1 = 1.7
    #   step 2: v2 = 0.9*(-0.3) - 0.05*1.7 - 0.1*1.7 = -0.27 - 0.255 = -0.525  w2 = 1.175
    # then lr = 0.01 (wd*lr = 0.005):
    #   step 3: v3 = 0.9*(-0.525) - 0.005*1.175 - 0.01*1.175
    #              = -0.4725 - 0.017625 = -0.490125                      w3 = 0.684875
    w = keras.Variable(2.0)
    opt = MomentumSGD(learning_rate=0.1, momentum=0.9, weight_decay=0.5, exclude_from_decay=None)
    seen = []
    for step in range(3):
        if step == 2:
            opt.learning_rate = 0.01
        with tf.GradientTape() as tape:
            loss = 0.5 * w * w
        opt.apply(tape.gradient(loss, [w]), [w])
        seen.append(float(keras.ops.convert_to_numpy(w)))
    np.testing.assert_allclose(seen, [1.7, 1.175, 0.684875], rtol=0, atol=1e-6)


def test_momentum_zero_and_no_decay_is_plain_sgd():
    # w0 = 1, g = 0.5, lr = 0.1: w <- w - 0.05 each step: 0.95, 0.9, 0.85.
    opt = MomentumSGD(learning_rate=0.1, momentum=0.0, weight_decay=0.0)
    history, _ = _run_constant_gradient(opt, 1.0, 0.5, steps=3)
    np.testing.assert_allclose(history, [0.95, 0.9, 0.85], rtol=0, atol=1e-6)


def test_matches_numpy_reference_over_random_steps_with_a_drop():
    rng = np.random.default_rng(7)
    kernel0 = rng.normal(size=(3, 4))
    bias0 = rng.normal(size=(4,))
    kernel_grads = rng.normal(size=(20, 3, 4))
    bias_grads = rng.normal(size=(20, 4))
    lrs = [0.05] * 12 + [0.005] * 8

    kernel = keras.Variable(kernel0, dtype="float64", name="kernel")
    bias = keras.Variable(bias0, dtype="float64", name="bias")
    opt = MomentumSGD(learning_rate=0.05, momentum=0.9, weight_decay=0.01)  # "auto"
    for step, lr in enumerate(lrs):
        if step == 12:
            opt.learning_rate = lr
        opt.apply([kernel_grads[step], bias_grads[step]], [kernel, bias])

    expected_kernel, expected_kv = alexnet_reference(kernel0, kernel_grads, lrs, 0.9, 0.01)
    # "auto": the rank-1 bias gets no decay.
    expected_bias, _ = alexnet_reference(bias0, bias_grads, lrs, 0.9, 0.0)
    # The learning-rate variable is float32, so lr is 0.05 to ~1e-9 relative: 1e-6 is ample.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), expected_kernel, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), expected_bias, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(opt.velocities[0]), expected_kv, atol=1e-6)


# ---------------------------------------------------------------------------------------
# How it relates to Keras SGD and torch SGD
# ---------------------------------------------------------------------------------------


def test_differs_from_keras_sgd_decoupled_weight_decay():
    # keras SGD(momentum=0.9, weight_decay=0.1) first shrinks w <- w - lr*wd*w, then
    # v = 0.9*v - lr*g; w = w + v. By hand, w0 = 1, g = 1, lr = 0.1:
    #   step 1: w = 1 - 0.01 = 0.99;           v = -0.1;               w1 = 0.89
    #   step 2: w = 0.89 - 0.01*0.89 = 0.8811; v = -0.09 - 0.1 = -0.19; w2 = 0.6911
    # against 0.6821 for the AlexNet rule (the decay never enters the velocity).
    keras_sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.1)
    keras_history, _ = _run_constant_gradient(keras_sgd, 1.0, 1.0, steps=4, lr_after=0.01, drop_at=2)
    np.testing.assert_allclose(keras_history[:2], [0.89, 0.6911], rtol=0, atol=1e-6)
    ours = np.array(GOLDEN_W)
    assert abs(keras_history[1] - ours[1]) > 5e-3
    assert np.all(np.abs(np.array(keras_history[1:]) - ours[1:]) > 5e-3)


# Powers of two, exact in the float32 learning-rate variable, so float64 runs can be
# compared with the float64 NumPy reference to 1e-9.
LR_HIGH = 2.0**-5
LR_LOW = 2.0**-8


def _l2_problem():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 2))
    w0 = rng.normal(size=(3, 2))
    return a, y, w0


def _train_least_squares(opt, lrs, l2=0.0):
    """Minimise 0.5*||A w - y||^2 (+ l2/2*||w||^2) in float64; returns w and data grads."""
    a, y, w0 = _l2_problem()
    w = keras.Variable(w0, dtype="float64", name="kernel")
    data_grads = []
    for step, lr in enumerate(lrs):
        if step > 0 and lr != lrs[step - 1]:
            opt.learning_rate = lr
        with tf.GradientTape(persistent=True) as tape:
            data_loss = 0.5 * tf.reduce_sum(tf.square(tf.matmul(a, w) - y))
            loss = data_loss + 0.5 * l2 * tf.reduce_sum(tf.square(w))
        data_grads.append(tape.gradient(data_loss, w).numpy())
        opt.apply([tape.gradient(loss, w)], [w])
    return keras.ops.convert_to_numpy(w), data_grads, w0


def test_matches_keras_sgd_plus_l2_term_at_constant_lr():
    lrs = [LR_HIGH] * 10
    ours, _, _ = _train_least_squares(MomentumSGD(LR_HIGH, momentum=0.9, weight_decay=0.05), lrs)
    # keras SGD: v = m*v - lr*g (read from keras/src/optimizers/sgd.py update_step);
    # with g = data gradient + wd*w (the gradient of wd/2*sum(w^2)) that is the same rule.
    keras_l2, _, _ = _train_least_squares(keras.optimizers.SGD(LR_HIGH, momentum=0.9), lrs, l2=0.05)
    # Not 1e-9: keras SGD casts momentum through float32 (0.9 -> 0.8999999762).
    np.testing.assert_allclose(ours, keras_l2, rtol=0, atol=1e-6)


def test_lr_drop_torch_rule_diverges_but_keras_sgd_plus_l2_does_not():
    # Keras SGD keeps lr inside its velocity too, so SGD(momentum) + L2 loss term tracks
    # the AlexNet rule across a drop as well. torch's rule (lr outside the buffer) matches
    # only while lr is constant: at the drop its whole accumulated step shrinks 10x.
    lrs = [LR_HIGH] * 6 + [LR_LOW] * 6
    ours, grads, w0 = _train_least_squares(MomentumSGD(LR_HIGH, momentum=0.9, weight_decay=0.05), lrs)
    keras_l2, _, _ = _train_least_squares(keras.optimizers.SGD(LR_HIGH, momentum=0.9), lrs, l2=0.05)
    # Not 1e-9: keras SGD casts momentum through float32 (0.9 -> 0.8999999762).
    np.testing.assert_allclose(ours, keras_l2, rtol=0, atol=1e-6)

    # torch's rule on the same gradient sequence (gradients depend only on w, and the
    # trajectories coincide up to the drop, so the first 6 gradients are shared).
    before_ours, _ = alexnet_reference(w0, grads[:6], lrs[:6], 0.9, 0.05)
    before_torch = torch_sgd_reference(w0, grads[:6], lrs[:6], 0.9, 0.05)
    np.testing.assert_allclose(before_torch, before_ours, rtol=0, atol=1e-9)

    ours_ref, _ = alexnet_reference(w0, grads, lrs, 0.9, 0.05)
    np.testing.assert_allclose(ours, ours_ref, rtol=0, atol=1e-9)
    torch_after = torch_sgd_reference(w0, grads[:7], lrs[:7], 0.9, 0.05)
    ours_after, _ = alexnet_reference(w0, grads[:7], lrs[:7], 0.9, 0.05)
    assert np.max(np.abs(torch_after - ours_after)) > 1e-3


# ---------------------------------------------------------------------------------------
# Which variables are decayed
# ---------------------------------------------------------------------------------------


def _dense(name="dense_out"):
    layer = keras.layers.Dense(1, name=name)
    layer.build((None, 2))
    layer.kernel.assign([[1.0], [2.0]])
    layer.bias.assign([0.5])
    return layer


def _two_steps(exclude_from_decay):
    layer = _dense()
    opt = MomentumSGD(0.1, momentum=0.9, weight_decay=0.1, exclude_from_decay=exclude_from_decay)
    for _ in range(2):
        opt.apply([np.ones((2, 1), "float32"), np.ones((1,), "float32")], [layer.kernel, layer.bias])
    return keras.ops.convert_to_numpy(layer.kernel)[:, 0], keras.ops.convert_to_numpy(layer.bias)


# lr = 0.1, m = 0.9, wd = 0.1, g = 1, two steps, by hand:
#   decayed, w0 = 1:   0.89, 0.6821 (as GOLDEN_W)
#   decayed, w0 = 2:   v1 = -0.02 - 0.1 = -0.12, w1 = 1.88;
#                      v2 = -0.108 - 0.0188 - 0.1 = -0.2268, w2 = 1.6532
#   decayed, b0 = 0.5: v1 = -0.005 - 0.1 = -0.105, b1 = 0.395;
#                      v2 = -0.0945 - 0.00395 - 0.1 = -0.19845, b2 = 0.19655
#   plain momentum (no decay), b0 = 0.5: v1 = -0.1, b1 = 0.4; v2 = -0.19, b2 = 0.21
#   plain momentum, w0 = 1: 0.71; w0 = 2: 1.71
def test_auto_excludes_bias_but_decays_kernel():
    kernel, bias = _two_steps("auto")
    np.testing.assert_allclose(kernel, [0.6821, 1.6532], atol=1e-6)
    np.testing.assert_allclose(bias, [0.21], atol=1e-6)


def test_none_decays_everything():
    for exclude in (None, False, []):
        kernel, bias = _two_steps(exclude)
        np.testing.assert_allclose(kernel, [0.6821, 1.6532], atol=1e-6)
        np.testing.assert_allclose(bias, [0.19655], atol=1e-6)


def test_list_of_names_excludes_only_those_names():
    # No rank rule in list form: the kernel is excluded, the bias is decayed.
    kernel, bias = _two_steps(["kernel"])
    np.testing.assert_allclose(kernel, [0.71, 1.71], atol=1e-6)
    np.testing.assert_allclose(bias, [0.19655], atol=1e-6)
    # A layer name matches every variable of that layer (paths are "dense_out/...").
    kernel, bias = _two_steps(["dense_out"])
    np.testing.assert_allclose(kernel, [0.71, 1.71], atol=1e-6)
    np.testing.assert_allclose(bias, [0.21], atol=1e-6)


def test_auto_leaves_batch_norm_parameters_undecayed():
    # With zero gradients only the decay moves a variable.
    conv = keras.layers.Conv1D(2, 3, name="conv")
    norm = keras.layers.BatchNormalization(name="norm")
    conv.build((None, 8, 1))
    norm.build((None, 6, 2))
    norm.beta.assign([0.5, -0.5])
    variables = conv.trainable_variables + norm.trainable_variables
    for exclude, expect_norm_change in (("auto", False), (None, True)):
        start = [keras.ops.convert_to_numpy(v).copy() for v in variables]
        opt = MomentumSGD(0.1, weight_decay=0.1, exclude_from_decay=exclude)
        opt.apply([np.zeros(v.shape, "float32") for v in variables], variables)
        moved = {v.path: not np.allclose(keras.ops.convert_to_numpy(v), s) for v, s in zip(variables, start)}
        assert moved["conv/kernel"]
        assert moved["norm/gamma"] is expect_norm_change
        assert moved["norm/beta"] is expect_norm_change
        for v, s in zip(variables, start):
            v.assign(s)


def test_base_class_exclude_from_weight_decay_is_honoured():
    layer = _dense()
    opt = MomentumSGD(0.1, momentum=0.9, weight_decay=0.1, exclude_from_decay=None)
    opt.exclude_from_weight_decay(var_names=["kernel"])
    for _ in range(2):
        opt.apply([np.ones((2, 1), "float32"), np.ones((1,), "float32")], [layer.kernel, layer.bias])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel)[:, 0], [0.71, 1.71], atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.bias), [0.19655], atol=1e-6)


def test_keras_decoupled_decay_is_off():
    opt = MomentumSGD(0.1, weight_decay=0.1)
    assert opt.weight_decay is None
    assert opt.decay_rate == 0.1


# ---------------------------------------------------------------------------------------
# Serialisation, compile/fit, save/load, callbacks
# ---------------------------------------------------------------------------------------


def test_get_config_round_trip_with_schedule():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[100], values=[0.01, 0.001])
    opt = MomentumSGD(schedule, momentum=0.8, weight_decay=1e-3, exclude_from_decay=["bias", "gamma"], clipnorm=1.0)
    config = opt.get_config()
    assert config["momentum"] == 0.8
    assert config["weight_decay"] == 1e-3
    assert config["exclude_from_decay"] == ["bias", "gamma"]
    assert config["clipnorm"] == 1.0
    assert config["name"] == "momentum_sgd"
    assert config["learning_rate"]["class_name"] == "PiecewiseConstantDecay"

    clone = MomentumSGD.from_config(config)
    assert clone.get_config() == config
    # The schedule came back as a schedule: lr follows it with the iteration count.
    assert float(clone.learning_rate) == pytest.approx(0.01)
    clone.iterations.assign(101)
    assert float(clone.learning_rate) == pytest.approx(0.001)

    # Through the registry, as a .keras file does it.
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(restored) is MomentumSGD
    assert restored.get_config() == config
    assert keras.saving.get_registered_name(MomentumSGD) == "biocnn>MomentumSGD"


def test_get_config_round_trip_with_float_lr():
    opt = MomentumSGD(0.05, exclude_from_decay="auto")
    config = opt.get_config()
    assert config["learning_rate"] == pytest.approx(0.05)
    assert config["exclude_from_decay"] == "auto"
    assert MomentumSGD.from_config(config).get_config() == config


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=MomentumSGD(0.05, momentum=0.9, weight_decay=0.01), loss="mse")
    return model


def test_save_load_keras_file_restores_velocities(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = _tiny_model()
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert type(loaded.optimizer) is MomentumSGD
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    velocities = [keras.ops.convert_to_numpy(v) for v in model.optimizer.velocities]
    assert all(np.any(v != 0) for v in velocities)
    for original, restored in zip(velocities, loaded.optimizer.velocities):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored), original)

    model.train_on_batch(x[:16], y[:16])
    loaded.train_on_batch(x[:16], y[:16])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-7)

    # The check can fail: with its velocities zeroed the same step lands elsewhere.
    fresh = keras.saving.load_model(path)
    for v in fresh.optimizer.velocities:
        v.assign(keras.ops.zeros_like(v))
    fresh.train_on_batch(x[:16], y[:16])
    assert not np.allclose(fresh.get_weights()[0], model.get_weights()[0], atol=1e-6)


def test_reduce_lr_on_plateau_changes_the_rate_used_by_compiled_steps():
    # Dense(1, no bias, kernel 1) on x = 1, y = 0 with mse: loss = w^2, g = 2w.
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(optimizer=MomentumSGD(0.1, momentum=0.9, weight_decay=0.1), loss="mse", jit_compile=True)
    seen_lrs = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen_lrs.append(float(model.optimizer.learning_rate))
    )
    # min_delta huge: no epoch after the first counts as an improvement; patience 0 halves
    # the rate at the end of epochs 2, 3, 4.
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    x = np.ones((1, 1), "float32")
    y = np.zeros((1, 1), "float32")
    model.fit(x, y, epochs=4, batch_size=1, verbose=0, callbacks=[record, plateau])

    np.testing.assert_allclose(seen_lrs, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0125, rel=1e-6)

    w, v = 1.0, 0.0
    for lr in seen_lrs:
        v = 0.9 * v - 0.1 * lr * w - lr * 2.0 * w
        w = w + v
    kernel = float(model.get_weights()[0][0, 0])
    assert kernel == pytest.approx(w, abs=1e-6)


def test_schedule_learning_rate_cannot_be_assigned():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = MomentumSGD(schedule)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01


# ---------------------------------------------------------------------------------------
# Argument validation and docs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"learning_rate": 0.0}, r"`learning_rate` must be > 0.*Received: learning_rate=0\.0"),
        ({"learning_rate": -0.1}, r"`learning_rate` must be > 0.*Received: learning_rate=-0\.1"),
        ({"momentum": 1.0}, r"`momentum` must be in \[0, 1\).*Received: momentum=1\.0"),
        ({"momentum": -0.1}, r"`momentum` must be in \[0, 1\).*Received: momentum=-0\.1"),
        ({"momentum": "0.9"}, r"`momentum` must be a number.*Received: momentum='0\.9'"),
        ({"weight_decay": -5e-4}, r"`weight_decay` must be >= 0.*Received: weight_decay=-0\.0005"),
        ({"exclude_from_decay": "bias"}, r"exclude_from_decay='bias'.*exclude_from_decay=\['bias'\]"),
        ({"exclude_from_decay": True}, r"`exclude_from_decay` must be 'auto', None.*Received: exclude_from_decay=True"),
        ({"exclude_from_decay": ["bias", 3]}, r"non-empty strings.*Received: exclude_from_decay=\['bias', 3\]"),
        ({"nesterov": True}, r"not recognized"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MomentumSGD(**kwargs)


def test_integer_arguments_are_accepted_as_floats():
    opt = MomentumSGD(learning_rate=1, momentum=0, weight_decay=0)
    assert float(opt.learning_rate) == 1.0
    assert opt.momentum == 0.0 and opt.decay_rate == 0.0


def test_docstring_example_runs():
    result = doctest.testmod(biocnn.optimizers, raise_on_error=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
