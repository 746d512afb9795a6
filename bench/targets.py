"""``python -m bench --targets``: the quiet-machine targets of issue 15 that
the main tables do not show directly.

Design: each figure is a ratio of times measured in this run, best of
``repeats`` interleaved rounds, the libraries ``PAUSE`` seconds apart (as
in bench/contention.py: a library's idle threads spin for a while after it
returns).

- Online SGD: digits (standardized, all 1,797 rows) at batch size 1, Adam,
  ``fit`` of 1 epoch and of 20 epochs end to end (validation, set-up and
  all), float32 and float64: fastmlp against scikit-learn (target >= 50x)
  and against a PyTorch loop when torch is installed (target >= 100x).
- Fixed cost: a default ``MLPClassifier(max_iter=1)`` fit on digits,
  against one epoch inside a longer fit (``(fit of 21 epochs - fit of 1) /
  20``); target <= 1.5x.

The fraction-of-peak targets (100-256-128-10 at batch 256, 784-1024-1024-10
at batch 512) are the main bench's "of peak" column:
``python -m bench --full --only synth_100_256_128,mnist_1024x2``.
"""

import time
import warnings

import numpy as np

from bench.contention import PAUSE  # seconds between timed runs of different libraries


def _digits(dtype):
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(dtype), y


def _fit_seconds(cls, X, y, fitted=None, **kw):
    """Seconds of one fit; the estimator is appended to ``fitted`` (a list) if given."""
    est = cls(random_state=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
    if fitted is not None:
        fitted.append(est)
    return seconds


def _pacer_summary(est):
    """What fastmlp's pacer measured in a fit: the team's and one thread's
    cost per sample (the VM this was written on ran the 2-thread online step
    at 1.6 or at 2.1 us a sample for minutes at a time, whatever the code:
    this says which) and the segments each ran."""
    report = getattr(est, "_pace_report", None)
    if not report or not report.get("segments"):
        return None
    return {"team_us": report["team_cost"] * 1e6, "solo_us": report["solo_cost"] * 1e6,
            "team_segments": int(report["team_segments"]),
            "solo_segments": int(report["solo_segments"])}


def _torch_online_seconds(X, y, epochs):
    """A plain PyTorch loop at batch size 1 (Adam), the fastest way we know
    to write it: tensors made once, one sample per step."""
    import torch

    torch.manual_seed(0)
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    t0 = time.perf_counter()
    Xt = torch.from_numpy(X).to(dtype)
    yt = torch.from_numpy(y.astype(np.int64))
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 100), torch.nn.ReLU(),
                              torch.nn.Linear(100, 10)).to(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for i in torch.randperm(X.shape[0], generator=g).tolist():
            opt.zero_grad()
            loss_fn(net(Xt[i:i + 1]), yt[i:i + 1]).backward()
            opt.step()
    return time.perf_counter() - t0


def online(repeats=3, epochs_list=(1, 20), with_torch=False, log=print, pause=PAUSE):
    from sklearn.neural_network import MLPClassifier as SkMLP

    from fastmlp import MLPClassifier

    rows = []
    for dtype in (np.float32, np.float64):
        X, y = _digits(dtype)
        for epochs in epochs_list:
            kw = dict(hidden_layer_sizes=(100,), batch_size=1, max_iter=epochs, tol=0.0,
                      n_iter_no_change=10**6)
            times = {"fastmlp": [], "sklearn": [], "torch": []}
            fitted = []
            for _ in range(repeats):
                # each library PAUSE after the one before, as in
                # bench/contention.py, so that none runs beside another's
                # spinning idle threads (on 2026-12-06 it did not move
                # fastmlp's figures: 4.9 ms for the 1-epoch float32 fit)
                time.sleep(pause)
                times["fastmlp"].append(_fit_seconds(MLPClassifier, X, y, fitted, **kw))
                time.sleep(pause)
                times["sklearn"].append(_fit_seconds(SkMLP, X, y, **kw))
                if with_torch:
                    time.sleep(pause)
                    times["torch"].append(_torch_online_seconds(X, y, epochs))
            best = {k: min(v) for k, v in times.items() if v}
            row = {"dtype": np.dtype(dtype).name, "epochs": epochs, **best,
                   "x_sklearn": best["sklearn"] / best["fastmlp"]}
            if "torch" in best:
                row["x_torch"] = best["torch"] / best["fastmlp"]
            pacer = _pacer_summary(fitted[int(np.argmin(times["fastmlp"]))])
            if pacer:
                row["pacer"] = pacer
            log(f"  online {row}")
            rows.append(row)
    return rows


def fixed_cost(repeats=5, log=print):
    from fastmlp import MLPClassifier

    X, y = _digits(np.float64)
    one, long = [], []
    for _ in range(repeats):
        one.append(_fit_seconds(MLPClassifier, X, y, max_iter=1))
        long.append(_fit_seconds(MLPClassifier, X, y, max_iter=21, tol=0.0,
                                 n_iter_no_change=10**6))
    per_epoch = (min(long) - min(one)) / 20
    out = {"fit_1_epoch": min(one), "fit_21_epochs": min(long), "epoch_in_long_fit": per_epoch,
           "ratio": min(one) / per_epoch}
    log(f"  fixed cost {out}")
    return out


def report(rows, fixed):
    lines = ["| dtype | epochs | fastmlp fit | scikit-learn fit | × scikit-learn (target ≥ 50) |"
             + (" PyTorch loop | × PyTorch (target ≥ 100) |" if "torch" in rows[0] else ""),
             "|---|---|---|---|---|" + ("---|---|" if "torch" in rows[0] else "")]
    for r in rows:
        line = (f"| {r['dtype']} | {r['epochs']} | {r['fastmlp'] * 1e3:.1f} ms | "
                f"{r['sklearn'] * 1e3:.0f} ms | {r['x_sklearn']:.1f}× |")
        if "torch" in r:
            line += f" {r['torch'] * 1e3:.0f} ms | {r['x_torch']:.1f}× |"
        lines.append(line)
    paced = [r for r in rows if r.get("pacer")]
    if paced:
        lines += ["", "fastmlp's pacer in its best fit (cost per sample; segments):"]
        lines += [f"- {r['dtype']}, {r['epochs']}-epoch fit: team {r['pacer']['team_us']:.2f} µs "
                  f"({r['pacer']['team_segments']}), one thread {r['pacer']['solo_us']:.2f} µs "
                  f"({r['pacer']['solo_segments']})" for r in paced]
    lines += ["", f"Fixed cost: a default `max_iter=1` fit takes {fixed['fit_1_epoch'] * 1e3:.2f} ms; "
              f"one epoch inside a 21-epoch fit {fixed['epoch_in_long_fit'] * 1e3:.2f} ms: "
              f"{fixed['ratio']:.2f}× (target ≤ 1.5×)."]
    return "\n".join(lines)


def main(args, log):
    import importlib.util
    import os

    with_torch = importlib.util.find_spec("torch") is not None and not args.no_torch
    # load SciPy's BLAS (the one fastmlp calls) first, so that it is listed
    # beside NumPy's, each named by its file (libscipy_openblas: SciPy's)
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_info
    log("targets: BLAS " + "; ".join(
        f"{os.path.basename(i.get('filepath') or '')}: "
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info() if i.get("user_api") == "blas"))
    rows = online(repeats=args.repeats, with_torch=with_torch,
                  epochs_list=(1,) if args.smoke else (1, 20), log=log)
    fixed = fixed_cost(repeats=max(args.repeats, 3), log=log)
    print(report(rows, fixed))
