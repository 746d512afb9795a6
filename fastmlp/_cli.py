"""The fastmlp command line: ``python -m fastmlp``.

Design: two modes, one parser.

* Without ``--csv``: a benchmark.  fastmlp's and scikit-learn's MLPClassifier
  are fitted with the same parameters on scikit-learn's bundled digits data
  (StandardScaler first), best of 3 timed fits each, interleaved so that
  neither estimator gets a warmer machine.  It prints the test accuracy next
  to each fit time (a speed-up is meaningless without the accuracy) and the
  speed-up, scikit-learn time / fastmlp time.
* With ``--csv FILE --target COLUMN``: cross-validates a StandardScaler +
  fastmlp MLPClassifier/MLPRegressor pipeline on a CSV file and prints the
  mean and standard deviation of the fold scores (accuracy or R^2) and the
  total time.  The file is read with the standard library ``csv`` module and
  NumPy: no pandas.  The first non-blank row is the header; every column
  other than the target is a feature and must be numeric and finite.
  With ``--tabular``, or by itself when a feature cell is not a finite
  number (a category, a missing value, +-inf), columns may be categorical or
  have missing or infinite values: fastmlp's tabular estimator and
  HistGradientBoosting are cross-validated on the same folds instead
  (``_cli_tabular.py``).

Every expected failure (a missing or empty file, an unknown column, bad
data, too few rows for the folds) is raised as ``CLIError`` and reported as
one line ``fastmlp: error: ...`` on stderr with exit status 2, the status
argparse uses for its own usage errors; so is a fit that fails on the
user's data or parameters (the estimator's ValueError, as a fit that
diverges, or a MemoryError).  Anything else is a bug and keeps its
traceback.  Ctrl-C stops the run with exit status 130: scikit-learn's MLP,
and fastmlp's drop-ins as it, end the fit it cuts short and return, so the
command line stops before the next fit or score (``stop_if_interrupted``).
A reader that leaves early (``| head``) ends the run with exit status 1 and
no traceback.
The fastmlp column always uses fastmlp's estimators: if they cannot be
imported, ``python -m fastmlp`` fails at ``import fastmlp``.
"""
import argparse
import contextlib
import csv
import math
import os
import re
import signal
import sys
import threading
import time
import warnings

import numpy as np

PROG = "fastmlp"
EXIT_ERROR = 2
SOLVERS = ("adam", "sgd", "lbfgs", "rmsprop")
TASKS = ("auto", "classification", "regression")
# --task auto: an integer-valued numeric target with at most this many
# distinct values is taken as class labels.
MAX_AUTO_CLASSES = 20
DEFAULT_CV = 5
# Cells that mean "missing": pandas.read_csv's default na_values, "?", and
# any other spelling of NaN (SAS and SPSS write "NAN"; _missing).  A feature
# cell with one is missing (the tabular mode); a target cell with one is an
# error in both modes.
MISSING_CELLS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?",
})
DEFAULT_MAX_ITER_CSV = 200  # scikit-learn's default
DEFAULT_MAX_ITER_DIGITS = 50
DEFAULT_RANDOM_STATE = 0
MAX_RANDOM_STATE = 2**32 - 1   # NumPy's RandomState seeds
N_REPEATS = 3
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_SIZE = 0.25


class CLIError(Exception):
    """An expected failure, reported as one ``fastmlp: error:`` line (exit 2)."""


# ---------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------


def _int(text):
    """int(text) for ASCII digits only (int() reads other scripts' digits
    too, which a CSV cell holds as text: _number)."""
    if not text.isascii():
        raise ValueError(text)
    return int(text)


def _hidden_layer_sizes(text):
    """Parse ``"100,50"`` into ``(100, 50)``."""
    try:
        sizes = tuple(_int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 100,50, got {text!r}"
        )
    return sizes


def _int_at_least(minimum, maximum=None):
    def parse(text):
        try:
            value = _int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be at least {minimum}, got {value}"
            )
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"must be at most {maximum}, got {value}"
            )
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _defaults():
    """The estimators' own defaults the help quotes (each lives with its
    estimator): the drop-in's layers and solver, the tabular recipe's
    layers, epochs and step floor."""
    from fastmlp import MLPClassifier
    from fastmlp._tabular import HIDDEN_LAYER_SIZES, MAX_ITER, MIN_STEPS

    drop_in = MLPClassifier()
    return {"hidden": tuple(drop_in.hidden_layer_sizes), "solver": drop_in.solver,
            "tabular_hidden": HIDDEN_LAYER_SIZES, "tabular_epochs": MAX_ITER,
            "min_steps": MIN_STEPS}


def _sizes(sizes):
    return ",".join(str(s) for s in sizes)


def build_parser():
    defaults = _defaults()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Run as `python -m fastmlp`. Without --csv: fit fastmlp's and "
            "scikit-learn's MLPClassifier on the digits data and print the test "
            "accuracy, fit time and speed-up. With --csv FILE --target COLUMN: "
            "print the cross-validated score on that file of a StandardScaler + "
            "fastmlp MLP pipeline (numeric files), or of fastmlp's tabular "
            "estimator beside HistGradientBoosting (--tabular, and files with "
            "categorical, date, missing or infinite values)."
        ),
    )
    data = parser.add_argument_group("CSV mode")
    data.add_argument(
        "--csv",
        metavar="FILE",
        help="CSV file with a header row; columns numeric or categorical, "
        "with missing values (a file with categories or missing values is "
        "cross-validated as with --tabular)",
    )
    data.add_argument("--target", metavar="COLUMN",
                      help="name of the target column; a row whose target cell is a "
                      "missing marker (empty, NA, None, NULL, ?, n/a, ...) is an error "
                      "(a line whose every cell is empty is left out, and said so)")
    data.add_argument(
        "--tabular",
        action="store_true",
        help="fastmlp's TabularMLPClassifier/Regressor on the columns as written "
        "(categorical and missing values allowed), beside HistGradientBoosting "
        "on the same folds; the default for a file with categorical or missing "
        "values, and for --n-ensemble",
    )
    data.add_argument(
        "--n-ensemble",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="the tabular estimators (implies --tabular): train N networks on "
        "their own held-out rows and "
        "seeds and average them (n_ensemble; default 2; on 2 cores about 0.7 N "
        "times one network's fit time)",
    )
    data.add_argument(
        "--task",
        choices=TASKS,
        default=None,
        help="auto (default): classification when the target is non-numeric "
        f"or integer-valued with at most {MAX_AUTO_CLASSES} distinct values, "
        "else regression",
    )
    data.add_argument(
        "--cv",
        type=_int_at_least(2),
        default=None,
        metavar="K",
        help=f"number of cross-validation folds (default {DEFAULT_CV})",
    )
    model = parser.add_argument_group("model (both modes)")
    model.add_argument(
        "--hidden-layer-sizes",
        type=_hidden_layer_sizes,
        default=None,
        metavar="SIZES",
        help="comma-separated layer widths, e.g. 100,50 (default "
        f"{_sizes(defaults['hidden'])}; with --tabular, the tabular estimator's "
        f"{_sizes(defaults['tabular_hidden'])})",
    )
    model.add_argument(
        "--solver", choices=SOLVERS, default=None,
        help=f"default {defaults['solver']}; not with --tabular (AdamW is its recipe)"
    )
    model.add_argument(
        "--max-iter",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="maximum epochs (iterations for lbfgs); default "
        f"{DEFAULT_MAX_ITER_CSV} with --csv, {DEFAULT_MAX_ITER_DIGITS} for "
        "the digits benchmark; with --tabular, each network's epochs (its "
        f"default {defaults['tabular_epochs']}), more on a small table, whose "
        f"networks train at least {defaults['min_steps']} steps (min_steps)",
    )
    model.add_argument(
        "--random-state",
        type=_int_at_least(0, MAX_RANDOM_STATE),
        default=DEFAULT_RANDOM_STATE,
        metavar="SEED",
        help="seed for the weights, the shuffling and the CV folds "
        f"(default {DEFAULT_RANDOM_STATE})",
    )
    return parser


def main(argv=None):
    """Run the command line; return the exit status (0, or 2 on an error)."""
    try:
        status = _main(argv)
        sys.stdout.flush()   # here, where a reader gone early can be caught
        return status
    except BrokenPipeError:
        # the reader left (python -m fastmlp | head -1): no traceback, and
        # none at exit either, when Python flushes stdout (its docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.csv is None:
            stray = [
                flag
                for flag, value in (
                    ("--target", args.target),
                    ("--task", args.task),
                    ("--cv", args.cv),
                    ("--tabular", args.tabular or None),
                    ("--n-ensemble", args.n_ensemble),
                )
                if value is not None
            ]
            if stray:
                parser.error(f"{', '.join(stray)} need{'s' if len(stray) == 1 else ''} "
                             "--csv FILE")
        elif args.target is None:
            parser.error("--csv needs --target COLUMN")
        elif args.solver is not None and (args.tabular or args.n_ensemble is not None):
            parser.error("--solver does not apply with --tabular: the tabular "
                         "estimators train with AdamW, part of their recipe")
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR

    try:
        with _stopping_on_interrupt():
            if args.csv is None:
                run_digits(args)
            else:
                run_csv(args)
    except CLIError as exc:
        message = " ".join(str(exc).splitlines())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


_interrupted = threading.Event()


def _on_interrupt(signum, frame):
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stopping_on_interrupt():
    """Ctrl-C recorded (``stop_if_interrupted``) as well as raised, for the
    run's duration; the MLP's own note on the fit it cut short is not
    shown.  Only where Python's default handler is in place."""
    _interrupted.clear()
    ours = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    previous = signal.signal(signal.SIGINT, _on_interrupt) if ours else None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Training interrupted by user")
            yield
    finally:
        if ours:
            signal.signal(signal.SIGINT, previous)


def stop_if_interrupted():
    """KeyboardInterrupt if Ctrl-C was pressed during the run (a fit it cut
    short returned)."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


def scorer(metric):
    """scikit-learn's scorer for ``metric``, which first stops the run if
    Ctrl-C cut the fit short (it is called after each fold's fit)."""
    from sklearn.metrics import get_scorer

    score = get_scorer(metric)

    def checked(estimator, X, y):
        stop_if_interrupted()
        return score(estimator, X, y)

    return checked


@contextlib.contextmanager
def user_fits():
    """A fit's failure on the user's data or parameters as ``CLIError``: the
    estimator's ValueError (bad data, a fit that diverges) or a MemoryError
    (a network too large)."""
    try:
        yield
    except MemoryError:
        raise CLIError("out of memory: the network is too large for this machine "
                       "(lower --hidden-layer-sizes)") from None
    except ValueError as exc:
        raise CLIError(f"the fit failed: {exc}") from None


def _model_params(args, max_iter):
    defaults = _defaults()
    return dict(
        hidden_layer_sizes=args.hidden_layer_sizes or defaults["hidden"],
        solver=args.solver or defaults["solver"],
        max_iter=max_iter,
        random_state=args.random_state,
    )


def _format_params(params):
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


# ---------------------------------------------------------------------------
# Digits benchmark
# ---------------------------------------------------------------------------


def run_digits(args):
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import fastmlp
    from fastmlp import MLPClassifier

    params = _model_params(args, args.max_iter or DEFAULT_MAX_ITER_DIGITS)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SPLIT_SEED, stratify=y
    )

    fastmlp_name = f"fastmlp {getattr(fastmlp, '__version__', '')}".strip()
    sklearn_name = f"scikit-learn {sklearn.__version__}"
    contenders = [(fastmlp_name, MLPClassifier)]
    if params["solver"] in ("adam", "sgd", "lbfgs"):
        contenders.append((sklearn_name, SklearnMLPClassifier))

    best_time = {name: math.inf for name, _ in contenders}
    accuracy = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(N_REPEATS):
            for name, estimator in contenders:
                model = make_pipeline(StandardScaler(), estimator(**params))
                start = time.perf_counter()
                with user_fits():
                    model.fit(X_train, y_train)
                best_time[name] = min(best_time[name], time.perf_counter() - start)
                stop_if_interrupted()
                accuracy[name] = model.score(X_test, y_test)

    print("MLPClassifier on the digits data (sklearn.datasets.load_digits)")
    print(
        f"{len(y_train)} training / {len(y_test)} test samples, {X.shape[1]} "
        f"features, {len(np.unique(y))} classes; StandardScaler first"
    )
    print(f"{_format_params(params)}; best of {N_REPEATS} fits each")
    show_config = getattr(fastmlp, "show_config", None)
    if callable(show_config):
        sys.stdout.flush()
        show_config()
        sys.stdout.flush()
    print()
    width = max(len("estimator"), len(fastmlp_name), len(sklearn_name))
    print(f"{'estimator':<{width}}  {'test accuracy':>13}  {'fit time':>10}")
    for name, _ in contenders:
        print(
            f"{name:<{width}}  {accuracy[name]:>13.4f}  {best_time[name]:>8.3f} s"
        )
    if len(contenders) == 1:
        print(f"{sklearn_name:<{width}}  {'n/a':>13}  {'n/a':>10}")
        print(f"speed-up: n/a (scikit-learn has no solver={params['solver']!r})")
    else:
        speedup = best_time[sklearn_name] / best_time[fastmlp_name]
        print(
            f"speed-up: {speedup:.2f}x (scikit-learn fit time / fastmlp fit time)"
        )


# ---------------------------------------------------------------------------
# CSV mode
# ---------------------------------------------------------------------------


def _missing(cell):
    """Whether a stripped cell means "missing" (MISSING_CELLS, or NaN in
    any case: float() reads 'NAN' as NaN, which is fastmlp's missing)."""
    return cell in MISSING_CELLS or cell.lower().lstrip("+-") == "nan"


def _number(cell):
    """The cell's number, or None when it is not one as pandas reads numbers
    (Python's float() also takes '1_000', and other scripts' digits)."""
    if "_" in cell or not cell.isascii():
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _separator_hint(header):
    """A note for a header read as one column that holds another separator."""
    separators = [s for s in (";", "\t", "|") if len(header) == 1 and s in header[0]]
    if not separators:
        return ""
    return f" (its one column holds {separators[0]!r}: fastmlp reads comma-separated files)"


def _show(cell, limit=40):
    """repr() of a CSV cell, shortened for an error message."""
    if len(cell) > limit:
        cell = cell[:limit] + "..."
    return repr(cell)


def read_csv(path):
    """Read a CSV file: return (header, rows, line numbers of the rows).

    Blank lines (nothing but spaces) are skipped, as pandas skips them; a
    line of empty cells (``,,``) is a row here (``load_csv_data`` leaves it
    out, saying so).  The first row is the header.
    Raises CLIError for an unreadable, empty or ragged file.
    """
    header, rows, lines = None, [], []
    line = 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if header is None:
                    header = [name.strip() for name in row]
                    continue
                if len(row) != len(header):
                    raise CLIError(
                        f"{path}, line {line}: {len(row)} fields, but the "
                        f"header has {len(header)} columns{_separator_hint(header)}"
                    )
                rows.append(row)
                lines.append(line)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a directory, not a CSV file") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CLIError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    except csv.Error as exc:
        raise CLIError(f"{path}, line {line + 1}: {exc}") from None
    if header is None:
        raise CLIError(f"{path} is empty")
    return header, rows, lines


def _parse_features(path, header, rows, lines, columns):
    X = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, col in enumerate(columns):
            cell = row[col]
            value = _number(cell.strip())
            if value is None or not math.isfinite(value):
                if not cell.strip():
                    what = "an empty value"
                elif value is None:
                    what = f"the non-numeric value {_show(cell)}"
                else:
                    what = f"the non-finite value {_show(cell)}"
                raise CLIError(
                    f"feature column {header[col]!r} has {what} in row {i + 1} "
                    f"(line {lines[i]} of {path})"
                )
            X[i, j] = value
    return X


def _parse_target(path, name, cells, lines, task):
    """Return (y, task, reason) for the target column's cells."""
    for i, cell in enumerate(cells):
        if _missing(cell):
            what = "an empty value" if not cell else f"the missing value {_show(cell)}"
            raise CLIError(
                f"target column {name!r} has {what} in row {i + 1} "
                f"(line {lines[i]} of {path}); drop or fill in the rows "
                "without a target"
            )
    values, bad = [], None
    for i, cell in enumerate(cells):
        value = _number(cell)
        if value is None:
            bad = i
            break
        if not math.isfinite(value):
            if task != "classification":
                raise CLIError(
                    f"target column {name!r} has the non-finite value "
                    f"{_show(cell)} in row {i + 1} (line {lines[i]} of {path})"
                )
            bad = i
            break
        values.append(value)

    if bad is not None:  # non-numeric labels
        grouped = _grouped_numbers(cells)
        hint = (f": {_show(cells[bad])} looks like a number with thousands separators; "
                "remove them" if grouped else "")
        if task == "regression":
            raise CLIError(
                f"target column {name!r} has the non-numeric value "
                f"{_show(cells[bad])} in row {bad + 1} (line {lines[bad]} of "
                f"{path}); regression needs a numeric target{hint}"
            )
        if task == "auto" and grouped and _auto_task(grouped) == "regression":
            # numbers a spreadsheet wrote with separators: as text, each one
            # would be a class of its own
            raise CLIError(
                f"target column {name!r} reads as text: values such as "
                f"{_show(cells[bad])} look like numbers with thousands separators. "
                "Remove the separators for a numeric target, or give --task "
                "classification to take them as class labels"
            )
        reason = "non-numeric target" if task == "auto" else "--task"
        return np.asarray(cells), "classification", reason

    y = np.asarray(values, dtype=np.float64)
    # integer cells compared as written: past 2**53 distinct labels share a float
    exact = _integers(cells)
    integral = exact is not None or bool(np.all(y == np.round(y)))
    n_unique = len(set(exact)) if exact is not None else len(np.unique(y))
    if task == "auto":
        if _are_class_codes(integral, n_unique):
            task = "classification"
            reason = f"integer target with {n_unique} distinct values"
        else:
            task = "regression"
            reason = (
                f"integer target with {n_unique} > {MAX_AUTO_CLASSES} distinct values"
                if integral
                else "non-integer numeric target"
            )
    else:
        reason = "--task"
    if task == "classification" and not integral:
        # --task classification of fractional codes ('0.5', '2.5'): each
        # value a label (scikit-learn's classifiers refuse float classes),
        # written as the shortest text that reads back as it (-0 as 0, 1.0 as 1)
        y = np.array([str(int(v)) if v.is_integer() else repr(v + 0.0) for v in values])
    elif task == "classification" and integral:
        if exact is None:
            # integral floats ('3.0', '1e19'): int64 labels where they fit
            if np.all(np.abs(y) < 2.0**63):
                y = y.astype(np.int64)
        elif all(-2**63 <= v < 2**63 for v in exact):
            y = np.array(exact, dtype=np.int64)
        else:
            y = np.asarray(cells)   # IDs past int64: the labels as written
    return y, task, reason


# a number with thousands separators: 1,234 or -12,345,678.9
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def _grouped_numbers(cells):
    """The cells' values when every cell is a number, most of them with
    thousands separators (1,234); else None."""
    grouped = [bool(_GROUPED.fullmatch(cell.strip())) for cell in cells]
    values = [_number(cell.replace(",", "") if g else cell) for g, cell in zip(grouped, cells)]
    if any(v is None for v in values) or sum(grouped) * 2 <= len(cells):
        return None
    return values


def _are_class_codes(integral, n_unique):
    """--task auto's rule: a numeric target whose values are integers, at
    most MAX_AUTO_CLASSES distinct, is class codes."""
    return integral and n_unique <= MAX_AUTO_CLASSES


def _auto_task(values):
    """--task auto's choice for a numeric target's values."""
    y = np.asarray(values, dtype=np.float64)
    integral = bool(np.all(y == np.round(y)))
    return "classification" if _are_class_codes(integral, len(np.unique(y))) else "regression"


def _integers(cells):
    """The cells (numbers, _number) as Python ints when every one is an
    integer literal, else None."""
    try:
        return [int(cell) for cell in cells]
    except ValueError:
        return None


def _has_categories_or_gaps(rows, columns):
    """Whether a cell of ``columns`` is a missing marker, not a number (a
    category) or +-inf: such a file needs the tabular estimators (the
    drop-in MLP, as scikit-learn's, takes finite numbers only)."""
    for row in rows:
        for col in columns:
            cell = row[col].strip()
            if _missing(cell):
                return True
            value = _number(cell)
            if value is None or math.isinf(value):
                return True
    return False


def load_csv_data(path, target, task, tabular=False):
    """Read FILE into (X, y, task, description, tabular); CLIError on bad
    input.  ``tabular`` is True when asked, or when a feature cell is a
    category or a missing value; X is then ``(object array, categorical
    mask)`` (see ``_cli_tabular.parse_table``)."""
    header, rows, lines = read_csv(path)
    # a line of empty cells (a spreadsheet's export ends with them) holds no
    # data: left out, and said so in the description
    empty = {i for i, row in enumerate(rows) if not any(cell.strip() for cell in row)}
    skipped = [lines[i] for i in sorted(empty)]
    rows = [row for i, row in enumerate(rows) if i not in empty]
    lines = [line for i, line in enumerate(lines) if i not in empty]
    target = target.strip()   # as the header's names
    matches = [i for i, name in enumerate(header) if name == target]
    if not matches:
        shown = ", ".join(repr(name) for name in header[:30])
        if len(header) > 30:
            shown += f", ... ({len(header) - 30} more)"
        close = [name for name in header if name.lower() == target.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        hint += _separator_hint(header)
        raise CLIError(
            f"{path} has no column {target!r}{hint}; its columns are: {shown}"
        )
    if len(matches) > 1:
        raise CLIError(
            f"{path} has {len(matches)} columns named {target!r}; the target "
            "must be unique"
        )
    t = matches[0]
    features = [i for i in range(len(header)) if i != t]
    if not features:
        raise CLIError(
            f"{path} has no feature columns: {target!r} is its only column"
        )
    if not rows:
        raise CLIError(f"{path} has a header but no data rows")
    # a comma ending every line (a spreadsheet's export) is a column without
    # a name or a value: left out, and said so, where it made the file
    # "have gaps" (the tabular estimators, and --solver refused)
    blank = [i for i in features
             if not header[i].strip() and not any(row[i].strip() for row in rows)]
    features = [i for i in features if i not in blank]
    if not features:
        raise CLIError(
            f"{path} has no feature columns: its columns other than {target!r} have "
            "neither a name nor a value"
        )

    tabular = tabular or _has_categories_or_gaps(rows, features)
    dated = almost = []
    if tabular:
        from fastmlp._cli_tabular import parse_table, read_dates
        X = parse_table(rows, features)
        dated, almost = read_dates(*X)
    else:
        X = _parse_features(path, header, rows, lines, features)
    cells = [row[t].strip() for row in rows]
    y, task, reason = _parse_target(path, target, cells, lines, task)
    if task == "classification":
        classes = np.unique(y)
        if len(classes) < 2:
            raise CLIError(
                f"target column {target!r} has a single value "
                f"({_show(str(classes[0]))}); classification needs at least 2 classes"
            )
        kind = f"classification, {len(classes)} classes"
    else:
        kind = "regression"
    description = (
        f"{path}: {len(rows)} rows, {len(features)} features, target "
        f"{target!r} -> {kind} ({reason})"
    )
    if skipped:
        shown = ", ".join(str(line) for line in skipped[:5]) + (", ..." if len(skipped) > 5
                                                                else "")
        description += (f"; {len(skipped)} line{'s' if len(skipped) > 1 else ''} of empty "
                        f"cells left out (line {shown})")
    if dated:
        names = ", ".join(repr(header[features[j]]) for j in dated[:5]) + (
            ", ..." if len(dated) > 5 else "")
        description += (f"; {len(dated)} column{'s' if len(dated) > 1 else ''} of dates read "
                        f"as days since 1970-01-01 ({names})")
    for j, n_dates, n_values, odd in almost:
        # one stray cell keeps the column's strings categories: said, not silent
        description += (f"; column {header[features[j]]!r} read as categories: {n_dates} of its "
                        f"{n_values} values are ISO dates, but not {_show(odd)}")
    if blank and len(features) < len(header) - 1:
        description += (f"; {len(blank)} column{'s' if len(blank) > 1 else ''} without a "
                        "name or a value left out")
    return X, y, task, description, tabular


def run_csv(args):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastmlp import MLPClassifier, MLPRegressor

    n_folds = args.cv or DEFAULT_CV
    start = time.perf_counter()
    asked = args.tabular or args.n_ensemble is not None
    X, y, task, description, tabular = load_csv_data(
        args.csv, args.target, args.task or "auto", tabular=asked)
    if tabular and not asked:
        if args.solver is not None:
            raise CLIError(
                f"{args.csv} has categorical, date, missing or infinite values, which the "
                "tabular estimators take; --solver does not apply to them (AdamW is their "
                "recipe)")
        print(f"{PROG}: note: {args.csv} has categorical, date, missing or infinite values: "
              "cross-validating the tabular estimators (as with --tabular)", file=sys.stderr)
    n_samples = y.shape[0]
    if n_samples < n_folds:
        raise CLIError(
            f"too few rows for {n_folds}-fold cross-validation: {args.csv} has "
            f"{n_samples} data rows; add rows or lower --cv"
        )

    if task == "regression" and n_samples < 2 * n_folds:
        # a test fold of one row has no R² (scikit-learn scores it NaN)
        raise CLIError(
            f"too few rows for {n_folds}-fold cross-validation of a regression: R\u00b2 "
            f"needs 2 rows in each test fold, and {args.csv} has {n_samples} data rows; "
            "add rows or lower --cv"
        )

    notes = []
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if counts.max() < n_folds:
            raise CLIError(
                f"too few rows for {n_folds}-fold stratified cross-validation: "
                f"no class of {args.target!r} has {n_folds} rows (largest: "
                f"{counts.max()}); add rows or lower --cv"
            )
        if counts.min() < n_folds:
            rare = classes[np.argmin(counts)]
            notes.append(
                f"class {_show(str(rare))} has only {counts.min()} rows, fewer "
                f"than the {n_folds} folds: some folds will not contain it"
            )
        estimator, metric = MLPClassifier, "accuracy"
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=args.random_state)
    else:
        estimator, metric = MLPRegressor, "r2"
        folds = KFold(n_folds, shuffle=True, random_state=args.random_state)

    if tabular:
        from fastmlp import _cli_tabular
        lines, more = _cli_tabular.run(args, *X, y, task, folds, metric)
        print(f"data: {description}")
        print(f"{n_folds}-fold cross-validation, the same folds for both models:")
        for line in lines:
            print(line)
        print(f"total time: {time.perf_counter() - start:.2f} s")
        for note in notes + [m for m in more if "least populated class" not in m
                             or task != "classification"]:
            print(f"{PROG}: warning: {note}", file=sys.stderr)
        return

    params = _model_params(args, args.max_iter or DEFAULT_MAX_ITER_CSV)
    model = make_pipeline(StandardScaler(), estimator(**params))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with user_fits():
            scores = cross_val_score(
                model, X, y, cv=folds, scoring=scorer(metric), error_score="raise"
            )
        stop_if_interrupted()
    elapsed = time.perf_counter() - start

    n_unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    if n_unconverged:
        notes.append(
            f"the solver stopped at max_iter={params['max_iter']} before "
            f"converging in {n_unconverged} of {n_folds} fits (raise --max-iter)"
        )
    if task == "regression" and scores.mean() < 0 and not (
            0.1 <= y.std() <= 10 and abs(y.mean()) <= 10):
        # a target far from unit scale (scikit-learn's MLPRegressor does not
        # scale it either): the real-table sweep's numbers-only files gave
        # R^2 down to -1461 here and 0.98 with --tabular; a target near unit
        # scale scoring below 0 has another cause, which this would misname
        notes.append(
            f"R\u00b2 below 0: the model predicts worse than the target's mean. "
            f"{estimator.__name__} trains on the target as it is (mean {y.mean():.4g}, "
            f"standard deviation {y.std():.4g}), as scikit-learn's does: --tabular "
            "standardizes it")
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            continue
        message = " ".join(str(w.message).split())
        if (
            w.category is UserWarning
            and "least populated class" in message
            and task == "classification"
        ):
            continue  # reported above in our own words
        if message not in notes:
            notes.append(message)

    label = "accuracy" if metric == "accuracy" else "R\u00b2"
    print(f"data: {description}")
    print(f"model: StandardScaler + fastmlp {estimator.__name__}({_format_params(params)})")
    print(
        f"{n_folds}-fold cross-validated {label}: {scores.mean():.4f} "
        f"\u00b1 {scores.std():.4f}"
    )
    print("fold scores: " + " ".join(f"{s:.4f}" for s in scores))
    print(f"total time: {elapsed:.2f} s")
    for note in notes:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
