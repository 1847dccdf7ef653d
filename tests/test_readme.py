"""The README is the front door: its commands and examples must be the ones that work."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme():
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


def _bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    setup = _bash_blocks(_readme())
    assert len(setup) >= 2
    test_command = setup[1].strip()
    assert "pytest" in test_command
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci_lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert test_command in ci_lines


def test_main_job_command_names_a_pipeline_that_exists():
    main_job = _bash_blocks(_readme())[0]
    script = re.search(r"python (pipelines/\S+\.py)", main_job).group(1)
    assert os.path.exists(os.path.join(ROOT, script))


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", _readme(), flags=re.S)


def test_the_readme_has_python_examples():
    assert _python_blocks()  # without one, the parametrized test below would pass vacuously


# One test per block (each in its own fresh process and folder), so that pytest-xdist can run them side by side.
@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_python_examples_run(index, tmp_path):
    block = _python_blocks()[index]
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"README python example {index + 1}:\n" + result.stderr[-2000:]
