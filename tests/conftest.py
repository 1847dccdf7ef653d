import os

import pytest

# Tests are small; one inter-op thread keeps them from fighting pytest for 2 cores. Intra-op threads stay at
# TensorFlow's default (one per core) in each xdist worker: one per worker measured no faster, within the noise
# of a shared machine (tests/test_training.py + tests/test_zoo.py: 62 and 106 s against 76 and 107 s).
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import biocnn  # noqa: E402,F401  (sets TensorFlow's defaults before any test imports it)

_SHARED_SCOPES = ("class", "module", "package")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Keep the tests that share a module-scoped fixture in one pytest-xdist worker.

    The suite runs under ``-n 2 --dist loadgroup`` (pyproject.toml): a test without an
    ``xdist_group`` mark goes to whichever worker is free, one test at a time. A test that uses
    a fixture built once per class, module or package (a trained run that ten tests read) is
    marked ``xdist_group(<its file>)``, so the whole file's users of that fixture go to one worker
    and the fixture is built once, as in a serial run, not once per worker.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        if any(defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
