"""The module map holds: imports run downwards only, and no private name crosses a module.

The map (also in ../shared/STYLE.md), top to bottom; a module may import its own rank or lower:

    8  pipelines/*.py                          thin scripts
    7  biocnn (the package), cli, commands,     one argument vocabulary, the installed command,
       serialization                            every registered Keras object
    6  cv, transfer                             folds and search, backbones and fine-tuning: each runs
                                                its folds / phases through the experiment path
    5  experiment                               split checks -> train (a pluggable step) -> evaluate -> report
    4  export, interpret                        read runs through rundir's schema
    3  training, lr_finder                      fit / resume (uses distribute's strategies and loop)
    2  models, augment, data, gallery, tta      networks, augmentation, readers/sources, galleries
    1  rundir, evaluation, plots, splits        run schema, metrics, figures, split checks
    0  distribute                               strategies, the cluster's facts, the custom loop
   -1  layers, losses, optimizers, schedules, utils, runtime, errors, class_balance   the shared core

Every ``import`` counts, also one inside a function (a lazy import is still a dependency).
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

RANKS = {
    "pipelines": 8,
    "biocnn": 7, "biocnn.__main__": 7, "biocnn.cli": 7, "biocnn.command": 7, "biocnn.commands": 7,
    "biocnn.cv": 6, "biocnn.transfer": 6,
    "biocnn.experiment": 5,
    "biocnn.export": 4, "biocnn.interpret": 4,
    "biocnn.training": 3, "biocnn.lr_finder": 3,
    "biocnn.models": 2, "biocnn.augment": 2, "biocnn.data": 2, "biocnn.gallery": 2, "biocnn.tta": 2,
    "biocnn.rundir": 1, "biocnn.evaluation": 1, "biocnn.plots": 1, "biocnn.splits": 1,
    "biocnn.distribute": 0,
    "biocnn.layers": -1, "biocnn.losses": -1, "biocnn.optimizers": -1, "biocnn.utils": -1,
    "biocnn.runtime": -1, "biocnn.errors": -1, "biocnn.serialization": 7,
    "biocnn.schedules": -1, "biocnn.class_balance": -1,
}


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _unit(module):
    """The map's unit of a module: ``biocnn.data.images`` -> ``biocnn.data``; pipelines -> pipelines."""
    if module.startswith("pipelines"):
        return "pipelines"
    return ".".join(module.split(".")[:2])


def _imports(path):
    """(line, imported module, imported names) for every biocnn import in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [alias.name for alias in node.names]
            if target == "biocnn":  # from biocnn import training, data -> one import per subpackage
                found += [(node.lineno, f"biocnn.{name}", []) for name in names]
            else:
                found.append((node.lineno, target, names))
    return [(line, target, names) for line, target, names in found if target.split(".")[0] == "biocnn"]


SOURCES = sorted(ROOT.glob("biocnn/**/*.py")) + sorted(ROOT.glob("pipelines/*.py"))


def test_every_module_has_a_rank():
    units = {_unit(_module_name(path)) for path in SOURCES}
    missing = sorted(units - set(RANKS))
    assert not missing, f"modules without a place in the map (add them to RANKS and STYLE.md): {missing}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_downwards(path):
    unit = _unit(_module_name(path))
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {target} (rank {RANKS.get(_unit(target))} > {unit}'s {RANKS[unit]})"
        for line, target, _ in _imports(path)
        if _unit(target) != unit and RANKS.get(_unit(target), 99) > RANKS[unit]
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module(path):
    here = _module_name(path)
    crossing = [
        f"{path.relative_to(ROOT)}:{line} imports {name} from {target}"
        for line, target, names in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != here
    ]
    assert not crossing, "\n".join(crossing)


def test_the_checker_sees_an_upward_and_a_private_import(tmp_path, monkeypatch):
    # The test must be able to fail: a low module importing a high one, and a private name.
    fake = tmp_path / "biocnn" / "utils.py"
    fake.parent.mkdir()
    fake.write_text("from biocnn.experiment import _secret\nimport biocnn.training\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    found = _imports(fake)
    assert [(t, n) for _, t, n in found] == [("biocnn.experiment", ["_secret"]), ("biocnn.training", [])]
    with pytest.raises(AssertionError, match=r"imports biocnn.experiment \(rank 5 > biocnn.utils's -1\)"):
        test_imports_run_downwards(fake)
    with pytest.raises(AssertionError, match="imports _secret from biocnn.experiment"):
        test_no_private_name_crosses_a_module(fake)
