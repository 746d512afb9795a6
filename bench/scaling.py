"""Scaling out on one machine: process-parallel grid search and fits in threads.

Run from the repository root::

    python -m bench.scaling                 # about 30 s on 2 idle cores
    python -m bench.scaling --quick         # smaller problem, for a smoke run
    python -m bench.scaling --repeats 5

Design: two questions, each answered with best-of-N interleaved rounds (every
configuration runs once per round, so a slow phase of the machine hits them
all alike), each time printed next to the accuracy of the models it produced.

1. GridSearchCV: ``n_jobs=2`` (two loky worker processes) against ``n_jobs=1``
   (one process whose fits use an OpenMP team of all cores) and against a
   single-core baseline.  Each fit is also scored by the OpenMP thread count
   it trained with (``fastmlp._openmp.effective_n_threads()`` called in the
   worker), so the report shows what the workers were given: loky starts its
   workers with ``OMP_NUM_THREADS = cpu_count // n_jobs``.
2. The ``threading`` backend: two fits in two threads against the same two
   fits one after the other.  The engine runs each epoch without the GIL, so
   two single-threaded fits in two threads should take about the time of one.
   In the first configuration each fit gets one core: each thread limits its
   own OpenMP team to 1 (threadpoolctl's OpenMP limit is per thread with
   libgomp) and BLAS is held to 1 around the whole run (its limit is
   process-wide).  The second is what the threading backend gives by
   default: each thread runs a team of all cores, and the report shows what
   that oversubscription costs.
"""
import argparse
import os
import sys
import time
import warnings

import joblib
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_info, threadpool_limits

from bench.workloads import IDLE_LOAD
from fastmlp import MLPClassifier
from fastmlp._openmp import effective_n_threads


def n_threads_scorer(est, X, y):
    """Scores a fit by the OpenMP threads it trained with (where it ran)."""
    return float(effective_n_threads())


def make_data(n_samples, n_features, seed=0):
    """A non-linear binary problem: a tilted plane plus a ripple."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    w = rng.normal(size=n_features) / np.sqrt(n_features)
    y = (X @ w + 0.7 * np.sin(2 * X[:, 0]) * X[:, 1] > 0).astype(int)
    return X, y


def _blas_threads():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------- grid search

GRID = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate_init": [1e-3, 1e-2]}


def _grid_search(n_jobs, epochs, hidden):
    return GridSearchCV(
        MLPClassifier(hidden_layer_sizes=hidden, max_iter=epochs, random_state=0),
        GRID,
        cv=2,
        n_jobs=n_jobs,
        scoring={"accuracy": "accuracy", "n_threads": n_threads_scorer},
        refit=False,
    )


def bench_grid_search(X, y, epochs, hidden, repeats):
    n_cpu = joblib.cpu_count()
    configs = {
        "n_jobs=1, one core (OpenMP 1, BLAS 1)": dict(n_jobs=1, limit=1),
        f"n_jobs=1, OpenMP {effective_n_threads()} threads": dict(n_jobs=1, limit=None),
        "n_jobs=2 (loky)": dict(n_jobs=2, limit=None),
    }
    times = {name: [] for name in configs}
    results = {}
    # warm-up: start the loky workers and import fastmlp in them
    _grid_search(2, 1, hidden).fit(X[:2000], y[:2000])
    for r in range(repeats):
        for name, cfg in configs.items():
            _log(f"grid search round {r + 1}/{repeats}: {name}")
            search = _grid_search(cfg["n_jobs"], epochs, hidden)
            # limits=None is a no-op; limits=1 holds OpenMP *and* BLAS to one
            # thread (an OpenMP-only limit leaves BLAS threaded: see the report)
            with threadpool_limits(limits=cfg["limit"]):
                t0 = time.perf_counter()
                search.fit(X, y)
                times[name].append(time.perf_counter() - t0)
            results[name] = search.cv_results_
    n_fits = len(results[name]["params"]) * 2
    print(f"## GridSearchCV: {len(results[name]['params'])} candidates x 2 folds = {n_fits} "
          f"fits on {X.shape[0]}x{X.shape[1]}, hidden={hidden}, {epochs} epochs, "
          f"{n_cpu} cores, best of {repeats}")
    print()
    print("| configuration | best time (s) | all rounds (s) | speed-up vs n_jobs=1 (OpenMP) "
          "| threads per fit | best mean CV accuracy |")
    print("|---|---|---|---|---|---|")
    reference = min(times[list(configs)[1]])
    for name in configs:
        res = results[name]
        threads = sorted(set(res["mean_test_n_threads"].astype(int).tolist()))
        print(f"| {name} | {min(times[name]):.2f} | "
              f"{', '.join(f'{t:.2f}' for t in times[name])} | "
              f"{reference / min(times[name]):.2f}x | {threads} | "
              f"{res['mean_test_accuracy'].max():.4f} |")
    accs = np.array([results[name]["mean_test_accuracy"] for name in configs])
    print()
    print(f"Largest difference in any candidate's mean CV accuracy between "
          f"configurations: {np.abs(accs - accs[0]).max():.2e} (thread counts change "
          f"the rounding, not the model).")
    print()
    return times


# ----------------------------------------------------------------- threading

def _fit(X, y, epochs, hidden, seed, omp_limit, seen):
    def run():
        seen.append(effective_n_threads())
        return MLPClassifier(hidden_layer_sizes=hidden, max_iter=epochs,
                             random_state=seed).fit(X, y)
    if omp_limit:
        # per thread: libgomp keeps the OpenMP thread count per calling thread
        with threadpool_limits(limits=omp_limit, user_api="openmp"):
            return run()
    return run()


def bench_threads(X, y, epochs, hidden, repeats):
    configs = {
        "1 (OpenMP 1 in each thread, BLAS 1)": 1,
        f"default (OpenMP {effective_n_threads()} in each fit)": None,
    }
    rows = []
    blas_before = _blas_threads()
    blas_after_threads = None
    # the outer limit restores BLAS afterwards: concurrent fits restore
    # fastmlp's process-wide BLAS limit out of order (see the report)
    with threadpool_limits(limits=max(blas_before), user_api="blas"):
        times = {(c, mode): [] for c in configs for mode in ("sequential", "2 threads")}
        cpu = {key: [] for key in times}  # process CPU seconds per wall second
        seen = {key: [] for key in times}
        accs = {}
        for r in range(repeats):
            for c, limit in configs.items():
                _log(f"threading round {r + 1}/{repeats}: {c}")
                # BLAS's limit is process-wide: set it once around both runs
                blas = threadpool_limits(limits=limit, user_api="blas")
                with blas:
                    key = (c, "sequential")
                    t0, c0 = time.perf_counter(), time.process_time()
                    models = [_fit(X, y, epochs, hidden, s, limit, seen[key]) for s in (0, 1)]
                    times[key].append(time.perf_counter() - t0)
                    cpu[key].append((time.process_time() - c0) / times[key][-1])
                    accs[key] = [m.score(X, y) for m in models]

                    key = (c, "2 threads")
                    t0, c0 = time.perf_counter(), time.process_time()
                    models = joblib.Parallel(n_jobs=2, backend="threading")(
                        joblib.delayed(_fit)(X, y, epochs, hidden, s, limit, seen[key])
                        for s in (0, 1)
                    )
                    times[key].append(time.perf_counter() - t0)
                    cpu[key].append((time.process_time() - c0) / times[key][-1])
                    accs[key] = [m.score(X, y) for m in models]
                    if limit is None and blas_after_threads is None:
                        blas_after_threads = _blas_threads()
        for c in configs:
            seq = min(times[(c, "sequential")])
            par = min(times[(c, "2 threads")])
            best = {m: int(np.argmin(times[(c, m)])) for m in ("sequential", "2 threads")}
            rows.append((c, seq, par, seen[(c, "sequential")], seen[(c, "2 threads")],
                         accs[(c, "sequential")], accs[(c, "2 threads")],
                         cpu[(c, "sequential")][best["sequential"]],
                         cpu[(c, "2 threads")][best["2 threads"]]))

    print(f"## threading backend: 2 fits ({X.shape[0]}x{X.shape[1]}, hidden={hidden}, "
          f"{epochs} epochs) one after the other vs in 2 threads, best of {repeats}")
    print()
    print("| threads per fit | sequential (s) | 2 threads (s) | speed-up | CPU s per wall s "
          "(seq / thr) | threads seen per fit (seq / thr) | training accuracy (seq / thr) |")
    print("|---|---|---|---|---|---|---|")
    for c, seq, par, s_seen, p_seen, s_acc, p_acc, s_cpu, p_cpu in rows:
        print(f"| {c} | {seq:.2f} | {par:.2f} | {seq / par:.2f}x | {s_cpu:.2f} / {p_cpu:.2f} | "
              f"{sorted(set(s_seen))} / {sorted(set(p_seen))} | "
              f"{', '.join(f'{a:.4f}' for a in s_acc)} / "
              f"{', '.join(f'{a:.4f}' for a in p_acc)} |")
    print()
    print("CPU s per wall s near 2 in the 2-thread row means both fits ran at once "
          "(the GIL is released); near 1 means they took turns or the cores were busy.")
    print(f"BLAS threads before the threaded fits: {blas_before}; right after two default "
          f"fits overlapped in threads: {blas_after_threads} (restored afterwards).")
    print()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="5k x 20 problem, 2 epochs")
    p.add_argument("--repeats", type=int, default=3, help="rounds, best reported (default 3)")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    if args.quick:
        n_samples, n_features, epochs, hidden = 5000, 20, 2, (32,)
    else:
        n_samples, n_features, epochs, hidden = 20000, 50, 10, (128,)
    X, y = make_data(n_samples, n_features)

    load_start = os.getloadavg()
    print("# fastmlp scaling benchmark")
    print()
    print(f"cores: {joblib.cpu_count()}, fastmlp effective_n_threads(): "
          f"{effective_n_threads()}, BLAS threads: {_blas_threads()}, "
          f"load average at start: {load_start[0]:.2f}")
    if load_start[0] > IDLE_LOAD:
        print("(note: the machine was not idle at start; times are pessimistic)")
    print()
    bench_grid_search(X, y, epochs, hidden, args.repeats)
    bench_threads(X, y, epochs, hidden, args.repeats)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
