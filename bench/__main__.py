"""Command line: ``python -m bench [--full | --smoke] [--only NAMES] [--out DIR] [--repeats N]``
(and ``--contention``: bench/contention.py; ``--targets``: bench/targets.py),
and ``python -m bench tabular [...]`` for the tabular models (``bench/tabular.py``).

Design: every number comes from the same process and run. For each
workload and dtype the libraries are timed in interleaved rounds (fastmlp,
sklearn, torch, fastmlp, sklearn, torch, ...) so that a slow phase of the
machine hits all of them alike; the best of the rounds is reported together
with the held-out score of that run. The GEMM limit is measured right after,
at the same shapes, dtype and batch size. Progress goes to stderr; the
Markdown report goes to stdout and, with the JSON and charts, to ``--out``.
"""

import argparse
import fnmatch
import gc
import math
import os
import sys
import time
import warnings

import numpy as np

from . import contention
from . import gemm_limit as gl
from . import limits as lim
from . import peak
from . import report
from . import runners
from . import workloads as wl

DTYPES = (np.float32, np.float64)
SECTIONS = [w.name for w in wl.WORKLOADS] + list(wl.EXTRA_SECTIONS)  # what --only picks from


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark fastmlp against scikit-learn and PyTorch (see bench/README.md).",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="full sizes (several minutes)")
    mode.add_argument("--smoke", action="store_true",
                      help="minuscule sizes, fastmlp and sklearn only, no charts (for tests)")
    p.add_argument("--only", default=None,
                   help="comma-separated names or glob patterns; names: " + ", ".join(SECTIONS))
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"),
                   help="output directory (default: bench/results/)")
    p.add_argument("--repeats", type=int, default=None,
                   help="interleaved repeats; best is reported (default 3; 2 in --smoke)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="run torch with torch.set_num_threads(N) only (default: try its default "
                   "and 1 thread in round 1 and keep the faster)")
    p.add_argument("--no-charts", action="store_true", help="do not write PNG charts")
    p.add_argument("--contention", action="store_true",
                   help="fastmlp and scikit-learn quiet and beside a busy process the bench "
                   "starts (bench/contention.py); --only picks workloads by substring")
    p.add_argument("--targets", action="store_true",
                   help="issue 15's quiet targets: online SGD against scikit-learn and "
                   "PyTorch, and the fixed cost of a fit (bench/targets.py)")
    p.add_argument("--competitors", default=None,
                   help="with --contention: comma-separated subset of "
                   + ",".join(contention.COMPETITORS))
    p.add_argument("--libs", default=None,
                   help="with --contention: comma-separated subset of " + ",".join(contention.LIBS)
                   + " (scikit-learn's HistGradientBoosting once ran for over 20 minutes beside "
                   "the omp competitor)")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.smoke else 3
    if args.repeats < 2:
        p.error("--repeats must be at least 2 (a single run is not a measurement)")
    if args.torch_threads is not None and args.torch_threads < 1:
        p.error(f"--torch-threads must be at least 1 (got {args.torch_threads})")
    for option, given, known in (("--competitors", args.competitors, contention.COMPETITORS),
                                 ("--libs", args.libs, contention.LIBS)):
        unknown = [n for n in report.comma_names(given) if n not in known]
        if unknown:
            p.error(f"{option}: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    if args.libs is not None and not report.comma_names(args.libs):
        p.error(f"--libs: name at least one of {', '.join(contention.LIBS)}")
    if not args.targets:  # --only: the suite's sections by glob, or contention's workloads by substring
        names = list(contention.WORKLOADS) if args.contention else SECTIONS
        for pat in report.comma_names(args.only):
            if not ([w for w in names if pat in w] if args.contention else fnmatch.filter(names, pat)):
                p.error(f"--only: {pat!r} matches no "
                        f"{'--contention workload' if args.contention else 'workload or section'}; "
                        f"names are: {', '.join(names)}")
    if not (args.contention or args.targets):  # the suite writes there: fail now, not after the run
        problem = report.out_dir_problem(args.out)
        if problem:
            p.error(f"--out {args.out}: {problem}")
    return args


def select(only):
    """The sections --only names (parse_args has checked that each pattern matches)."""
    if not only:
        return set(SECTIONS)
    return {name for pat in report.comma_names(only) for name in fnmatch.filter(SECTIONS, pat)}


class DataCache:
    """Generated data per (workload, dtype), so sections share it."""

    def __init__(self, mode):
        self.mode = mode
        self._data = {}

    def get(self, workload, dtype):
        key = (workload.name, np.dtype(dtype).name)
        if key not in self._data:
            self._data[key] = wl.make_data(workload, self.mode, dtype)
        return self._data[key]


def _ratio(num, den):
    if num is None or den is None or den <= 0 or not math.isfinite(num / den):
        return None
    return num / den


def _best(runs):
    runs = [r for r in runs if r is not None]
    return min(runs, key=lambda r: r.seconds_per_epoch) if runs else None


def _slice(X, n):
    return X if n >= X.shape[0] else X[:n]


def warm_up(libs):
    """One tiny untimed fit per library, dtype (and Adam variant for torch), so
    that one-time costs (lazy imports, OpenMP/BLAS thread start-up, oneDNN
    initialisation) do not land in the first timed round."""
    workload = wl.BY_NAME["digits_b32"]
    for dtype in DTYPES:
        X, X_test, y, y_test = workload.make(64, 16, dtype)
        for lib in libs:
            if lib == "torch":
                for impl in ("fused", "foreach"):
                    try:
                        runners.fit_torch(workload, 1, X, y, X_test, y_test, adam_impl=impl)
                    except Exception:
                        pass  # reported by the timed runs
            else:
                runners.fit_estimator(lib, workload, 1, X, y, X_test, y_test)


def run_fit(workload, dtype, mode, libs, repeats, cache, torch_variants=(), peaks=None):
    """Interleaved timed fits of ``workload`` in ``dtype`` for each lib.

    PyTorch: round 1 runs every variant in ``torch_variants`` (Adam
    implementation x thread count); later rounds run the fastest of them,
    and only that variant is reported (all are kept in ``all_runs``).
    """
    sizes = workload.sizes[mode]
    X, X_test, y, y_test = cache.get(workload, dtype)
    n_for = {lib: min(X.shape[0], sizes.caps.get(lib, X.shape[0])) for lib in libs}
    runs = {lib: [] for lib in libs}
    torch_probe, torch_error, torch_variant = {}, None, None
    n_fm = n_for.get("fastmlp", X.shape[0])
    limits = []
    for r in range(repeats):
        # the GEMM limit is one more contestant in each round
        time.sleep(wl.PAUSE[mode])
        limits.append(gl.gemm_limit(workload.layer_shapes(), workload.batch_size, n_fm, dtype, repeats=2,
                                    X=X if workload.sparse else None, min_time=wl.GEMM_MIN_TIME[mode]))
        for lib in libs:
            Xl, yl = _slice(X, n_for[lib]), y[: n_for[lib]]
            time.sleep(wl.PAUSE[mode])
            if lib != "torch":
                res, _ = runners.fit_estimator(lib, workload, sizes.epochs, Xl, yl, X_test, y_test)
                runs[lib].append(res)
                continue
            if torch_error is not None:
                continue
            variants = torch_variants if r == 0 else [torch_variant]
            for impl, n_threads in variants:
                key = f"{impl}/{n_threads}T"
                if (impl, n_threads) != tuple(variants[0]):
                    time.sleep(wl.PAUSE[mode])
                try:
                    res = runners.fit_torch(workload, sizes.epochs, Xl, yl, X_test, y_test,
                                            adam_impl=impl, n_threads=n_threads)
                except Exception as exc:
                    torch_probe[key] = f"{type(exc).__name__}: {exc}"
                    continue
                torch_probe.setdefault(key, res.seconds_per_epoch)
                res.extra["variant"] = key
                runs["torch"].append(res)
            if r == 0:
                timed = {k: v for k, v in torch_probe.items() if isinstance(v, float)}
                if not timed:
                    torch_error = "; ".join(f"{k}: {v}" for k, v in torch_probe.items())
                else:
                    fastest = min(timed, key=timed.get)
                    torch_variant = next(v for v in torch_variants if f"{v[0]}/{v[1]}T" == fastest)
    best = {lib: _best(runs[lib]) for lib in libs}
    if "torch" in libs and best.get("torch") is not None:
        # report the winning variant only
        key = f"{torch_variant[0]}/{torch_variant[1]}T"
        best["torch"] = _best([x for x in runs["torch"] if x.extra.get("variant") == key])
    fm = best.get("fastmlp")
    nnz_per_row = X.nnz / X.shape[0] if workload.sparse else None
    limit = gl.best_of(limits)
    flops = gl.flops_per_epoch(workload.layer_shapes(), n_fm, nnz_per_row)
    out = {
        "workload": workload.name,
        "description": workload.description,
        "dtype": np.dtype(dtype).name,
        "kind": workload.kind,
        "sparse": workload.sparse,
        "layer_shapes": workload.layer_shapes(),
        "batch_size": workload.batch_size,
        "epochs": sizes.epochs,
        "n_test": int(X_test.shape[0]),
        "load_average_after": list(os.getloadavg()),
        "results": {lib: (b.to_dict() if b else None) for lib, b in best.items()},
        "all_runs": {lib: [x.to_dict() for x in runs[lib]] for lib in libs},
        "flops_per_epoch": flops,
        "gemm_limit": limit,
    }
    if "torch" in libs:
        out["torch_variant_probe"] = torch_probe
        out["torch_error"] = torch_error
    if fm:
        out["fastmlp_gflops"] = flops / fm.seconds_per_epoch / 1e9
        out["fraction_of_gemm_limit"] = limit["seconds_per_epoch"] / fm.seconds_per_epoch
        # real flops (no input gradient for the first layer) over the
        # machine's GEMM peak (peak.SIZE^3; 256^3 in --smoke) at the thread count fastmlp ran on;
        # peaks are measured at 1 and 2 threads only: above 2, the largest measured count
        from fastmlp._openmp import effective_n_threads
        n_threads = effective_n_threads()
        real = peak.real_flops_per_epoch(workload.layer_shapes(), n_fm, nnz_per_row)
        out["fastmlp_real_gflops"] = real / fm.seconds_per_epoch / 1e9
        out["fastmlp_threads"] = n_threads
        per_dtype = (peaks or {}).get(np.dtype(dtype).name, {})
        top = per_dtype.get(n_threads) or per_dtype.get(max(per_dtype, default=None))
        if top:
            out["fraction_of_peak"] = out["fastmlp_real_gflops"] / top
        for lib in ("sklearn", "torch"):
            if best.get(lib) is not None:
                out[f"speedup_vs_{lib}"] = _ratio(best[lib].us_per_sample, fm.us_per_sample)
    return out


def _thread_counts():
    n_cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    counts, n = [], 1
    while n < n_cpu:
        counts.append(n)
        n *= 2
    counts.append(n_cpu)
    return sorted(set(counts))


def run_threads(workload, dtype, mode, repeats, cache):
    """fastmlp fit under threadpool_limits(n) for n = 1, 2, 4, ..., n_cpu, interleaved."""
    from threadpoolctl import threadpool_limits

    sizes = workload.sizes[mode]
    X, X_test, y, y_test = cache.get(workload, dtype)
    counts = _thread_counts()
    runs = {n: [] for n in counts}
    gemm = {n: [] for n in counts}
    for _ in range(repeats):
        for n in counts:
            time.sleep(wl.PAUSE[mode])
            res, _ = runners.fit_estimator("fastmlp", workload, sizes.epochs, X, y, X_test, y_test, n_threads=n)
            runs[n].append(res)
            with threadpool_limits(limits=n):
                gemm[n].append(gl.gemm_limit(workload.layer_shapes(), workload.batch_size, X.shape[0], dtype,
                                             repeats=2, min_time=wl.GEMM_MIN_TIME[mode]))
    best = {n: _best(runs[n]) for n in counts}
    limits, fractions = {}, {}
    for n in counts:
        limits[str(n)] = gl.best_of(gemm[n])["seconds_per_epoch"]
        fractions[str(n)] = limits[str(n)] / best[n].seconds_per_epoch
    return {
        "workload": workload.name,
        "dtype": np.dtype(dtype).name,
        "thread_counts": counts,
        "by_threads": {str(n): best[n].to_dict() for n in counts},
        "all_runs": {str(n): [x.to_dict() for x in runs[n]] for n in counts},
        "speedup": _ratio(best[counts[0]].seconds_per_epoch, best[counts[-1]].seconds_per_epoch),
        "gemm_limit_by_threads": limits,
        "fraction_by_threads": fractions,
    }


def run_predict(dtype, mode, repeats, cache):
    """One-row latency and n-row throughput of predict, fastmlp vs sklearn."""
    workload = wl.BY_NAME[wl.PREDICT_WORKLOAD]
    X, X_test, y, y_test = cache.get(workload, dtype)
    n_rows = wl.PREDICT_ROWS[mode]
    n_calls = wl.PREDICT_CALLS[mode]
    reps = max(1, int(math.ceil(n_rows / X_test.shape[0])))
    X_rows = np.ascontiguousarray(np.concatenate([X_test] * reps)[:n_rows])
    row = np.ascontiguousarray(X_test[:1])
    libs = ("fastmlp", "sklearn")
    ests, scores = {}, {}
    for lib in libs:
        # one epoch is enough for a model to time predict on
        res, est = runners.fit_estimator(lib, workload, 1, X, y, X_test, y_test)
        ests[lib], scores[lib] = est, res.score
    lat = {lib: [] for lib in libs}
    thr = {lib: [] for lib in libs}
    fwd = []
    per_round = max(1, n_calls // repeats)
    for _ in range(repeats):
        time.sleep(wl.PAUSE[mode])
        fwd.append(gl.forward_limit(workload.layer_shapes(), n_rows, dtype, repeats=1))
        for lib in libs:
            time.sleep(wl.PAUSE[mode])
            lat[lib].append(runners.predict_latency(ests[lib], row, per_round))
            thr[lib].append(runners.predict_seconds(ests[lib], X_rows))
    fwd_limit = min(fwd)
    results = {}
    for lib in libs:
        times = np.concatenate(lat[lib])
        best_s = min(thr[lib])
        results[lib] = {
            "score": scores[lib],
            "latency_median_us": float(np.median(times) * 1e6),
            "latency_best_us": float(times.min() * 1e6),
            "latency_calls": int(times.size),
            "throughput_seconds": best_s,
            "rows_per_second": n_rows / best_s,
            "fraction_of_forward_limit": fwd_limit / best_s,
        }
    fm, sk = results["fastmlp"], results["sklearn"]
    return {
        "workload": workload.name,
        "dtype": np.dtype(dtype).name,
        "layer_shapes": workload.layer_shapes(),
        "n_rows": n_rows,
        "forward_limit_seconds": fwd_limit,
        "results": results,
        "latency_speedup_vs_sklearn": _ratio(sk["latency_median_us"], fm["latency_median_us"]),
        "throughput_speedup_vs_sklearn": _ratio(fm["rows_per_second"], sk["rows_per_second"]),
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tabular"]:  # python -m bench tabular ...: bench/tabular.py
        from . import tabular
        return tabular.main(argv[1:])
    args = parse_args(argv)
    if args.contention:
        contention.main(args, _log)
        return 0
    if args.targets:
        from . import targets
        targets.main(args, _log)
        return 0
    t_start = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime())
    mode = "smoke" if args.smoke else "full" if args.full else "quick"
    chosen = select(args.only)
    ok, msg = runners.fastmlp_status()
    if not ok:
        _log(f"error: {msg}. Build it first (pip install -e . or python setup.py build_ext --inplace).")
        return 2
    _log(msg)
    notes = []
    load_start = os.getloadavg()
    if load_start[0] > wl.IDLE_LOAD:
        notes.append(f"machine not idle at start: load average {load_start[0]:.2f} (1 min); "
                     "timings of other processes sharing the cores inflate the results")
    libs = ["fastmlp", "sklearn"]
    if not args.smoke and not args.no_torch:
        t_ok, t_msg = runners.torch_status()
        _log(t_msg)
        if t_ok:
            libs.append("torch")
            if args.torch_threads:
                notes.append(f"torch runs with torch.set_num_threads({args.torch_threads})")
        else:
            notes.append(t_msg)
    repeats = args.repeats
    if repeats < 3 and not args.smoke:
        notes.append(f"only {repeats} repeats (the suite's default is 3)")
    cache = DataCache(mode)
    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")

    torch_variants = []
    if "torch" in libs:
        import torch

        if args.torch_threads:
            thread_choices = [args.torch_threads]
        else:
            thread_choices = sorted({torch.get_num_threads(), 1}, reverse=True)
        torch_variants = [(impl, n) for n in thread_choices for impl in ("fused", "foreach")]
    warm_up(libs)
    # the machine's peak, same run: size^3 sgemm/dgemm at 1 and 2 threads
    peak_size = 256 if mode == "smoke" else peak.SIZE
    peaks = peak.machine_peaks(size=peak_size, repeats=2 if mode == "smoke" else 3)
    _log(f"peak GFLOP/s ({peak_size}^3 GEMM, SciPy's BLAS): " + "; ".join(
        f"{k} " + ", ".join(f"{n}T {g:.1f}" for n, g in v.items()) for k, v in peaks.items()))
    # move everything alive now out of the collector's reach, so the
    # gc.collect() before each timed fit costs microseconds, not 60 ms
    gc.collect()
    gc.freeze()
    # --smoke checks plumbing, not speed: hold BLAS and OpenMP to one thread
    # (outside the thread-scaling section) so it stays fast on a busy machine
    from threadpoolctl import threadpool_limits

    serial = threadpool_limits(limits=1) if args.smoke else None
    fits = []
    for workload in wl.WORKLOADS:
        if workload.name not in chosen:
            continue
        for dtype in DTYPES:
            t0 = time.perf_counter()
            f = run_fit(workload, dtype, mode, libs, repeats, cache, torch_variants, peaks)
            fits.append(f)
            fm = f["results"]["fastmlp"]
            _log(f"[{time.perf_counter() - t_start:6.1f}s] {workload.name} {f['dtype']}: fastmlp "
                 f"{fm['seconds_per_epoch'] * 1e3:.3g} ms/epoch, x{f.get('speedup_vs_sklearn') or 0:.2f} vs sklearn"
                 + (f", x{f['speedup_vs_torch']:.2f} vs torch" if f.get("speedup_vs_torch") else "")
                 + f" ({time.perf_counter() - t0:.1f}s)")

    if serial is not None:
        serial.restore_original_limits()
    threads = []
    if "threads" in chosen:
        for name in wl.THREAD_WORKLOADS:
            for dtype in (DTYPES if mode == "full" else (np.float32,)):
                t = run_threads(wl.BY_NAME[name], dtype, mode, repeats, cache)
                threads.append(t)
                _log(f"[{time.perf_counter() - t_start:6.1f}s] threads {name} {t['dtype']}: "
                     f"x{t['speedup'] or 0:.2f} from {t['thread_counts'][0]} to {t['thread_counts'][-1]}")

    serial = threadpool_limits(limits=1) if args.smoke else None
    predict = []
    if "predict" in chosen:
        for dtype in DTYPES:
            p = run_predict(dtype, mode, repeats, cache)
            predict.append(p)
            _log(f"[{time.perf_counter() - t_start:6.1f}s] predict {p['dtype']}: fastmlp "
                 f"{p['results']['fastmlp']['latency_median_us']:.1f} us/row median")

    if serial is not None:
        serial.restore_original_limits()
    memory = []
    if "memory" in chosen:
        jobs = [(lib, np.dtype(dtype).name) for lib in ("fastmlp", "sklearn")
                for dtype in (DTYPES if mode == "full" else (np.float32,))]
        # one child process per measurement; in smoke mode, where only the
        # plumbing matters, in this process (no interpreter start-up)
        memory = runners.measure_memory_many(jobs, mode, in_process=(mode == "smoke"))
        _log(f"[{time.perf_counter() - t_start:6.1f}s] memory done")

    limits = None
    if "limits" in chosen:
        limits = lim.measure(mode, repeats, DTYPES if mode == "full" else (np.float32,),
                             wl.GEMM_MIN_TIME[mode])
        _log(f"[{time.perf_counter() - t_start:6.1f}s] limits done")

    results = {
        "schema_version": 1,
        "mode": mode,
        "repeats": repeats,
        "libs": libs,
        "started_at": started_at,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "notes": notes,
        "machine": report.machine_info(),
        "fastmlp_config": report.fastmlp_config(),
        "peaks": {k: {str(n): g for n, g in v.items()} for k, v in peaks.items()},
        "peak_size": peak_size,
        "fits": fits,
        "threads": threads,
        "predict": predict,
        "memory": memory,
        "limits": limits,
    }
    if results["load_average_end"][0] > (os.cpu_count() or 1) + 0.5 and mode != "smoke":
        notes.append(f"load average at end {results['load_average_end'][0]:.2f} (this run alone keeps it "
                     "near the core count): other processes were probably running")
    pools = results["machine"]["threadpools"]
    openmp_libs = {os.path.basename(p.get("filepath", "")) for p in pools if p.get("user_api") == "openmp"}
    if len(openmp_libs) > 1:
        results["notes"].append("several OpenMP runtimes loaded in this process: " + ", ".join(sorted(openmp_libs)))
    results["total_seconds"] = time.perf_counter() - t_start

    os.makedirs(args.out, exist_ok=True)
    stem = f"bench_{mode}"
    json_path = os.path.join(args.out, f"{stem}.json")
    report.write_json(results, json_path)
    md = report.markdown(results)
    with open(os.path.join(args.out, f"{stem}.md"), "w") as f:
        f.write(md)
    charts = [] if (args.no_charts or args.smoke) else report.write_charts(results, args.out, stem)
    sys.stdout.write(md)
    _log(f"wrote {json_path}" + "".join(f", {c}" for c in charts)
         + ("" if charts or args.no_charts or args.smoke else " (matplotlib not installed: no charts)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
