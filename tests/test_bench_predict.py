"""pipelines/bench_predict.py: the summary and table on hand values, the synthetic genome, a quick run."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from biocnn.data.genome import GenomeWindows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "pipelines", "bench_predict.py")


def _load():
    if os.path.dirname(SCRIPT) not in sys.path:  # the script imports bench_workers beside it
        sys.path.insert(0, os.path.dirname(SCRIPT))
    spec = importlib.util.spec_from_file_location("bench_predict", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_summary_medians_ratios_and_table():
    spec = ("deepbind", (200, 4), 2, 10, 5, {})  # 50 samples per chunk
    ready = {name: {"parameters": 7, "versions": {}} for name in ("biocnn", "torch")}
    seconds = {"biocnn": [1.0, 0.5, 0.25], "torch": [1.0, 1.0, 2.0]}
    record = bench.summarise(spec, ready, seconds, {"biocnn": 300.0, "torch": 200.0})
    assert record["frameworks"]["biocnn"]["median_samples_per_s"] == 100.0  # 50 / 0.5
    assert record["frameworks"]["torch"]["median_samples_per_s"] == 50.0
    assert record["ratio_to_torch"] == {"biocnn": 2.0}
    assert "| f | 10 | 100 | 50 | 2.00 | 300 | 200 |" in bench.table({"families": {"f": record}})
    # CPU seconds: 50 samples / median CPU time (0.25 s and 2 s) -> 200 and 25 per CPU-second.
    cpu = {"biocnn": [0.5, 0.25, 0.2], "torch": [1.0, 2.0, 4.0]}
    record = bench.summarise(spec, ready, seconds, {"biocnn": 300.0, "torch": 200.0}, cpu)
    assert record["frameworks"]["biocnn"]["median_samples_per_cpu_s"] == 200.0
    assert record["ratio_to_torch_cpu"] == {"biocnn": 8.0}
    assert "| f | 10 | 100 | 50 | 2.00 | 200 | 25 | 8.00 | 300 | 200 |" in bench.table({"families": {"f": record}})


def test_synthetic_genome_gives_exactly_n_windows(tmp_path):
    n, window, stride = 37, 200, 50
    bench.write_genome(tmp_path / "g.fa", (n - 1) * stride + window)
    scan = GenomeWindows(tmp_path / "g.fa", window, stride)
    assert sum(1 for _ in scan) == n and set("".join(w[3] for w in GenomeWindows(tmp_path / "g.fa", 5, 5))) == set("ACGT")
    assert bench.max_rss_mb() > 10


def test_quick_run(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, SCRIPT, "--quick", "--threads", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    family = record["families"]["deepbind_1d"]
    assert record["schema"] == bench.SCHEMA and set(family["frameworks"]) == {"biocnn", "torch"}
    assert family["ratio_to_torch"]["biocnn"] > 0
    assert record["scan"]["points"][0]["windows"] == 1000
