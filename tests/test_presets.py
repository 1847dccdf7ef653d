"""``--preset NAME``: named overrides of the modality defaults; explicit flags always win."""

import pytest

from biocnn import cli
from biocnn.commands import crossval, images, sequences, volumes

NPZ = ["--npz", "x.npz", "--out", "o"]


def test_laptop_is_todays_defaults_and_every_preset_names_known_rows_and_keys():
    for modality, row in cli.MODALITY_DEFAULTS.items():
        if modality in cli.TTA_COMMANDS:
            assert cli.preset_defaults("laptop", modality) == row
    for name, rows in cli.PRESETS.items():
        for modality, values in rows.items():
            assert modality in cli.MODALITY_DEFAULTS and set(values) <= set(cli.MODALITY_DEFAULTS[modality]), (name, modality)


def test_the_preset_sets_defaults_and_explicit_flags_win_in_any_position():
    large = cli.PRESETS["large"]["volumes"]
    args = volumes.parse_args([*NPZ, "--preset", "large"])
    assert (args.epochs, args.batch_size, args.model) == (large["epochs"], large["batch_size"], large["model"])
    assert args.lr == cli.MODALITY_DEFAULTS["volumes"]["lr"]  # a key the preset leaves out keeps the row's value
    assert volumes.parse_args(["--epochs", "7", *NPZ, "--preset", "large"]).epochs == 7
    laptop_epochs = str(cli.MODALITY_DEFAULTS["volumes"]["epochs"])
    assert volumes.parse_args([*NPZ, "--preset=large", "--epochs", laptop_epochs]).epochs == int(laptop_epochs)
    assert volumes.parse_args(NPZ).epochs == cli.MODALITY_DEFAULTS["volumes"]["epochs"]
    npz = images.parse_args([*NPZ, "--preset", "large"], modality="npz")
    assert npz.model == cli.PRESETS["large"]["npz"]["model"]
    assert sequences.parse_args(["--preset", "large", "--out", "o"]).batch_size == cli.PRESETS["large"]["sequences"]["batch_size"]
    assert crossval.parse_args([*NPZ, "--preset", "large"]).epochs == cli.PRESETS["large"]["cv"]["epochs"]


def test_an_unknown_preset_is_refused_and_help_shows_the_presets(capsys):
    with pytest.raises(SystemExit):
        volumes.parse_args([*NPZ, "--preset", "huge"])
    assert "argument --preset: invalid choice: 'huge'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown preset 'huge'; one of laptop, large"):
        cli.preset_defaults("huge", "volumes")
    with pytest.raises(SystemExit):
        volumes.parse_args(["--preset", "large", "--help"])
    shown = capsys.readouterr().out
    assert "--preset {laptop,large}" in shown and f"most epochs (default {cli.PRESETS['large']['volumes']['epochs']})" in shown
