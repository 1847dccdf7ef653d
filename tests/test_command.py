"""The biocnn command and the shared argument vocabulary: parsing needs no TensorFlow."""

import argparse
import importlib
import os
import subprocess
import sys

import numpy as np

import pytest

from biocnn import cli
from biocnn.commands import COMMANDS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_help_of_the_command_and_every_sub_command_imports_no_tensorflow():
    code = (
        "import sys, contextlib, io\n"
        "from biocnn import command\n"
        "from biocnn.commands import COMMANDS\n"
        "names = [n for n, (m, _) in COMMANDS.items() if m]\n"
        "for argv in [['--help']] + [[n, '--help'] for n in names]:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            command.main(argv)\n"
        "        except SystemExit as e:\n"
        "            assert e.code == 0, (argv, e.code)\n"
        "    assert 'usage' in out.getvalue(), argv\n"
        "print(len(names), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(sum(1 for m, _ in COMMANDS.values() if m)), "False", "False"]


def test_unknown_command_suggests_the_closest(capsys):
    from biocnn import command

    assert command.main(["imgaes"]) == 2
    assert "unknown command 'imgaes'. Did you mean 'images'?" in capsys.readouterr().err


def test_every_training_command_speaks_the_same_vocabulary():
    shared = ("--model", "--augment", "--seed", "--split-seed", "--val-size", "--epochs", "--batch-size", "--lr",
              "--out", "--export", "--tensorboard", "--class-names", "--group-column")
    for name in ("sequences", "images", "volumes", "cv", "transfer"):
        parser = importlib.import_module(COMMANDS[name][0]).build_parser()
        text = parser.format_help()
        missing = [flag for flag in shared if flag not in text and not (name == "transfer" and flag == "--model")]
        assert not missing, (name, missing)
        if name != "cv":
            assert "--test-size" in text


def test_defaults_come_from_the_one_table():
    for name, modality in (("sequences", "sequences"), ("images", "images"), ("volumes", "volumes"),
                           ("transfer", "transfer"), ("cv", "cv"), ("compare", "compare")):
        args = importlib.import_module(COMMANDS[name][0]).build_parser().parse_args(["--out", "x"])
        row = cli.MODALITY_DEFAULTS[modality]
        assert (args.epochs, args.batch_size, args.lr, args.patience) == (
            row["epochs"], row["batch_size"], row["lr"], row["patience"]), name
        assert (args.schedule, args.warmup_epochs, args.label_smoothing, getattr(args, "augment", "none")) == (
            row["schedule"], row["warmup_epochs"], row["label_smoothing"], row["augment"]), name
        if name not in ("transfer", "cv", "compare"):  # transfer: --backbone; compare: --models
            assert args.model == row["model"], name


def test_cv_trains_what_the_source_modality_trains():
    from biocnn.commands import crossval

    args = crossval.build_parser().parse_args(["--out", "x", "--epochs", "3"])
    assert args.model is None and args.augment is None  # decided once the source is known
    for modality in ("sequences", "images", "volumes"):
        filled = cli.fill_defaults(crossval.build_parser().parse_args(["--out", "x", "--epochs", "3"]), modality)
        row = cli.MODALITY_DEFAULTS[modality]
        assert filled.epochs == 3  # a flag the user gave is kept
        assert (filled.model, filled.batch_size, filled.lr, filled.augment, filled.schedule) == (
            row["model"], row["batch_size"], row["lr"], row["augment"], row["schedule"]), modality
    assert set(cli.MODALITY_DEFAULTS["cv"]) == set(cli.MODALITY_DEFAULTS["images"])


def test_static_names_equal_the_library_ones():
    from biocnn import augment, distribute, transfer
    from biocnn.commands.transfer import INFLATE_MODES
    from biocnn.data import intensity
    from biocnn.training import TrainingConfig

    assert cli.POLICIES == tuple(augment.POLICIES) and cli.STRATEGIES == tuple(distribute.STRATEGIES)
    assert set(cli.CT_WINDOW_NAMES) == set(intensity.CT_WINDOWS) and cli.NAN_POLICIES == tuple(intensity.NAN_POLICIES)
    assert INFLATE_MODES == tuple(transfer.INFLATE_MODES)
    config = TrainingConfig()
    assert {k: getattr(config, k) for k in cli.TRAINING_DEFAULTS} == cli.TRAINING_DEFAULTS


def _model_args(*argv):
    parser = argparse.ArgumentParser()
    cli.add_model_arguments(parser, "images")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(list(argv))


def test_model_spec_and_its_old_spellings():
    assert cli.model_spec(_model_args("--model", "resnet18:width_multiplier=0.25,dropout=0.2")) == (
        "resnet18", {"width_multiplier": 0.25, "dropout": 0.2})
    with pytest.warns(DeprecationWarning, match="--width is an old spelling; write --model resnet18:width_multiplier=0.5"):
        assert cli.model_spec(_model_args("--width", "0.5")) == ("resnet18", {"width_multiplier": 0.5})
    with pytest.warns(DeprecationWarning, match="--model-option is an old spelling"):
        assert cli.model_spec(_model_args("--model", "lenet5:pooling=avg", "--model-option", "dropout=0.1")) == (
            "lenet5", {"pooling": "avg", "dropout": 0.1})
    with pytest.raises(ValueError, match="option 'dropout' is given twice"):
        cli.model_spec(_model_args("--model", "lenet5:dropout=0.5", "--model-option", "dropout=0.1"))


def test_augment_grammar_is_the_same_everywhere():
    assert _model_args().augment == cli.MODALITY_DEFAULTS["images"]["augment"] == "microscopy"  # the row's default
    assert _model_args("--augment", "none").augment == "none"
    assert cli.augmentation(_model_args("--augment", "none"), 2, 1) is None
    assert _model_args("--augment").augment == "microscopy"  # alone: the modality's policy
    layer = cli.augmentation(_model_args("--augment", "flip,contrast=0.2"), 2, 1)
    assert [type(sub).__name__ for sub in layer.layers] == ["RandomFlip", "RandomContrast"]
    volumes = argparse.ArgumentParser()
    cli.add_augment_argument(volumes, "volumes")
    assert volumes.parse_args(["--augment"]).augment == "volume"


def test_models_create_takes_shape_and_classes_by_keyword():
    import biocnn

    model = biocnn.models.create("resnet18", input_shape=(32, 32, 3), num_classes=2, width_multiplier=0.25)
    assert model.output_shape == (None, 2)
    assert all(hasattr(biocnn, name) for name in ("cv", "interpret", "transfer"))


def test_a_default_warm_up_shrinks_to_a_short_run_but_a_written_one_is_checked():
    from biocnn.commands import images

    short = images.build_parser().parse_args(["--out", "x", "--epochs", "2"])
    assert short.warmup_epochs == cli.MODALITY_DEFAULTS["images"]["warmup_epochs"] == 3
    assert cli.training_config(short).warmup_epochs == 1
    assert cli.training_config(images.build_parser().parse_args(["--out", "x"])).warmup_epochs == 3
    written = images.build_parser().parse_args(["--out", "x", "--epochs", "2", "--warmup-epochs", "5"])
    with pytest.raises(ValueError, match="warmup_epochs must be an integer in"):
        cli.training_config(written)


def test_a_killed_short_run_resumes_with_more_epochs_under_the_default_warm_up(tmp_path):
    from biocnn.commands import volumes

    rng = np.random.default_rng(0)
    import h5py
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["x"] = rng.normal(size=(24, 6, 6, 6)).astype("float32")
        f["y"] = np.arange(24) % 2
    common = ["--hdf5", str(tmp_path / "v.h5"), "--key", "x", "--labels-key", "y", "--batch-size", "8",
              "--keep-checkpoints", "--out", str(tmp_path / "run")]
    volumes.main([*common, "--epochs", "2"])  # warm-up 3 shrinks to 1
    volumes.main([*common, "--epochs", "3", "--resume"])  # warm-up 2: the same run, longer
    with open(tmp_path / "run" / "history.csv") as f:
        assert len(f.read().strip().splitlines()) == 1 + 3
