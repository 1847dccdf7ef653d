"""pipelines/bench_training.py: the FLOP counter, the summary and table, and a tiny run."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

import biocnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "bench_training.py")


def _load():
    if os.path.dirname(SCRIPT) not in sys.path:  # the script imports bench_workers beside it
        sys.path.insert(0, os.path.dirname(SCRIPT))
    spec = importlib.util.spec_from_file_location("bench_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_macs_of_lenet5_match_a_hand_count():
    # 28x28x1, 'valid': conv1 24x24 positions x (5*5*1*6) = 86,400; conv2 8x8 x (5*5*6*16) = 153,600;
    # Dense 256x120 = 30,720; 120x84 = 10,080; 84x2 = 168.
    model = biocnn.models.lenet5((28, 28, 1), 2)
    assert bench.conv_dense_macs(model) == 86_400 + 153_600 + 30_720 + 10_080 + 168
    assert bench.training_flops(280_968) == 6 * 280_968


def test_macs_of_a_3d_conv_with_stride_and_a_nested_model():
    inner = keras.Sequential([keras.Input((8, 8, 8, 2)), keras.layers.Conv3D(4, 3, strides=2, padding="same")])
    outer = keras.Sequential([keras.Input((8, 8, 8, 2)), inner, keras.layers.Flatten(), keras.layers.Dense(3)])
    # 4x4x4 positions x (3*3*3*2*4) = 13,824; Dense 256 x 3 = 768.
    assert bench.conv_dense_macs(outer) == 13_824 + 768


def test_summary_medians_ratios_and_table():
    spec = ("lenet5", (28, 28, 1), 2, 10, 5, {})  # 50 samples per chunk
    ready = {name: {"parameters": 7, "macs_per_sample": 1000, "versions": {}} for name in ("biocnn", "torch")}
    seconds = {"biocnn": [1.0, 0.5, 0.25], "torch": [1.0, 1.0, 2.0]}
    rss = {"biocnn": {"max_rss_mb": 700.0, "import_rss_mb": 600.0}, "torch": {"max_rss_mb": 300.0, "import_rss_mb": 220.0}}
    record = bench.summarise("f", spec, ready, seconds, rss, peak_flops=1e6)
    assert record["frameworks"]["biocnn"]["median_samples_per_s"] == 100.0  # 50 / 0.5
    assert record["frameworks"]["torch"]["median_samples_per_s"] == 50.0
    assert record["ratio_to_torch"] == {"biocnn": 2.0}
    assert record["frameworks"]["biocnn"]["achieved_gflop_per_s"] == pytest.approx(100 * 6000 / 1e9)
    assert record["frameworks"]["biocnn"]["fraction_of_sgemm_peak"] == pytest.approx(0.6)
    text = bench.table({"families": {"f": record}})
    assert record["frameworks"]["biocnn"]["training_rss_mb"] == 100.0  # peak - imports
    assert record["memory_ratio_to_torch"] == {"biocnn": {"peak": 700 / 300, "training": 100 / 80}}
    assert "| f | 10 | 100.0 | 50.0 | 2.00 | 0.0 (60%) | 0.0 (30%) | 700 (600 + 100) | 300 (220 + 80) | 1.25 |" in text


def test_existing_output_is_not_overwritten(tmp_path):
    out = tmp_path / "bench.json"
    out.write_text("{}")
    with pytest.raises(SystemExit):
        bench.parse_args(["--out", str(out)])
    assert bench.parse_args(["--out", str(out), "--overwrite"]).overwrite


def test_quick_run_against_pytorch(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, SCRIPT, "--families", "lenet5_2d", "--quick", "--out", str(out)],
                            capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["schema"] == bench.SCHEMA
    family = record["families"]["lenet5_2d"]
    assert family["parameters"] == biocnn.models.lenet5((28, 28, 1), 2).count_params()
    assert set(family["frameworks"]) == {"biocnn", "torch"}
    assert family["ratio_to_torch"]["biocnn"] > 0
    for framework in family["frameworks"].values():  # the imports' footprint is part of the peak
        assert 0 < framework["import_rss_mb"] <= framework["max_rss_mb"]
        assert framework["training_rss_mb"] == framework["max_rss_mb"] - framework["import_rss_mb"]
