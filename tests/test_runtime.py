import os
import subprocess
import sys

import pytest


def _python(code, **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def test_import_sets_onednn_and_is_quiet():
    result = _python("import biocnn, os; print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['KERAS_BACKEND'])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "tensorflow"]
    assert result.stderr == ""


def test_user_settings_win():
    result = _python("import biocnn, os; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])", TF_ENABLE_ONEDNN_OPTS="0")
    assert result.stdout.split() == ["0"]


def test_startup_log_can_be_shown():
    # TensorFlow starts on the first use of a subpackage (import biocnn alone does not load it).
    quiet = _python("import biocnn; biocnn.training")
    loud = _python("import biocnn; biocnn.training", BIOCNN_TF_STARTUP_LOG="1", TF_CPP_MIN_LOG_LEVEL="0")
    assert quiet.stderr == ""
    assert "oneDNN" in loud.stderr


def test_import_biocnn_loads_no_tensorflow_but_every_subpackage_is_an_attribute():
    result = _python("import sys, biocnn; print('tensorflow' in sys.modules); "
                     "print(all(hasattr(biocnn, n) for n in ('cv', 'interpret', 'transfer', 'data', 'models')))")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "True"]
    assert result.stderr == ""


def test_warns_when_tensorflow_came_first():
    result = _python("import tensorflow, warnings; warnings.simplefilter('always'); import biocnn")
    assert "TensorFlow was imported before biocnn" in result.stderr


def test_missing_tensorflow_says_which_extra_to_install():
    # sys.modules[name] = None makes "import tensorflow" fail as if it were not installed.
    result = _python("import sys; sys.modules['tensorflow'] = None; import biocnn")
    assert result.returncode == 1
    assert "biocnn needs TensorFlow 2.16 or newer, which is not installed" in result.stderr
    assert "pip install 'biocnn[cpu]'" in result.stderr


def test_other_backends_import_without_tensorflow_and_train():
    # The backend-agnostic core (models, layers, losses, optimizers, augment) on the PyTorch
    # backend; TensorFlow is imported only when a TensorFlow-bound subpackage is used.
    pytest.importorskip("torch")
    code = (
        "import sys, numpy as np, biocnn, keras\n"
        "assert keras.backend.backend() == 'torch' and 'tensorflow' not in sys.modules\n"
        "m = biocnn.models.create('lenet5', (16, 16, 1), 2)\n"
        "aug = biocnn.augment.policy('microscopy', rank=2, seed=0, channels=1)\n"
        "m.compile(optimizer=biocnn.optimizers.MomentumSGD(), loss=biocnn.losses.get('cross_entropy'))\n"
        "x = np.asarray(aug(np.random.rand(8, 16, 16, 1).astype('float32'), training=True))\n"
        "h = m.fit(x, np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)\n"
        "print(np.isfinite(h.history['loss'][0]), 'tensorflow' in sys.modules)\n"
        "biocnn.training\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = _python(code, KERAS_BACKEND="torch")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "False", "True"]

