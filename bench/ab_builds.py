"""Two builds of fastmlp, interleaved: ``python -m bench.ab_builds --before PATH --after PATH``.

Design: each round runs one fresh process per build (a checkout with its
extensions built in place: ``git worktree add /tmp/before <commit>`` then
``python setup.py build_ext --inplace`` there), alternating, and each
process times whole ``fit`` calls of a 44-256-256-1 network (the tabular
estimators' shape) with SiLU or ReLU, with and without dropout, in ms per
batch-256 step.  The figure per build is the best over rounds, so the two
builds meet the same machine noise (bench/README.md, "Method").
"""
import argparse
import json
import os
import subprocess
import sys

_CHILD = r'''
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
from fastmlp import MLPRegressor
rows, epochs = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.RandomState(0)
X = rng.normal(size=(rows, 44)).astype(np.float32)
y = rng.normal(size=rows).astype(np.float32)
base = dict(hidden_layer_sizes=(256, 256), solver="adamw", batch_size=256, max_iter=epochs,
            tol=0, n_iter_no_change=epochs + 1, random_state=0, alpha=0.0, weight_decay=0.02)
out = {}
for name, kw in [("silu+dropout", dict(activation="silu", dropout=0.15)),
                 ("silu", dict(activation="silu")),
                 ("relu+dropout", dict(activation="relu", dropout=0.15)),
                 ("relu", dict(activation="relu"))]:
    model = MLPRegressor(**base, **kw)
    tic = time.perf_counter()
    model.fit(X, y)
    steps = epochs * -(-rows // 256)
    out[name] = (time.perf_counter() - tic) / steps * 1e3
    assert model.__module__.startswith("fastmlp")
import fastmlp
out["_path"] = fastmlp.__file__
print(json.dumps(out))
'''


def run(before, after, rounds=5, rows=18000, epochs=4):
    """{workload: (before ms/step, after ms/step)}, best of ``rounds``."""
    times = {"before": [], "after": []}
    for _ in range(rounds):
        for name, path in (("before", before), ("after", after)):
            proc = subprocess.run([sys.executable, "-c", _CHILD, os.path.abspath(path),
                                   str(rows), str(epochs)],
                                  capture_output=True, text=True, cwd=os.path.abspath(path))
            if proc.returncode:
                raise RuntimeError(f"{name} ({path}) failed:\n{proc.stderr[-2000:]}")
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            if not got.pop("_path").startswith(os.path.abspath(path)):
                raise RuntimeError(f"{name} did not import fastmlp from {path}")
            times[name].append(got)
    return {k: (min(t[k] for t in times["before"]), min(t[k] for t in times["after"]))
            for k in times["before"][0]}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.ab_builds", description=__doc__)
    p.add_argument("--before", required=True, help="checkout of the build to compare against")
    p.add_argument("--after", default=".", help="checkout of the new build (default: here)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rows", type=int, default=18000)
    args = p.parse_args(argv)
    for name, (b, a) in run(args.before, args.after, args.rounds, args.rows).items():
        print(f"{name:14s} before {b:.2f} ms/step  after {a:.2f} ms/step  ({b / a:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
