"""Smoke test of the benchmark suite: ``python -m bench --smoke`` on minuscule
sizes, fastmlp and scikit-learn only. Checks the plumbing and the JSON
(keys present, numbers finite); makes no timing assertions."""

import json
import math
import os
import subprocess
import sys

import pytest

import _checkout

if not _checkout.HAS_BENCH:
    pytest.skip(_checkout.NO_BENCH, allow_module_level=True)
ROOT = _checkout.ROOT

WORKLOADS = ("digits_b1", "digits_b32", "digits_b200", "synth_100_256_128", "mnist_1024x2",
             "tfidf_sparse", "regression_50")

_fastmlp = pytest.importorskip("fastmlp")
if not hasattr(_fastmlp, "MLPClassifier"):
    pytest.skip("fastmlp is not built", allow_module_level=True)


def _finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (out / "stderr.txt").write_text(proc.stderr)  # the progress log, for the tests that read it
    with open(out / "bench_smoke.json") as f:
        results = json.load(f)
    return results, proc.stdout, out


def test_top_level_keys(smoke_results):
    results, stdout, out = smoke_results
    for key in ("schema_version", "mode", "repeats", "libs", "machine", "fits", "threads",
                "predict", "memory", "total_seconds", "notes", "fastmlp_config"):
        assert key in results, key
    assert results["mode"] == "smoke"
    assert results["libs"] == ["fastmlp", "sklearn"]
    assert results["repeats"] >= 2
    machine = results["machine"]
    for key in ("cpu_model", "logical_cpus", "architecture", "kernel", "versions", "threadpools", "env"):
        assert key in machine, key
    assert any(p.get("user_api") == "blas" for p in machine["threadpools"])
    assert (out / "bench_smoke.md").exists()
    assert "| workload |" in stdout


def test_fits(smoke_results):
    results, _, _ = smoke_results
    names = {(f["workload"], f["dtype"]) for f in results["fits"]}
    assert names == {(w, d) for w in WORKLOADS for d in ("float32", "float64")}
    for f in results["fits"]:
        for lib in ("fastmlp", "sklearn"):
            r = f["results"][lib]
            for key in ("seconds_per_epoch", "us_per_sample", "score", "seconds"):
                assert _finite(r[key]), (f["workload"], lib, key, r[key])
            assert r["seconds_per_epoch"] > 0
            assert r["n_iter"] == f["epochs"]
            assert len(f["all_runs"][lib]) == results["repeats"]
        for key in ("speedup_vs_sklearn", "fastmlp_gflops", "fraction_of_gemm_limit", "flops_per_epoch"):
            assert _finite(f[key]) and f[key] > 0, (f["workload"], key)
        gl = f["gemm_limit"]
        assert _finite(gl["seconds_per_epoch"]) and gl["seconds_per_epoch"] > 0
        assert gl["seconds_per_epoch_all_layers"] >= gl["seconds_per_epoch"]
        score_name = f["results"]["fastmlp"]["score_name"]
        assert score_name == ("r2" if f["kind"] == "regression" else "accuracy")


def test_threads_predict_memory(smoke_results):
    results, _, _ = smoke_results
    assert results["threads"]
    for t in results["threads"]:
        assert t["thread_counts"][0] == 1
        for n in t["thread_counts"]:
            assert _finite(t["by_threads"][str(n)]["seconds_per_epoch"])
            assert _finite(t["gemm_limit_by_threads"][str(n)])
        assert _finite(t["speedup"])
    assert {p["dtype"] for p in results["predict"]} == {"float32", "float64"}
    for p in results["predict"]:
        for lib in ("fastmlp", "sklearn"):
            r = p["results"][lib]
            for key in ("latency_median_us", "latency_best_us", "rows_per_second", "fraction_of_forward_limit",
                        "score"):
                assert _finite(r[key]), (lib, key)
            assert r["latency_best_us"] <= r["latency_median_us"]
    assert {m["lib"] for m in results["memory"]} == {"fastmlp", "sklearn"}
    for m in results["memory"]:
        assert "error" not in m, m
        for key in ("X_bytes", "hwm_delta_bytes", "tracemalloc_peak_bytes"):
            assert _finite(m[key]), key
        assert m["X_bytes"] > 0


def test_limits(smoke_results):
    results, stdout, _ = smoke_results
    limits = results["limits"]
    assert limits["optimizer"] and limits["gemm"]
    for o in limits["optimizer"]:
        assert o["n_params"] > 0
        assert _finite(o["ns_per_param"]) and o["ns_per_param"] > 0
        assert o["us_per_step"] == pytest.approx(o["ns_per_param"] * o["n_params"] / 1e3)
    for g in limits["gemm"]:
        assert len(g["shape"]) == 3
        for key in ("numpy_1t_gflops", "numpy_2t_gflops", "scipy_1t_gflops"):
            assert _finite(g[key]) and g[key] > 0, key
    assert "## limits" in stdout


def test_ab_builds_compares_two_checkouts():
    # the same checkout on both sides: every workload timed on each (no
    # bound on their ratio: one round beside other load can differ 10x)
    from bench import ab_builds

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    got = ab_builds.run(root, root, rounds=1, rows=300, epochs=1)
    assert set(got) == {"silu+dropout", "silu", "relu+dropout", "relu"}
    for before, after in got.values():
        assert 0 < before < float("inf") and 0 < after < float("inf")


def test_targets_report_says_what_the_pacer_measured():
    # bench --targets names, for each online row, the team's and one
    # thread's cost per sample in fastmlp's best fit (which mode the VM ran)
    from types import SimpleNamespace

    from bench import targets

    fit = SimpleNamespace(_pace_report={"team_cost": 1.6e-6, "solo_cost": 2.75e-6,
                                        "team_segments": 85.0, "solo_segments": 3.0,
                                        "segments": 88.0})
    pacer = targets._pacer_summary(fit)
    assert pacer == {"team_us": pytest.approx(1.6), "solo_us": pytest.approx(2.75),
                     "team_segments": 85, "solo_segments": 3}
    # no pacer ran (one thread, or the pacer off): nothing to say
    assert targets._pacer_summary(SimpleNamespace(_pace_report={"segments": 0.0})) is None
    assert targets._pacer_summary(SimpleNamespace()) is None
    rows = [{"dtype": "float32", "epochs": 20, "fastmlp": 0.0777, "sklearn": 4.789,
             "x_sklearn": 61.6, "pacer": pacer},
            {"dtype": "float64", "epochs": 20, "fastmlp": 0.1158, "sklearn": 4.737,
             "x_sklearn": 40.9}]
    text = targets.report(rows, {"fit_1_epoch": 1.55e-3, "epoch_in_long_fit": 1.31e-3,
                                 "ratio": 1.18})
    assert "- float32, 20-epoch fit: team 1.60 µs (85), one thread 2.75 µs (3)" in text
    assert "float64, 20-epoch fit: team" not in text
    assert "| float32 | 20 | 77.7 ms | 4789 ms | 61.6× |" in text


def test_contention_runs_its_competitors_and_workloads():
    # bench --contention's plumbing, smoke sizes: the one-thread competitor,
    # the cross-validation loop and the predict workload, quiet and beside it
    from bench import contention

    times, paces = contention.measure(["digits_cv", "digits_predict"], ["quiet", "single"],
                                      repeats=2, smoke=True, log=lambda *a: None,
                                      libs=("fastmlp",))
    for w in ("digits_cv", "digits_predict"):
        for c in ("quiet", "single"):
            got = times[w][c]["fastmlp"]
            assert len(got) == 2 and all(0 < t < float("inf") for t in got)
    text = contention.report(times, ["quiet", "single"])
    assert "| digits_cv | fastmlp |" in text and "beside single" in text
    # every competitor's program is a script of its own (the blas ones share one)
    assert set(contention.COMPETITORS) == {"blas", "omp", "single", "torch"}
    assert 'OPENBLAS_NUM_THREADS"] = "1"' in contention.COMPETITORS["single"]
    assert 'OPENBLAS_NUM_THREADS"] = "2"' in contention.COMPETITORS["blas"]


def test_peak_is_labelled_with_the_size_measured(smoke_results):
    # --smoke measures the peak on a 256^3 GEMM: the log, the JSON and the
    # report say 256, not the full mode's 2048
    results, stdout, out = smoke_results
    assert results["peak_size"] == 256
    assert "peak GFLOP/s (256^3 GEMM" in (out / "stderr.txt").read_text()
    assert "| BLAS 256³ GEMM |" in stdout and "the 256³ GEMM peak above" in stdout
    assert "2048" not in stdout


def test_report_labels_the_peak_with_its_size():
    from bench import peak, report

    machine = {"cpu_model": "cpu", "cpus_available": 2, "logical_cpus": 2, "cpu_flags": [],
               "architecture": "x86_64", "kernel": "k", "versions": {}, "threadpools": [],
               "env": {}}
    results = {"mode": "smoke", "repeats": 2, "machine": machine, "fits": [],
               "peaks": {"float32": {"1": 10.0}}, "total_seconds": 1.0}
    assert "| BLAS 2048³ GEMM |" in report.markdown(results)  # results before peak_size: 2048
    assert "| BLAS 256³ GEMM |" in report.markdown(dict(results, peak_size=256))
    assert peak.peak_table({}, 512).startswith("| BLAS 512³ GEMM |")


# --- the command line: a bad argument is a usage error before any work ------


def _usage_error(capsys, parse_args, argv):
    """The message of the argparse error (exit status 2) that argv gives."""
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ")
    return err.strip().splitlines()[-1]


def test_a_bad_out_is_an_error_before_the_run(tmp_path, capsys):
    from bench.__main__ import parse_args

    afile = tmp_path / "afile"
    afile.write_text("")
    for out in (afile, afile / "sub"):
        msg = _usage_error(capsys, parse_args, ["--smoke", "--only", "digits_b200", "--out", str(out)])
        assert f"--out {out}: " in msg
    # a directory that does not exist yet is made at once
    new = tmp_path / "new" / "results"
    assert parse_args(["--smoke", "--out", str(new)]).out == str(new)
    assert new.is_dir()


def test_contention_names_are_checked_before_the_run(tmp_path, capsys):
    from bench import contention
    from bench.__main__ import parse_args

    msg = _usage_error(capsys, parse_args, ["--contention", "--competitors", "blas,foo"])
    assert msg.endswith("--competitors: unknown foo; known: " + ", ".join(contention.COMPETITORS))
    msg = _usage_error(capsys, parse_args, ["--contention", "--libs", "foo"])
    assert msg.endswith("--libs: unknown foo; known: fastmlp, unpaced, sklearn")
    _usage_error(capsys, parse_args, ["--contention", "--libs", ","])
    # --only matching no contention workload, as the suite's --only
    msg = _usage_error(capsys, parse_args, ["--contention", "--only", "digits_cv,nosuch"])
    assert "--only: 'nosuch' matches no --contention workload; names are: digits_b200" in msg
    msg = _usage_error(capsys, parse_args, ["--only", "nosuch", "--out", str(tmp_path)])
    assert "--only: 'nosuch' matches no workload or section; names are: digits_b1" in msg
    args = parse_args(["--contention", "--only", "cv, predict", "--competitors", "single",
                       "--libs", "fastmlp, sklearn"])
    assert (args.only, args.competitors, args.libs) == ("cv, predict", "single", "fastmlp, sklearn")


def test_torch_threads_must_be_positive(tmp_path, capsys):
    from bench.__main__ import parse_args

    for n in ("0", "-1"):
        msg = _usage_error(capsys, parse_args, ["--torch-threads", n, "--out", str(tmp_path)])
        assert msg.endswith(f"--torch-threads must be at least 1 (got {n})")
    assert parse_args(["--torch-threads", "1", "--out", str(tmp_path)]).torch_threads == 1
