"""``python -m fastmlp --csv FILE --target COLUMN --tabular``: real CSV tables.

Design: the CSV is read as ``_cli.read_csv`` reads it (the standard
library, no pandas), the target as ``_cli`` parses it, and every other
column is kept as it is written:

- a cell in ``MISSING_CELLS`` (empty, NA, NaN, ...) is a missing value;
- a column whose other cells are all numbers is numeric (missing -> NaN;
  +-inf is an error), any other column is categorical (its strings, missing
  -> None).

``TabularMLPClassifier``/``TabularMLPRegressor`` (defaults, ``--max-iter``,
``--n-ensemble`` and ``--random-state`` passed on) and scikit-learn's HistGradientBoosting
(its categorical columns ordinal-encoded, rare categories pooled so that
none has more than ``HISTGB_MAX_CATEGORIES``) are cross-validated on the
same folds; both scores and fit times are printed.
"""
import math
import time
import warnings

import numpy as np

MISSING_CELLS = frozenset({"", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "?"})
HISTGB_MAX_CATEGORIES = 254  # HistGradientBoosting bins a category per value, 255 at most


def parse_table(path, header, rows, lines, columns):
    """(object array of shape (n_rows, n_columns), bool mask of the
    categorical columns); CLIError for a non-finite number."""
    from fastmlp._cli import CLIError, _show

    X = np.empty((len(rows), len(columns)), dtype=object)
    categorical = np.zeros(len(columns), dtype=bool)
    for j, col in enumerate(columns):
        cells = [row[col].strip() for row in rows]
        missing = [c in MISSING_CELLS for c in cells]
        values = []
        for i, (cell, miss) in enumerate(zip(cells, missing)):
            if miss:
                values.append(math.nan)
                continue
            try:
                value = float(cell)
            except ValueError:
                categorical[j] = True
                break
            if not math.isfinite(value):
                raise CLIError(
                    f"feature column {header[col]!r} has the non-finite value {_show(cell)} "
                    f"in row {i + 1} (line {lines[i]} of {path})"
                )
            values.append(value)
        if categorical[j]:
            X[:, j] = [None if m else c for c, m in zip(cells, missing)]
        else:
            X[:, j] = values
    return X, categorical


def _histgb(task, categorical, random_state):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    cat = np.flatnonzero(categorical)
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                encoded_missing_value=np.nan,
                                max_categories=HISTGB_MAX_CATEGORIES), cat)],
        remainder="passthrough")
    cls = HistGradientBoostingClassifier if task == "classification" \
        else HistGradientBoostingRegressor
    model = cls(categorical_features=list(range(len(cat))), random_state=random_state)
    return make_pipeline(encode, model)


def run(args, X, categorical, y, task, folds, metric):
    """Cross-validate both models on ``folds``; return the printed lines."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_validate

    from fastmlp import TabularMLPClassifier, TabularMLPRegressor

    cls = TabularMLPClassifier if task == "classification" else TabularMLPRegressor
    params = {"categorical_features": categorical, "random_state": args.random_state}
    if args.max_iter:
        params["max_iter"] = args.max_iter
    if args.n_ensemble:
        params["n_ensemble"] = args.n_ensemble
    if categorical.any():
        # HistGradientBoosting's encoder wants one type per column: strings
        X_hgb = X.copy()
        for j in np.flatnonzero(categorical):
            X_hgb[:, j] = [np.nan if v is None else v for v in X[:, j]]
    else:
        X_hgb = X.astype(np.float64)
    label = "accuracy" if metric == "accuracy" else "R\u00b2"
    out = []
    for name, model, data in (
        (cls.__name__, cls(**params), X),
        ("HistGradientBoosting", _histgb(task, categorical, args.random_state), X_hgb),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            result = cross_validate(model, data, y, cv=folds, scoring=metric,
                                    error_score="raise")
            elapsed = time.perf_counter() - tic
        scores = result["test_score"]
        out.append(f"{name}: {label} {scores.mean():.4f} \u00b1 {scores.std():.4f} "
                   f"(folds: {' '.join(f'{s:.4f}' for s in scores)}), "
                   f"fit {result['fit_time'].sum():.2f} s, total {elapsed:.2f} s")
    return out
