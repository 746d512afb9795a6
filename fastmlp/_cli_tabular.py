"""``python -m fastmlp --csv FILE --target COLUMN --tabular``: real CSV tables.

Design: the CSV is read as ``_cli.read_csv`` reads it (the standard
library, no pandas), the target as ``_cli`` parses it, and every other
column is kept as it is written:

- a cell in ``_cli.MISSING_CELLS`` (empty, NA, NaN, n/a, #N/A, ...: pandas'
  default missing markers), or NaN in any case (``_cli._missing``), is a
  missing value;
- a column whose other cells are all numbers is numeric (missing -> NaN;
  +-inf kept: both models rank it past every finite value);
- a column whose other cells are all ISO 8601 dates or times (2024-03-01,
  2024-03-01 14:30, 2024-03-01T14:30:00Z) is numeric too, days since
  1970-01-01 UTC (``read_dates``: as strings each date was a category of
  its own, and a table's date column predicted nothing);
- any other column is categorical (its strings, missing -> None).

``TabularMLPClassifier``/``TabularMLPRegressor`` (defaults, ``--max-iter``,
``--n-ensemble``, ``--hidden-layer-sizes`` and ``--random-state`` passed on)
and scikit-learn's HistGradientBoosting (its categorical columns
ordinal-encoded, rare categories pooled so that none has more than
``HISTGB_MAX_CATEGORIES``; columns with no value at all left out, which it
cannot bin) are cross-validated on the same folds; both scores and fit
times are printed, and warnings as ``fastmlp: warning:`` lines.

HistGradientBoosting fits and predicts each fold on the CPUs other tasks
leave free (``_pacing.team_for_load``, as fastmlp's own epochs): its
OpenMP team spins at every barrier, and beside other busy processes on 2
cores a fold took 18-128 s where one thread took 0.4 s. Its results do not
depend on its thread count; its line says when it ran on fewer threads.
"""
import math
import re
import time
import warnings
from datetime import datetime, timezone

import numpy as np
from sklearn.base import BaseEstimator, clone

HISTGB_MAX_CATEGORIES = 254  # HistGradientBoosting bins a category per value, 255 at most

# an ISO 8601 calendar or week date, with or without a time of day and a
# UTC offset; groups: the time of day, its seconds
_ISO_DATE = re.compile(r"\d{4}-(?:\d{2}-\d{2}|W\d{2}-\d)"
                       r"(?:[ T](\d{2}:\d{2}(?::(\d{2})(?:\.\d+)?)?)(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")
_END_OF_DAY = re.compile(r"24:00(?::00(?:\.0+)?)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_table(rows, columns):
    """(object array of shape (n_rows, n_columns), bool mask of the
    categorical columns) of the CSV rows' ``columns``."""
    from fastmlp._cli import _missing, _number

    X = np.empty((len(rows), len(columns)), dtype=object)
    categorical = np.zeros(len(columns), dtype=bool)
    for j, col in enumerate(columns):
        cells = [row[col].strip() for row in rows]
        missing = [_missing(c) for c in cells]
        values = []
        for cell, miss in zip(cells, missing):
            if miss:
                values.append(math.nan)
                continue
            value = _number(cell)
            if value is None:
                categorical[j] = True
                break
            values.append(value)
        if categorical[j]:
            X[:, j] = [None if m else c for c, m in zip(cells, missing)]
        else:
            X[:, j] = values
    return X, categorical


def _days(cell):
    """Days since 1970-01-01 UTC of an ISO 8601 date or time (a time
    without an offset is UTC), or None when the cell is not one.  A leap
    second (23:59:60) and the end of a day (24:00), which Python's datetime
    refuses, are a second past 23:59:59."""
    match = _ISO_DATE.fullmatch(cell)
    if not match:
        return None
    past = 0.0
    if match.group(1) and _END_OF_DAY.fullmatch(match.group(1)):
        cell, past = cell[:match.start(1)] + "23:59:59" + cell[match.end(1):], 1.0
    elif match.group(2) == "60":
        cell, past = cell[:match.start(2)] + "59" + cell[match.end(2):], 1.0
    try:
        when = datetime.fromisoformat(cell)
    except ValueError:   # 2024-02-30
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return ((when - _EPOCH).total_seconds() + past) / 86400.0


def read_dates(X, categorical):
    """The categorical columns of ``parse_table``'s X whose values are all
    ISO 8601 dates or times, made numeric in place (days since 1970-01-01
    UTC, missing -> NaN): (their positions, [(position, dates, values, the
    first value that is not one)] of the columns left categorical whose
    values are at least half dates)."""
    dated, almost = [], []
    for j in np.flatnonzero(categorical):
        days = [math.nan if v is None else _days(v) for v in X[:, j]]
        odd = [v for v, d in zip(X[:, j], days) if d is None]
        n_values = sum(v is not None for v in X[:, j])
        if not odd and n_values:
            X[:, j] = days
            categorical[j] = False
            dated.append(int(j))
        elif n_values and 2 * (n_values - len(odd)) >= n_values:
            almost.append((int(j), n_values - len(odd), n_values, odd[0]))
    return dated, almost


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


class _OnFreeCPUs(BaseEstimator):
    """``estimator``, fitted and predicting with its OpenMP threads capped
    at the CPUs other tasks leave free, read before each call; ``capped_``:
    whether its fit ran on fewer threads than the team."""

    def __init__(self, estimator):
        self.estimator = estimator

    def _call(self, model, method, X, *rest):
        from threadpoolctl import threadpool_limits

        from fastmlp import _pacing
        from fastmlp._openmp import effective_n_threads

        team = effective_n_threads()
        threads = _pacing.team_for_load(team)
        if threads >= team:
            return getattr(model, method)(X, *rest), False
        with threadpool_limits(limits=threads, user_api="openmp"):
            return getattr(model, method)(X, *rest), True

    def fit(self, X, y):
        self.estimator_, self.capped_ = self._call(clone(self.estimator), "fit", X, y)
        return self

    def predict(self, X):
        return self._call(self.estimator_, "predict", X)[0]


def _has_values(X, categorical):
    """Mask of the columns with at least one value that is not missing."""
    return np.array([any(v is not None for v in X[:, j]) if categorical[j]
                     else not np.isnan(X[:, j].astype(np.float64)).all()
                     for j in range(X.shape[1])], dtype=bool)


def run(args, X, categorical, y, task, folds, metric):
    """Cross-validate both models on ``folds``; return (the printed lines,
    the warnings' messages)."""
    from sklearn.model_selection import cross_validate

    from fastmlp import TabularMLPClassifier, TabularMLPRegressor
    from fastmlp._cli import scorer, stop_if_interrupted, user_fits

    cls = TabularMLPClassifier if task == "classification" else TabularMLPRegressor
    params = {"categorical_features": categorical, "random_state": args.random_state}
    if args.max_iter:
        params["max_iter"] = args.max_iter
    if args.n_ensemble:
        params["n_ensemble"] = args.n_ensemble
    if args.hidden_layer_sizes:
        params["hidden_layer_sizes"] = args.hidden_layer_sizes
    notes = []
    # HistGradientBoosting cannot bin a column without any value
    has_values = _has_values(X, categorical)
    X_hgb, cat_hgb = X[:, has_values], categorical[has_values]
    if not has_values.all():
        notes.append(f"{(~has_values).sum()} column(s) without any value left out of "
                     "HistGradientBoosting's data, which cannot bin them")
    if cat_hgb.any():
        # HistGradientBoosting's encoder wants one type per column: strings
        X_hgb = X_hgb.copy()
        for j in np.flatnonzero(cat_hgb):
            X_hgb[:, j] = [np.nan if v is None else v for v in X_hgb[:, j]]
    else:
        X_hgb = X_hgb.astype(np.float64)
    models = [(cls.__name__, cls(**params), X)]
    if has_values.any():
        models.append(("HistGradientBoosting",
                       _OnFreeCPUs(_histgb(task, cat_hgb, args.random_state)), X_hgb))
    label = "accuracy" if metric == "accuracy" else "R\u00b2"
    out = []
    for name, model, data in models:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tic = time.perf_counter()
            paced = isinstance(model, _OnFreeCPUs)
            with user_fits():
                result = cross_validate(model, data, y, cv=folds, scoring=scorer(metric),
                                        error_score="raise", return_estimator=paced)
            stop_if_interrupted()
            elapsed = time.perf_counter() - tic
        capped = sum(fitted.capped_ for fitted in result["estimator"]) if paced else 0
        for w in caught:
            message = f"{name}: " + " ".join(str(w.message).split())
            if message not in notes:
                notes.append(message)
        scores = result["test_score"]
        out.append(f"{name}: {label} {scores.mean():.4f} \u00b1 {scores.std():.4f} "
                   f"(folds: {' '.join(f'{s:.4f}' for s in scores)}), "
                   f"fit {result['fit_time'].sum():.2f} s, total {elapsed:.2f} s"
                   + (f" (fewer threads in {capped} of {len(scores)} folds: other tasks "
                      "held the CPUs)" if capped else ""))
    if not has_values.any():
        out.append("HistGradientBoosting: not run: no feature column has a value to bin")
    return out, notes
