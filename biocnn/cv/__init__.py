"""Cross-validation and hyper-parameter search, in scikit-learn's terms."""

from biocnn.cv.crossval import CVResult, assign_folds, collect, cross_validate, run_fold
from biocnn.cv.ensemble import ensemble, load_fold_models
from biocnn.cv.seeds import collect_seeds, run_seeds
from biocnn.cv.search import candidates, check_space, search
from biocnn.cv.splitters import LeakageError, check_folds, check_no_leakage, make_splitter
from biocnn.cv.stats import bootstrap_ci, mean_sd_ci, summarize_folds

__all__ = [
    "CVResult", "LeakageError", "assign_folds", "bootstrap_ci", "candidates", "check_folds", "check_no_leakage",
    "check_space", "collect", "collect_seeds", "cross_validate", "ensemble", "load_fold_models", "make_splitter",
    "mean_sd_ci", "run_fold", "run_seeds", "search", "summarize_folds",
]
