"""``--seeds``: one run per seed under OUT/seed_K/, and the mean +- sd over seeds (cv's summary)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from biocnn.commands import images
from biocnn.errors import OutputExistsError

TRAIN = ["--epochs", "1", "--batch-size", "8", "--model", "lenet5:width_multiplier=0.25", "--class-names", "a", "b"]


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 16), ("val", 8), ("test", 8)):
        y = np.arange(n) % 2
        arrays[f"{split}_images"] = np.clip(rng.normal(60 + 120 * y[:, None, None], 20, (n, 12, 12)), 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = y[:, None]
    path = tmp_path_factory.mktemp("data") / "images.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.fixture(scope="module")
def seeds_run(npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "seeds"
    images.main(["--npz", npz, *TRAIN, "--seeds", "0", "1", "--out", str(out), "--export", str(out) + "_export"])
    return out


def test_every_seed_is_a_run_and_the_summary_is_their_mean_and_sd(seeds_run, capsys):
    out = seeds_run
    assert {"seed_0", "seed_1", "summary.json", "summary.csv", "seeds.csv", "config.json", "biocnn_run.json"} <= set(
        os.listdir(out))
    metrics = [json.loads((out / f"seed_{s}" / "metrics.json").read_text()) for s in (0, 1)]
    assert [json.loads((out / f"seed_{s}" / "config.json").read_text())["seed"] for s in (0, 1)] == [0, 1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    for split in ("val", "test"):
        for name in ("accuracy", "auroc", "loss"):
            values = np.array([m[split][name] for m in metrics], dtype=float)
            got = summary["summary"][split][name]
            assert got["mean"] == pytest.approx(values.mean()) and got["sd"] == pytest.approx(values.std(ddof=1))
            assert got["n"] == 2
    table = pd.read_csv(out / "summary.csv")
    row = table[(table.split == "test") & (table.metric == "accuracy")].iloc[0]
    assert row["mean"] == pytest.approx(summary["summary"]["test"]["accuracy"]["mean"])
    assert pd.read_csv(out / "seeds.csv")["seed"].tolist() == [0, 1]
    exported = json.loads((out.parent / "seeds_export" / "biocnn_export.json").read_text())
    assert exported["source"]["members"] == 2  # --export with --seeds: the seed ensemble


def test_the_parent_keeps_the_run_rules(seeds_run, npz, capsys):
    with pytest.raises(OutputExistsError, match="already holds a run"):
        images.main(["--npz", npz, *TRAIN, "--seeds", "0", "1", "--out", str(seeds_run)])
    before = os.path.getmtime(seeds_run / "seed_0" / "model.keras")
    images.main(["--npz", npz, *TRAIN, "--seeds", "0", "1", "--resume", "--out", str(seeds_run)])
    assert "seed 0 (1/2): already finished, skipped" in capsys.readouterr().out
    assert os.path.getmtime(seeds_run / "seed_0" / "model.keras") == before


def test_seed_and_seeds_are_exclusive_and_seeds_distinct(npz, tmp_path, capsys):
    with pytest.raises(SystemExit):
        images.parse_args(["--npz", npz, "--seed", "1", "--seeds", "0", "1", "--out", str(tmp_path / "x")])
    assert "not allowed with argument --seed" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"give distinct seeds.*\[1\] repeated"):
        images.main(["--npz", npz, *TRAIN, "--seeds", "1", "1", "--out", str(tmp_path / "y")])
