"""The README is the front door: its commands and examples must be the ones that work."""

import os
import re
import subprocess
import sys

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


def test_python_examples_run(tmp_path):
    for block in re.findall(r"```python\n(.*?)```", _readme(), flags=re.S):
        result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
