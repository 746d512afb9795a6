"""Tests for the command line, ``python -m fastmlp`` (fastmlp/_cli.py).

Most tests call ``main([...])`` in-process and read the output with capsys;
a few run the real ``python -m fastmlp`` in a subprocess.  Every fit uses a
small --max-iter so that the whole file runs in seconds.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone

from fastmlp._cli import main

import _checkout


def run_module(*args):
    """Run ``python -m fastmlp ARGS`` with this checkout first on the path
    when it is what is being tested (else the installed fastmlp:
    ``_checkout``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = _checkout.pythonpath(env)
    return subprocess.run(
        [sys.executable, "-m", "fastmlp", *args],
        cwd=_checkout.cwd(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def classification_csv(tmp_path):
    """60 rows, 3 features, string labels separable by the first feature."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    rows = [[f"{a:.5f}", f"{b:.5f}", label, f"{c:.5f}"] for (a, b, c), label in zip(X, labels)]
    return write_csv(tmp_path / "cls.csv", ["x0", "x1", "label", "x2"], rows)


@pytest.fixture
def regression_csv(tmp_path):
    """80 rows, 2 features, a smooth real-valued target."""
    rng = np.random.RandomState(1)
    X = rng.uniform(-1, 1, size=(80, 2))
    y = 1.5 * X[:, 0] - X[:, 1] + 0.01 * rng.normal(size=80)
    rows = [[f"{a:.5f}", f"{b:.5f}", f"{t:.5f}"] for (a, b), t in zip(X, y)]
    return write_csv(tmp_path / "reg.csv", ["a", "b", "y"], rows)


def assert_one_line_error(rc, err, *fragments):
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastmlp: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


# --- the digits benchmark (no --csv) ----------------------------------------


def test_digits_benchmark_in_process(capsys):
    assert main(["--max-iter", "3"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert "digits" in out
    assert "max_iter=3" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("estimator "))
    rows = lines[header + 1 : header + 3]
    assert rows[0].startswith("fastmlp") and rows[1].startswith("scikit-learn"), out
    for row in rows:
        accuracy, seconds = row.split()[-3:-1]
        assert 0.0 <= float(accuracy) <= 1.0
        assert float(seconds) > 0
    # 3 epochs of adam on standardized digits already beat chance (0.1) easily.
    assert float(rows[0].split()[-3]) > 0.3
    assert "speed-up: " in out and "x (scikit-learn fit time / fastmlp fit time)" in out


def test_digits_benchmark_prints_config_when_available(capsys):
    import fastmlp

    if not callable(getattr(fastmlp, "show_config", None)):
        pytest.skip("fastmlp has no show_config")
    fastmlp.show_config()
    config = capsys.readouterr().out.strip()
    assert main(["--max-iter", "1"]) == 0
    assert config in capsys.readouterr().out


def test_digits_benchmark_rmsprop_has_no_sklearn_column(capsys):
    assert main(["--max-iter", "2", "--solver", "rmsprop"]) == 0
    out = capsys.readouterr().out
    assert "solver='rmsprop'" in out
    assert "speed-up: n/a" in out


def test_digits_benchmark_subprocess():
    proc = run_module("--max-iter", "2", "--hidden-layer-sizes", "20")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "test accuracy" in proc.stdout
    assert "speed-up: " in proc.stdout
    assert "hidden_layer_sizes=(20,)" in proc.stdout


# --- CSV mode ---------------------------------------------------------------


def test_csv_classification(classification_csv, capsys):
    rc = main(["--csv", classification_csv, "--target", "label", "--max-iter", "30",
               "--cv", "3", "--hidden-layer-sizes", "10,5"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Traceback" not in err
    assert "classification, 2 classes (non-numeric target)" in out
    assert "MLPClassifier(hidden_layer_sizes=(10, 5)" in out
    line = next(l for l in out.splitlines() if "cross-validated accuracy" in l)
    mean, std = line.split(": ")[1].split(" \u00b1 ")
    assert 0.5 < float(mean) <= 1.0 and float(std) >= 0
    assert "total time: " in out


def test_csv_regression(regression_csv, capsys):
    rc = main(["--csv", regression_csv, "--target", "y", "--max-iter", "50",
               "--solver", "lbfgs", "--cv", "4"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "regression (non-integer numeric target)" in out
    line = next(l for l in out.splitlines() if "4-fold cross-validated R\u00b2" in l)
    mean = float(line.split(": ")[1].split(" \u00b1 ")[0])
    assert mean > 0.5  # lbfgs fits a near-linear target well in 50 iterations
    assert "total time: " in out


def test_csv_subprocess(regression_csv):
    proc = run_module("--csv", regression_csv, "--target", "y", "--max-iter", "5")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "5-fold cross-validated R\u00b2: " in proc.stdout
    # 5 adam epochs do not converge: one summary warning, not one per fold.
    assert proc.stderr.count("fastmlp: warning: the solver stopped") == 1


def test_csv_auto_task_integer_labels(tmp_path, capsys):
    rows = [[i % 7, (i * 3) % 5, i % 3] for i in range(30)]
    path = write_csv(tmp_path / "int.csv", ["u", "v", "k"], rows)
    assert main(["--csv", path, "--target", "k", "--max-iter", "2", "--cv", "3"]) == 0
    out = capsys.readouterr().out
    assert "classification, 3 classes (integer target with 3 distinct values)" in out
    assert "cross-validated accuracy" in out
    # the same column, forced to regression
    assert main(["--csv", path, "--target", "k", "--max-iter", "2", "--cv", "3",
                 "--task", "regression"]) == 0
    assert "cross-validated R\u00b2" in capsys.readouterr().out


def test_csv_auto_task_many_integers_is_regression(tmp_path, capsys):
    rows = [[i, i % 4, 3 * i] for i in range(40)]
    path = write_csv(tmp_path / "many.csv", ["a", "b", "t"], rows)
    assert main(["--csv", path, "--target", "t", "--max-iter", "2", "--cv", "2"]) == 0
    assert "regression (integer target with 40 > 20 distinct values)" in capsys.readouterr().out


# --- errors: one line on stderr, exit status 2, no traceback ---------------


def check_error(capsys, argv, *fragments):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert_one_line_error(rc, err, *fragments)
    assert "cross-validated" not in out


def test_error_missing_file(tmp_path, capsys):
    missing = str(tmp_path / "nope.csv")
    check_error(capsys, ["--csv", missing, "--target", "y"], missing, "no such file")


def test_error_directory(tmp_path, capsys):
    check_error(capsys, ["--csv", str(tmp_path), "--target", "y"], "directory")


def test_error_missing_target_lists_columns(classification_csv, capsys):
    check_error(capsys, ["--csv", classification_csv, "--target", "species"],
                "no column 'species'", "'x0', 'x1', 'label', 'x2'")


def test_error_missing_target_suggests_other_case(classification_csv, capsys):
    check_error(capsys, ["--csv", classification_csv, "--target", "Label"],
                "did you mean 'label'?")


@pytest.mark.parametrize("odd_cell", ["abc", "", "nan", "NA", "inf", "-inf"])
def test_a_category_a_gap_or_infinity_takes_the_tabular_estimators(tmp_path, capsys, odd_cell):
    # issue #16: `python -m fastmlp --csv FILE --target COLUMN` on a real
    # file with categorical or missing values (it used to refuse the file);
    # +-inf too, which the drop-in MLP refuses (as scikit-learn's) and the
    # tabular estimators and HistGradientBoosting take
    rows = [[f"{i / 3:.3f}", f"{(i * 7) % 5}.5", i % 2] for i in range(24)]
    rows[3][1] = odd_cell
    path = write_csv(tmp_path / "odd.csv", ["f1", "f2", "y"], rows)
    assert main(["--csv", path, "--target", "y", "--cv", "2", "--max-iter", "3"]) == 0
    captured = capsys.readouterr()
    assert "cross-validating the tabular estimators (as with --tabular)" in captured.err
    assert "TabularMLPClassifier: accuracy" in captured.out
    assert "HistGradientBoosting: accuracy" in captured.out
    # --solver belongs to the drop-in: said, not ignored
    rc = main(["--csv", path, "--target", "y", "--cv", "2", "--solver", "sgd"])
    assert_one_line_error(rc, capsys.readouterr().err,
                          "categorical, date, missing or infinite values",
                          "--solver does not apply")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_error_empty_file(tmp_path, capsys, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    check_error(capsys, ["--csv", str(path), "--target", "y"], "is empty")


def test_error_header_only(tmp_path, capsys):
    path = tmp_path / "header.csv"
    path.write_text("a,b,y\n")
    check_error(capsys, ["--csv", str(path), "--target", "y"], "no data rows")


def test_error_too_few_rows_for_cv(tmp_path, capsys):
    path = write_csv(tmp_path / "small.csv", ["a", "y"], [[1, 0.5], [2, 1.5], [3, 2.5]])
    check_error(capsys, ["--csv", path, "--target", "y", "--cv", "5"],
                "too few rows", "3 data rows", "5-fold")


def test_error_too_few_rows_per_class(tmp_path, capsys):
    rows = [[i, "ab"[i % 2]] for i in range(6)]  # 3 rows per class
    path = write_csv(tmp_path / "cls_small.csv", ["a", "y"], rows)
    check_error(capsys, ["--csv", path, "--target", "y", "--cv", "4"], "too few rows")


def test_error_ragged_row(tmp_path, capsys):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,y\n1,2,3\n4,5\n")
    check_error(capsys, ["--csv", str(path), "--target", "y"], "line 3", "2 fields")


def test_error_single_class(tmp_path, capsys):
    path = write_csv(tmp_path / "one.csv", ["a", "y"], [[i, "k"] for i in range(10)])
    check_error(capsys, ["--csv", path, "--target", "y"], "at least 2 classes")


def test_error_regression_on_text_target(classification_csv, capsys):
    check_error(capsys, ["--csv", classification_csv, "--target", "label",
                         "--task", "regression"], "non-numeric", "row 1")


def test_error_only_target_column(tmp_path, capsys):
    path = write_csv(tmp_path / "only.csv", ["y"], [[i] for i in range(10)])
    check_error(capsys, ["--csv", path, "--target", "y"], "no feature columns")


def test_error_subprocess_has_no_traceback(tmp_path):
    proc = run_module("--csv", str(tmp_path / "missing.csv"), "--target", "y")
    assert proc.stdout == ""
    assert_one_line_error(proc.returncode, proc.stderr, "no such file")


# --- argparse usage errors keep exit status 2 ------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--solver", "newton"],
        ["--cv", "1", "--csv", "x.csv", "--target", "y"],
        ["--hidden-layer-sizes", "10,zero"],
        ["--max-iter", "0"],
        ["--csv", "x.csv"],  # no --target
        ["--target", "y"],  # no --csv
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "fastmlp: error: " in err
    assert "Traceback" not in err


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--hidden-layer-sizes" in capsys.readouterr().out


@pytest.fixture
def mixed_csv(tmp_path):
    """120 rows: a numeric column with missing cells, a categorical one with
    missing cells and rare categories, a numeric one; a string label."""
    rng = np.random.RandomState(2)
    x = rng.normal(size=120)
    colour = rng.choice(["red", "green", "blue", "mauve", ""], size=120, p=[.3, .3, .3, .05, .05])
    y = np.where((x > 0) ^ (colour == "red"), "yes", "no")
    rows = [["NA" if i % 10 == 0 else f"{v:.4f}", c, f"{rng.normal():.4f}", t]
            for i, (v, c, t) in enumerate(zip(x, colour, y))]
    return write_csv(tmp_path / "mixed.csv", ["x", "colour", "noise", "label"], rows)


def test_csv_tabular_takes_categories_and_missing_values(mixed_csv, capsys):
    assert main(["--csv", mixed_csv, "--target", "label", "--tabular", "--cv", "3",
                 "--max-iter", "30"]) == 0
    out = capsys.readouterr().out
    assert "3 features" in out and "classification, 2 classes" in out
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    for name in ("TabularMLPClassifier", "HistGradientBoosting"):
        scores = lines[name].split("folds: ")[1].split(")")[0].split()
        assert len(scores) == 3 and all(0.4 <= float(s) <= 1 for s in scores), lines[name]
    # without --tabular the same file takes the same path, and says so
    assert main(["--csv", mixed_csv, "--target", "label", "--cv", "3",
                 "--max-iter", "30"]) == 0
    again = capsys.readouterr()
    assert "as with --tabular" in again.err
    scores = [[line.split(", fit")[0] for line in text.splitlines()[:4]]
              for text in (again.out, out)]
    assert scores[0] == scores[1]   # the same scores; the times differ


def test_csv_tabular_regression(regression_csv, capsys):
    assert main(["--csv", regression_csv, "--target", "y", "--tabular", "--cv", "2",
                 "--max-iter", "20"]) == 0
    out = capsys.readouterr().out
    assert "TabularMLPRegressor: R\u00b2" in out and "HistGradientBoosting: R\u00b2" in out


def test_csv_tabular_keeps_infinity(tmp_path):
    # both models rank +-inf past every finite value (it was an error)
    from fastmlp._cli import read_csv
    from fastmlp._cli_tabular import parse_table

    path = write_csv(tmp_path / "inf.csv", ["a", "y"],
                     [[f"{i}", i % 2] for i in range(19)] + [["-inf", 1]])
    _, cells, _ = read_csv(path)
    X, categorical = parse_table(cells, [0])
    assert not categorical[0] and X[19, 0] == -np.inf



def test_csv_tabular_reads_iso_dates_as_days(tmp_path, capsys):
    # as strings each date was a category of its own: a target that follows
    # the date was unlearnable (R^2 0.16 for both models; now 0.96)
    from fastmlp._cli import read_csv
    from fastmlp._cli_tabular import parse_table, read_dates

    rows = [["2024-03-01", "x", 1], ["1970-01-02 12:00", "y", 0], ["NA", "x", 1],
            ["1970-01-01T06:00:00+06:00", "y", 0], ["2024-02-29", "x", 1],
            # a leap second and the end of a day (which datetime refuses), a week date
            ["1970-01-01T23:59:60Z", "x", 0], ["1970-01-01T24:00", "y", 1],
            ["1970-W01-4", "x", 0]]
    path = write_csv(tmp_path / "dates.csv", ["when", "kind", "y"], rows)
    _, cells, _ = read_csv(path)
    X, categorical = parse_table(cells, [0, 1])
    assert read_dates(X, categorical) == ([0], [])
    np.testing.assert_array_equal(X[:, 0].astype(float),
                                  [19783.0, 1.5, np.nan, 0.0, 19782.0, 1.0, 1.0, 0.0])
    assert categorical.tolist() == [False, True]   # "x" and "y" stay categories
    # not all dates (or an impossible one): categories, as before, and said
    # when at least half the values are dates
    for odd in ("2024-02-30", "March 1", "2024-03-01x", "1970-01-01T24:30"):
        path = write_csv(tmp_path / "odd.csv", ["when", "y"], [["2024-03-01", 0], [odd, 1]])
        _, cells, _ = read_csv(path)
        X, categorical = parse_table(cells, [0])
        assert read_dates(X, categorical) == ([], [(0, 1, 2, odd)]) and categorical[0]
    lines = [[f"2024-03-{d:02d}", d % 2] for d in range(1, 29)] + [["soon", 1]]
    path = write_csv(tmp_path / "almost.csv", ["when", "y"], lines)
    assert main(["--csv", path, "--target", "y", "--cv", "2", "--max-iter", "5"]) == 0
    assert ("column 'when' read as categories: 28 of its 29 values are ISO dates, but not "
            "'soon'") in capsys.readouterr().out
    rng = np.random.RandomState(0)
    days = rng.randint(0, 2000, 300)
    lines = [[str(np.datetime64("2015-01-01") + d), f"{np.sin(d / 200) * 3:.4f}"] for d in days]
    path = write_csv(tmp_path / "trend.csv", ["date", "y"], lines)
    assert main(["--csv", path, "--target", "y", "--cv", "2", "--max-iter", "20"]) == 0
    out = capsys.readouterr().out
    assert "1 column of dates read as days since 1970-01-01 ('date')" in out
    r2 = float(re.search(r"TabularMLPRegressor: R\u00b2 (-?[0-9.]+)", out).group(1))
    assert r2 > 0.8, out



def test_csv_regression_below_zero_points_at_the_target_scale(tmp_path, capsys):
    # the drop-in (as scikit-learn's) trains on the target as it is: a file
    # whose target is ~5000 +- 800 scored R^2 -39 with "raise --max-iter"
    # as the only hint; --tabular, which standardizes it, scores 0.99
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = 5000 + 800 * X[:, 0] + rng.normal(size=300)
    path = write_csv(tmp_path / "big.csv", ["a", "b", "c", "y"],
                     [[f"{v:.5f}" for v in row] for row in np.c_[X, y]])
    assert main(["--csv", path, "--target", "y", "--cv", "2"]) == 0
    captured = capsys.readouterr()
    score = float(re.search(r"cross-validated R\u00b2: (-?[0-9.]+)", captured.out).group(1))
    assert score < 0
    assert ("R\u00b2 below 0" in captured.err and "standard deviation 804" in captured.err
            and "--tabular standardizes it" in captured.err)
    # noise near unit scale scores below 0 too, and its scale is not why
    path = write_csv(tmp_path / "noise.csv", ["a", "b", "c", "y"],
                     [[f"{v:.5f}" for v in row] for row in rng.normal(size=(300, 4))])
    assert main(["--csv", path, "--target", "y", "--cv", "2"]) == 0
    captured = capsys.readouterr()
    assert float(re.search(r"cross-validated R\u00b2: (-?[0-9.]+)", captured.out).group(1)) < 0
    assert "R\u00b2 below 0" not in captured.err


def test_tabular_needs_csv(capsys):
    assert main(["--tabular"]) == 2
    assert "--tabular needs --csv" in capsys.readouterr().err


def test_csv_tabular_n_ensemble(mixed_csv, capsys, monkeypatch):
    from fastmlp import TabularMLPClassifier

    seen = []
    real_fit = TabularMLPClassifier.fit

    def fit(self, X, y):
        seen.append(self.n_ensemble)
        return real_fit(self, X, y)

    monkeypatch.setattr(TabularMLPClassifier, "fit", fit)
    assert main(["--csv", mixed_csv, "--target", "label", "--tabular", "--cv", "2",
                 "--max-iter", "10", "--n-ensemble", "3"]) == 0
    assert seen == [3, 3]  # each fold's estimator (the default is 2)
    assert "TabularMLPClassifier: accuracy" in capsys.readouterr().out
    # --n-ensemble implies --tabular
    assert main(["--csv", mixed_csv, "--target", "label", "--cv", "2", "--max-iter", "10",
                 "--n-ensemble", "3"]) == 0
    assert seen == [3, 3, 3, 3]
    capsys.readouterr()
    assert main(["--n-ensemble", "2"]) == 2
    assert "--n-ensemble needs --csv" in capsys.readouterr().err
    assert main(["--csv", mixed_csv, "--target", "label", "--tabular", "--n-ensemble", "0"]) == 2
    assert "--n-ensemble" in capsys.readouterr().err


@pytest.mark.parametrize("tabular", [False, True])
@pytest.mark.parametrize("marker", ["NA", "?", "NULL", "n/a", ""])
def test_a_missing_target_is_an_error_not_a_class(tmp_path, capsys, tabular, marker):
    # 'NA' in a numeric target made it 53 string classes: a regression
    # silently became a classification
    rng = np.random.RandomState(0)
    rows = [[f"{v:.3f}", marker if i == 7 else f"{3 * v:.2f}"]
            for i, v in enumerate(rng.normal(size=40))]
    path = write_csv(tmp_path / "t.csv", ["x", "price"], rows)
    rc = main(["--csv", path, "--target", "price", "--max-iter", "3", "--cv", "2"]
              + (["--tabular"] if tabular else []))
    what = "an empty value" if not marker else f"the missing value {marker!r}"
    assert_one_line_error(rc, capsys.readouterr().err, "target column 'price'", what,
                          "row 8")


@pytest.mark.parametrize("marker", ["n/a", "#N/A", "<NA>", "-nan", "NULL"])
def test_tabular_reads_pandas_missing_markers_as_missing(tmp_path, marker):
    # a numeric column with one of pandas' markers stayed numeric only for NA
    from fastmlp._cli_tabular import parse_table

    header, rows = ["x", "y"], [[marker if i % 5 == 0 else f"{i}.5", i % 2] for i in range(20)]
    path = write_csv(tmp_path / "m.csv", header, rows)
    from fastmlp._cli import read_csv

    _, cells, _ = read_csv(path)
    X, categorical = parse_table(cells, [0])
    assert not categorical[0]
    assert np.isnan(X[::5, 0].astype(float)).all() and not np.isnan(X[1, 0])


def test_tabular_leaves_a_column_without_values_out_of_histgb(tmp_path, capsys):
    # an Excel export's trailing comma is a column of empty cells, which
    # HistGradientBoosting cannot bin: it crashed with a traceback
    rng = np.random.RandomState(0)
    # (a named one: an unnamed one is left out of the file's columns)
    lines = ["x,z,y,notes"] + [f"{a:.3f},{b:.3f},{int(a > 0)}," for a, b in rng.normal(size=(60, 2))]
    path = tmp_path / "trailing.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(["--csv", str(path), "--target", "y", "--tabular", "--cv", "3",
                 "--max-iter", "5"]) == 0
    captured = capsys.readouterr()
    assert "TabularMLPClassifier: accuracy" in captured.out
    assert "HistGradientBoosting: accuracy" in captured.out
    assert "fastmlp: warning: 1 column(s) without any value left out" in captured.err


def test_tabular_takes_hidden_layer_sizes_and_refuses_solver(mixed_csv, capsys, monkeypatch):
    from fastmlp import TabularMLPClassifier

    seen = []
    real_fit = TabularMLPClassifier.fit

    def fit(self, X, y, sample_weight=None):
        seen.append(self.hidden_layer_sizes)
        return real_fit(self, X, y, sample_weight)

    monkeypatch.setattr(TabularMLPClassifier, "fit", fit)
    assert main(["--csv", mixed_csv, "--target", "label", "--tabular", "--cv", "2",
                 "--max-iter", "5", "--hidden-layer-sizes", "7,3"]) == 0
    assert seen == [(7, 3), (7, 3)]
    capsys.readouterr()
    assert main(["--csv", mixed_csv, "--target", "label", "--tabular",
                 "--solver", "lbfgs"]) == 2
    assert "--solver does not apply with --tabular" in capsys.readouterr().err


def test_tabular_reports_warnings_in_its_own_words(mixed_csv, capsys):
    # 3 folds of a 2-class table with a class of 2 rows: scikit-learn warns
    rows = [line.split(",") for line in open(mixed_csv).read().splitlines()]
    rows[1][-1] = rows[2][-1] = "rare"
    path = mixed_csv.replace("mixed.csv", "rare.csv")
    with open(path, "w") as f:
        f.write("\n".join(",".join(r) for r in rows) + "\n")
    # a subprocess: pytest would catch Python's own warning output
    proc = run_module("--csv", path, "--target", "label", "--tabular", "--cv", "3",
                      "--max-iter", "5")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "UserWarning" not in proc.stderr
    assert ".py:" not in proc.stderr, proc.stderr
    assert "fastmlp: warning: class 'rare' has only 2 rows" in proc.stderr


def test_error_one_column_header_with_semicolons_says_so(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    path.write_text("x1;x2;y\n1;2;0\n3;4;1\n")
    rc = main(["--csv", str(path), "--target", "y"])
    assert_one_line_error(rc, capsys.readouterr().err, "has no column 'y'",
                          "its one column holds ';': fastmlp reads comma-separated files")


def test_tabular_passes_the_models_warnings_on_as_its_own_lines(mixed_csv, capsys, monkeypatch):
    # a warning raised inside a model's cross-validation comes out as one
    # 'fastmlp: warning: <model>: ...' line, once however many folds raise it
    import warnings as _warnings

    from fastmlp import TabularMLPClassifier

    real_fit = TabularMLPClassifier.fit

    def fit(self, X, y, sample_weight=None):
        _warnings.warn("a  made-up\nwarning", UserWarning)
        return real_fit(self, X, y, sample_weight)

    monkeypatch.setattr(TabularMLPClassifier, "fit", fit)
    assert main(["--csv", mixed_csv, "--target", "label", "--tabular", "--cv", "2",
                 "--max-iter", "3"]) == 0
    err = capsys.readouterr().err
    assert err.count("fastmlp: warning: TabularMLPClassifier: a made-up warning") == 1, err


def test_tabular_histgb_runs_on_the_cpus_other_tasks_leave_free(mixed_csv, capsys,
                                                                  monkeypatch):
    # HistGradientBoosting's OpenMP team spins at its barriers: beside busy
    # processes on 2 cores a fold took 18-128 s where one thread took 0.4 s.
    # Each fold now reads the free CPUs (here: patched to 1 of a team of 2)
    from threadpoolctl import threadpool_info

    from fastmlp import _cli_tabular, _openmp, _pacing

    argv = ["--csv", mixed_csv, "--target", "label", "--tabular", "--cv", "3",
            "--max-iter", "5"]
    assert main(argv) == 0
    before = capsys.readouterr()
    seen = []
    real_histgb = _cli_tabular._histgb

    class Recording(BaseEstimator):
        def __init__(self, model=None):
            self.model = model

        def fit(self, X, y):
            seen.append({i["num_threads"] for i in threadpool_info()
                         if i["user_api"] == "openmp"})
            self.model_ = clone(self.model).fit(X, y)
            return self

        def predict(self, X):
            return self.model_.predict(X)

    monkeypatch.setattr(_cli_tabular, "_histgb", lambda *a: Recording(real_histgb(*a)))
    monkeypatch.setattr(_openmp, "effective_n_threads", lambda n=None: 2)
    monkeypatch.setattr(_pacing, "team_for_load", lambda team, tuning=None: 1)
    assert main(argv) == 0
    after = capsys.readouterr()
    assert seen == [{1}] * 3
    line = [ln for ln in after.out.splitlines() if ln.startswith("HistGradientBoosting")]
    assert line[0].endswith("(fewer threads in 3 of 3 folds: other tasks held the CPUs)")
    assert "fewer threads" not in after.err
    want = [ln for ln in before.out.splitlines() if ln.startswith("HistGradientBoosting")]
    assert line[0].split(", fit")[0] == want[0].split(", fit")[0]   # the same scores


def test_error_a_european_csv_says_its_separator(tmp_path, capsys):
    # ';' between fields and ',' in the numbers: the decimal commas split
    # rows into more fields than the one-column header before the target
    # is looked up
    path = tmp_path / "euro.csv"
    path.write_text("x1;x2;y\n1,5;2,25;0\n3,5;4,75;1\n")
    rc = main(["--csv", str(path), "--target", "y"])
    assert_one_line_error(rc, capsys.readouterr().err, "line 2", "3 fields",
                          "its one column holds ';': fastmlp reads comma-separated files")


@pytest.mark.parametrize("cell", ["NAN", "Nan", "-NAN"])
def test_any_spelling_of_nan_is_a_missing_value(tmp_path, capsys, cell):
    # SAS and SPSS write NAN: float() reads it as NaN, which ended the run
    # as "the non-finite value 'NAN'"
    rng = np.random.RandomState(0)
    rows = [[f"{a:.3f}", cell if i % 10 == 0 else f"{b:.3f}", i % 2]
            for i, (a, b) in enumerate(rng.normal(size=(40, 2)))]
    path = write_csv(tmp_path / "nan.csv", ["x1", "x2", "y"], rows)
    assert main(["--csv", path, "--target", "y", "--cv", "2", "--max-iter", "3"]) == 0
    captured = capsys.readouterr()
    assert "cross-validating the tabular estimators" in captured.err
    assert "TabularMLPClassifier: accuracy" in captured.out
    from fastmlp._cli import read_csv
    from fastmlp._cli_tabular import parse_table

    _, cells, _ = read_csv(path)
    X, categorical = parse_table(cells, [1])
    assert not categorical[0] and np.isnan(X[::10, 0].astype(float)).all()
    # in the target it is a missing target, said as such
    rows[5][2] = cell
    path = write_csv(tmp_path / "nan_target.csv", ["x1", "x2", "y"], rows)
    check_error(capsys, ["--csv", path, "--target", "y", "--cv", "2"],
                "target column 'y'", f"the missing value {cell!r}", "row 6")


def test_a_number_with_underscores_is_text_as_pandas_reads_it(tmp_path):
    # Python's float() reads '1_000' as 1000; pandas keeps the string
    from fastmlp._cli import _number, read_csv
    from fastmlp._cli_tabular import parse_table

    assert _number("1_000") is None and _number(" 2.5 ".strip()) == 2.5
    path = write_csv(tmp_path / "u.csv", ["x", "y"], [["1_000", 0], ["2", 1]] * 5)
    _, cells, _ = read_csv(path)
    assert parse_table(cells, [0])[1][0]   # categorical


@pytest.mark.parametrize("cell", ["0.\u0662\u0663", "\u0968", "\uff11"])
def test_digits_of_other_scripts_are_text_as_pandas_reads_them(cell):
    # float() reads Arabic-Indic, Devanagari and full-width digits
    from fastmlp._cli import _number

    assert float(cell) > 0 and _number(cell) is None


def test_integer_labels_past_2_to_the_53_stay_apart(tmp_path, capsys):
    # parsed as floats, 9007199254740993 and ...992 were one class; past
    # int64 every label became -2**63, a single class
    big = [9007199254740993, 9007199254740992, 5]
    huge = [10**19, 2 * 10**19, 3 * 10**19]
    for labels, expected in ((big, np.array(big, dtype=np.int64)), (huge, None)):
        rows = [[f"{i / 7:.3f}", labels[i % 3]] for i in range(30)]
        path = write_csv(tmp_path / "big.csv", ["x", "k"], rows)
        assert main(["--csv", path, "--target", "k", "--max-iter", "2", "--cv", "2"]) == 0
        captured = capsys.readouterr()
        assert "classification, 3 classes (integer target with 3 distinct values)" in \
            captured.out, captured
        from fastmlp._cli import load_csv_data

        y = load_csv_data(path, "k", "auto")[1]
        assert len(np.unique(y)) == 3
        if expected is not None:
            np.testing.assert_array_equal(np.unique(y), np.sort(expected))
        else:   # past int64: the labels as written
            assert set(y) == {str(v) for v in huge}
    # integral floats past int64 stay floats, apart
    rows = [[f"{i / 7:.3f}", ["1e19", "2e19", "3e19"][i % 3]] for i in range(30)]
    path = write_csv(tmp_path / "e.csv", ["x", "k"], rows)
    from fastmlp._cli import load_csv_data

    y = load_csv_data(path, "k", "classification")[1]
    np.testing.assert_array_equal(np.unique(y), [1e19, 2e19, 3e19])


@pytest.mark.parametrize("tabular", [False, True])
def test_error_a_regression_needs_two_rows_in_each_test_fold(tmp_path, capsys, tabular):
    # 7 rows in 5 folds: test folds of one row, whose R² is NaN
    rows = [[i / 7, (i * 3) % 7 + 0.5] for i in range(7)]
    path = write_csv(tmp_path / "seven.csv", ["x", "y"], rows)
    check_error(capsys, ["--csv", path, "--target", "y", "--max-iter", "2"]
                + (["--tabular"] if tabular else []),
                "5-fold cross-validation of a regression", "2 rows in each test fold",
                "7 data rows")
    assert main(["--csv", path, "--target", "y", "--max-iter", "2", "--cv", "3"]) == 0


def test_the_target_name_is_stripped_as_the_headers(classification_csv, capsys):
    assert main(["--csv", classification_csv, "--target", " label ", "--max-iter", "2",
                 "--cv", "2"]) == 0
    assert "target 'label'" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["digits", "csv"])
def test_ctrl_c_stops_the_run_after_the_fit_it_cut_short(mode, classification_csv, capsys,
                                                         monkeypatch):
    # the MLP (as scikit-learn's) ends the fit Ctrl-C cuts short and returns;
    # the run went on to the next fit or fold, so it took one Ctrl-C per fit
    # and then printed the cut-short fits' scores with status 0
    import signal

    from fastmlp import MLPClassifier

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("Ctrl-C is not Python's default here")
    fits = []
    real_fit = MLPClassifier.fit

    def fit(self, X, y, **kw):
        fits.append(len(fits))
        # Ctrl-C at the end of the first epoch, inside the training loop
        self.set_params(callbacks=lambda est, history: os.kill(os.getpid(), signal.SIGINT))
        return real_fit(self, X, y, **kw)

    monkeypatch.setattr(MLPClassifier, "fit", fit)
    argv = (["--max-iter", "5"] if mode == "digits" else
            ["--csv", classification_csv, "--target", "label", "--cv", "3", "--max-iter", "5"])
    assert main(argv) == 130
    assert fits == [0]
    captured = capsys.readouterr()
    assert captured.err.strip() == "fastmlp: interrupted" and captured.out == ""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_fit_that_fails_on_the_data_is_one_line(tmp_path, capsys):
    # the fit's ValueError (here: a regression whose targets sgd cannot
    # follow) was a traceback, behind an AttributeError from the pipeline
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    rows = [[f"{a:.5f}", f"{b:.5f}", f"{c:.5f}", f"{a * 1e200:.5e}"] for a, b, c in X]
    path = write_csv(tmp_path / "huge.csv", ["a", "b", "c", "y"], rows)
    assert main(["--csv", path, "--target", "y", "--solver", "sgd", "--max-iter", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastmlp: error: the fit failed: Solver produced non-finite")
    assert len(err.strip().splitlines()) == 1


def test_random_state_is_within_numpys_seeds(capsys):
    assert main(["--random-state", str(2**32), "--max-iter", "1"]) == 2
    assert "--random-state: must be at most 4294967295, got 4294967296" in capsys.readouterr().err


def test_lines_of_empty_cells_are_left_out_and_said_so(tmp_path, capsys):
    # ',,' lines (a spreadsheet export ends with them) were skipped without a
    # word; they hold no data, so they stay out, and the description says so
    rows = [[f"{i / 7:.3f}", f"{i % 5 / 3:.3f}", i % 2] for i in range(40)]
    path = tmp_path / "r.csv"
    text = "a,b,y\n\n" + "\n".join(",".join(str(v) for v in r) for r in rows[:20]) \
        + "\n,,\n   \n" + "\n".join(",".join(str(v) for v in r) for r in rows[20:]) \
        + "\n , ,\n"
    path.write_text(text)
    assert main(["--csv", str(path), "--target", "y", "--max-iter", "5"]) == 0
    out = capsys.readouterr().out
    assert "40 rows" in out and "2 lines of empty cells left out (line 23, 45)" in out
    # a row with any cell is a row: its empty target is an error
    path.write_text(text.replace("\n,,\n", "\n0.5,,\n"))
    assert main(["--csv", str(path), "--target", "y", "--max-iter", "5"]) == 2
    assert "an empty value in row 21 (line 23 of" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--random-state", "\u0663"], ["--max-iter", "\u0663"],
                                  ["--hidden-layer-sizes", "\u0663"]])
def test_integer_options_take_ascii_digits_only(argv, capsys):
    # int() reads Arabic-Indic digits; CSV cells with them are text
    assert main(argv) == 2
    assert "expected" in capsys.readouterr().err


@pytest.mark.parametrize("tabular", [False, True])
def test_task_classification_takes_fractional_codes_as_labels(tmp_path, capsys, tabular):
    # 0.5 / 1.5 / 2.5 under --task classification reached the estimator as
    # floats: "the fit failed: ... Got 'continuous' instead"
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    # (-0 and 0 one class, as with integer codes)
    codes = np.where(X[:, 0] > 0.4, "2.5", np.where(X[:, 0] < -0.4, "0.5",
                                                    np.where(X[:, 1] > 0, "0", "-0")))
    path = write_csv(tmp_path / "grades.csv", ["a", "b", "grade"],
                     [[f"{a:.4f}", f"{b:.4f}", c] for (a, b), c in zip(X, codes)])
    argv = ["--csv", path, "--target", "grade", "--task", "classification", "--cv", "3",
            "--max-iter", "3"] + (["--tabular"] if tabular else [])
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out
    if not tabular:
        assert "classification, 3 classes (--task)" in out


def test_a_target_of_numbers_with_thousands_separators_says_so(tmp_path, capsys):
    # read as text, it became a classification of 60 classes and failed on
    # "no class of 'price' has 5 rows", or quietly ran one with --cv 2
    rng = np.random.RandomState(0)
    rows = [[f"{a:.3f}", f'"{int(200_000 + 1000 * a * 50):,}"'] for a in rng.normal(size=60)]
    rows[3][1] = "950"
    path = write_csv(tmp_path / "prices.csv", ["area", "price"], rows)
    check_error(capsys, ["--csv", path, "--target", "price"],
                "look like numbers with thousands separators", "--task classification")
    check_error(capsys, ["--csv", path, "--target", "price", "--task", "regression"],
                "looks like a number with thousands separators; remove them")
    # a few such values are classes as they would be without the separators
    few = [[row[0], ['"1,000"', '"10,000"', '"100,000"'][i % 3]] for i, row in enumerate(rows)]
    path = write_csv(tmp_path / "sizes.csv", ["area", "size"], few)
    assert main(["--csv", path, "--target", "size", "--cv", "2", "--max-iter", "2"]) == 0
    assert "classification, 3 classes (non-numeric target)" in capsys.readouterr().out


def test_histgb_not_run_says_so(tmp_path, capsys):
    # every feature column empty: only the tabular line appeared, under
    # "the same folds for both models"
    lines = ["a,b,y"] + [f",,{i % 2}" for i in range(40)]
    path = tmp_path / "empty.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(["--csv", str(path), "--target", "y", "--cv", "2", "--max-iter", "2"]) == 0
    assert "HistGradientBoosting: not run: no feature column has a value" in \
        capsys.readouterr().out


@pytest.mark.parametrize("unbuffered", [False, True])
@pytest.mark.parametrize("args", [["--csv"], ["--help"]])
def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path, unbuffered, args):
    # python -m fastmlp --csv F | head -1: BrokenPipeError's traceback, exit
    # 120 (unbuffered, at the print; buffered, at the flush on exit)
    env = dict(os.environ, PYTHONPATH=_checkout.pythonpath(dict(os.environ)))
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2))
    path = write_csv(tmp_path / "r.csv", ["a", "b", "y"],
                     [[f"{a:.3f}", f"{b:.3f}", f"{a - b:.3f}"] for a, b in X])
    helping = args == ["--help"]
    if not helping:
        args = ["--csv", path, "--target", "y", "--cv", "2", "--max-iter", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "fastmlp", *args], cwd=_checkout.cwd(),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                       # the reader is gone before the first line
    err = proc.stderr.read().decode()
    # (argparse's help, written unbuffered, ignores the error itself: 0)
    assert proc.wait(timeout=120) in ((0, 1) if helping else (1,))
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_trailing_comma_on_every_line_is_left_out(tmp_path, capsys):
    # an unnamed column of empty cells (a spreadsheet's export) made a
    # numbers-only file "have gaps": the tabular estimators, --solver refused
    rng = np.random.RandomState(0)
    lines = ["a,b,y,"] + [f"{a:.3f},{b:.3f},{a - b:.3f}," for a, b in rng.normal(size=(40, 2))]
    path = tmp_path / "trailing.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(["--csv", str(path), "--target", "y", "--cv", "2", "--max-iter", "2",
                 "--solver", "sgd"]) == 0
    out = capsys.readouterr().out
    assert "2 features" in out and "1 column without a name or a value left out" in out
    assert "cross-validated R\u00b2" in out


def test_a_file_whose_only_feature_is_a_trailing_comma_has_no_features(tmp_path, capsys):
    lines = ["y,"] + [f"{i % 3}," for i in range(30)]
    path = tmp_path / "only.csv"
    path.write_text("\n".join(lines) + "\n")
    check_error(capsys, ["--csv", str(path), "--target", "y"], "has no feature columns")
