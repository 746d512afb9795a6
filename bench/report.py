"""Machine description, Markdown tables, JSON and PNG charts.

Design: the suite's results are one plain dict (see ``bench/README.md`` for
its keys); this module only reads it. Numbers that could not be measured are
``None`` in the JSON and an em dash in the tables, never NaN. Every speed-up
printed here has the accuracy (or R^2) of both sides in the same row or
label.
"""

import contextlib
import io
import json
import math
import os
import platform
import sys

ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "MKL_NUM_THREADS",
    "MKL_DEBUG_CPU_TYPE",
)


# --------------------------------------------------------------------------
# Machine
# --------------------------------------------------------------------------


def _cpuinfo():
    model, flags = None, []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    have = set(value.split())
                    flags = [x for x in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                                         "avx512_bf16", "avx512_vnni", "amx_tile") if x in have]
    except OSError:
        pass
    return model or platform.processor() or "unknown", flags


def _version(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return None


def fastmlp_config():
    """``fastmlp.show_config()``: its printed text and return value, or None."""
    try:
        import fastmlp
    except Exception:
        return None
    show = getattr(fastmlp, "show_config", None)
    if show is None:
        return None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            returned = show()
        except Exception as exc:  # report, do not crash the benchmark
            returned = f"show_config() raised {type(exc).__name__}: {exc}"
    return {"printed": buf.getvalue(), "returned": _jsonable(returned)}


def _jsonable(obj):
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return repr(obj)


def machine_info():
    """CPU, cores, kernel, BLAS/OpenMP pools, library versions, env vars.

    Call it after the libraries under test are imported, so that
    ``threadpool_info()`` lists their BLAS and OpenMP runtimes.
    """
    from threadpoolctl import threadpool_info

    model, flags = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    fm = sys.modules.get("fastmlp")
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "logical_cpus": os.cpu_count(),
        "cpus_available": affinity,
        "architecture": platform.machine(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "numpy": _version("numpy"),
            "scipy": _version("scipy"),
            "scikit-learn": _version("scikit-learn"),
            "threadpoolctl": _version("threadpoolctl"),
            "torch": _version("torch"),
            "matplotlib": _version("matplotlib"),
            "fastmlp": getattr(fm, "__version__", None) or _version("fastmlp"),
        },
        "fastmlp_file": getattr(fm, "__file__", None),
        "threadpools": threadpool_info(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
    }


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


def _f(x, fmt="{:.3g}"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return fmt.format(x)


def _ms(seconds):
    if seconds is None:
        return "—"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.3g}"


def _score(r):
    return "—" if r is None else f"{r['score']:.3f}"


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fits_table(fits, libs):
    has_torch = "torch" in libs
    header = ["workload", "dtype", "batch", "n_train", "fastmlp ms/epoch", "acc/R²",
              "sklearn ms/epoch", "acc/R²", "× sklearn"]
    if has_torch:
        header += ["torch ms/epoch (Adam/threads)", "acc/R²", "× torch"]
    header += ["fastmlp real GFLOP/s", "of peak (threads)", "GEMM-limit ms/epoch",
               "of GEMM limit"]
    rows = []
    notes = []
    for f in fits:
        res = f["results"]
        fm, sk, th = res.get("fastmlp"), res.get("sklearn"), res.get("torch")
        n_train = str(fm["n_train"]) if fm else "—"
        capped = [f"{lib} {r['n_train']}" for lib, r in res.items()
                  if r is not None and fm is not None and r["n_train"] != fm["n_train"]]
        if capped:
            n_train += " (" + ", ".join(capped) + ")†"
        row = [f["workload"], f["dtype"], f["batch_size"], n_train,
               _ms(fm and fm["seconds_per_epoch"]), _score(fm),
               _ms(sk and sk["seconds_per_epoch"]), _score(sk), _f(f.get("speedup_vs_sklearn"), "{:.2f}×")]
        if has_torch:
            t = _ms(th and th["seconds_per_epoch"])
            if th is not None:
                t += f" ({th['extra'].get('variant', '?')})"
            elif f.get("torch_error"):
                t = "failed"
                notes.append(f"torch on {f['workload']} {f['dtype']}: {f['torch_error']}")
            row += [t, _score(th), _f(f.get("speedup_vs_torch"), "{:.2f}×")]
        gl = f.get("gemm_limit") or {}
        peak_frac = _f(f.get("fraction_of_peak"), "{:.0%}")
        if f.get("fraction_of_peak") is not None:
            peak_frac += f" ({f.get('fastmlp_threads')}T)"
        row += [_f(f.get("fastmlp_real_gflops"), "{:.1f}"), peak_frac,
                _ms(gl.get("seconds_per_epoch")), _f(f.get("fraction_of_gemm_limit"), "{:.0%}")]
        rows.append(row)
    text = _table(header, rows)
    if any("†" in str(r[3]) for r in rows):
        text += ("\n\n† that library trained on fewer samples: its ms/epoch is for its own n_train, "
                 "speed-ups compare time per sample, and its score is that of a model trained on less data.")
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return text


def threads_table(threads):
    if not threads:
        return ""
    counts = sorted({int(k) for t in threads for k in t["by_threads"]})
    header = ["workload", "dtype"]
    for n in counts:
        header += [f"{n}T ms/epoch", f"{n}T acc"]
    header += [f"speed-up {counts[0]}→{counts[-1]}T"]
    header += [f"GEMM-limit {n}T ms/epoch" for n in counts]
    header += [f"{n}T of GEMM limit" for n in counts]
    rows = []
    for t in threads:
        row = [t["workload"], t["dtype"]]
        for n in counts:
            r = t["by_threads"].get(str(n))
            row += [_ms(r and r["seconds_per_epoch"]), _score(r)]
        row.append(_f(t.get("speedup"), "{:.2f}×"))
        row += [_ms(t["gemm_limit_by_threads"].get(str(n))) for n in counts]
        row += [_f(t["fraction_by_threads"].get(str(n)), "{:.0%}") for n in counts]
        rows.append(row)
    return _table(header, rows)


def predict_table(predict):
    if not predict:
        return ""
    header = ["model", "dtype", "lib", "acc", "1-row median µs", "1-row best µs",
              "rows/s (n rows)", "of forward GEMM limit", "× sklearn (1 row, median)", "× sklearn (rows/s)"]
    rows = []
    for p in predict:
        for lib, r in p["results"].items():
            is_fm = lib == "fastmlp"
            rows.append([p["workload"], p["dtype"], lib, f"{r['score']:.3f}",
                         _f(r["latency_median_us"], "{:.1f}"), _f(r["latency_best_us"], "{:.1f}"),
                         f"{_f(r['rows_per_second'], '{:.3g}')} ({p['n_rows']})",
                         _f(r["fraction_of_forward_limit"], "{:.0%}"),
                         _f(p.get("latency_speedup_vs_sklearn"), "{:.2f}×") if is_fm else "",
                         _f(p.get("throughput_speedup_vs_sklearn"), "{:.2f}×") if is_fm else ""])
    return _table(header, rows)


def memory_table(memory):
    if not memory:
        return ""
    header = ["workload", "lib", "dtype", "n × features", "X MB", "peak RSS growth / X",
              "tracemalloc peak / X"]
    rows = []
    for m in memory:
        if "error" in m:
            failed = f"failed: {m['error'][:60]}"
            rows.append([m.get("workload", "?"), m["lib"], m["dtype"], "—", "—", failed, "—"])
            continue
        x = m["X_bytes"]
        rows.append([m["workload"], m["lib"], m["dtype"], f"{m['n_samples']} × {m['n_features']}",
                     f"{x / 1e6:.1f}", f"{m['hwm_delta_bytes'] / x:.2f}", f"{m['tracemalloc_peak_bytes'] / x:.2f}"])
    return _table(header, rows)


def limits_tables(limits):
    if not limits:
        return ""
    opt = limits.get("optimizer") or []
    text = ""
    if opt:
        header = ["dtype", "parameters", "bytes of p, g, m, v", "ns per parameter", "µs per step"]
        rows = [[o["dtype"], str(o["n_params"]),
                 f"{4 * o['n_params'] * (8 if o['dtype'] == 'float64' else 4) / 1024:.0f} KiB",
                 f"{o['ns_per_param']:.3f}", _f(o["us_per_step"], "{:.3g}")] for o in opt]
        text += "Adam step (fastmlp's kernel, one thread):\n\n" + _table(header, rows)
    gemm = limits.get("gemm") or []
    if gemm:
        header = ["dtype", "M×K×N", "NumPy 1T GFLOP/s", "NumPy 2T GFLOP/s", "SciPy BLAS 1T GFLOP/s"]
        rows = [[g["dtype"], "×".join(str(d) for d in g["shape"]), f"{g['numpy_1t_gflops']:.1f}",
                 f"{g['numpy_2t_gflops']:.1f}", f"{g['scipy_1t_gflops']:.1f}"] for g in gemm]
        text += ("\n\nOne GEMM, A @ B (NumPy: its own OpenBLAS; SciPy BLAS: the one fastmlp's "
                 "threads call):\n\n" + _table(header, rows))
    return text


def machine_lines(machine, config):
    lines = [
        f"- CPU: {machine['cpu_model']} ({machine['cpus_available']} CPUs available of "
        f"{machine['logical_cpus']}; {' '.join(machine['cpu_flags'])}), {machine['architecture']}, "
        f"kernel {machine['kernel']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v),
    ]
    for pool in machine["threadpools"]:
        desc = f"{pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version') or ''}".rstrip()
        if pool.get("architecture"):
            desc += f", kernel {pool['architecture']}"
        if pool.get("threading_layer"):
            desc += f", threading {pool['threading_layer']}"
        desc += f", {pool.get('num_threads')} threads ({os.path.basename(pool.get('filepath', ''))})"
        lines.append(f"- {desc}")
    if machine["env"]:
        lines.append("- env: " + ", ".join(f"{k}={v}" for k, v in machine["env"].items()))
    if config:
        printed = (config.get("printed") or "").strip()
        returned = config.get("returned")
        shown = printed or (returned if isinstance(returned, str) else json.dumps(returned))
        if shown:
            lines.append("- fastmlp.show_config():\n\n```\n" + str(shown).strip() + "\n```")
    return "\n".join(lines)


def _peak_size(results):
    """The side of the GEMM the peak was measured with (results before
    ``peak_size`` was recorded all measured peak.SIZE)."""
    from .peak import SIZE

    return results.get("peak_size", SIZE)


def markdown(results):
    parts = [f"# fastmlp benchmark ({results['mode']} mode, best of {results['repeats']} interleaved repeats)", ""]
    parts.append(machine_lines(results["machine"], results.get("fastmlp_config")))
    for note in results.get("notes", []):
        parts.append(f"- note: {note}")
    size = _peak_size(results)
    if results.get("peaks"):
        from .peak import peak_table
        peaks = {k: {int(n): g for n, g in v.items()} for k, v in results["peaks"].items()}
        parts += ["", "## the machine's peak (same run, SciPy's BLAS, the one fastmlp calls)", "",
                  peak_table(peaks, size)]
    if results["fits"]:
        parts += ["", "## fit: seconds per epoch (Adam), held-out accuracy / R²", "",
                  "Real GFLOP/s count the forward and weight-gradient products of every layer "
                  "and the input gradient of all but the first; \"of peak\" divides them by "
                  f"the {size}³ GEMM peak above at fastmlp's thread count (measured at 1 and 2 "
                  "threads; above 2 threads, the 2-thread peak). \"Of GEMM limit\" is "
                  "NumPy's matmul at the layer shapes (above 100% it says only that fastmlp "
                  "beat NumPy at those shapes).", "",
                  fits_table(results["fits"], results["libs"])]
    if results.get("threads"):
        parts += ["", "## fastmlp thread scaling (threadpool_limits around fit: BLAS and OpenMP)", "",
                  threads_table(results["threads"])]
    if results.get("predict"):
        parts += ["", "## predict", "", predict_table(results["predict"])]
    if results.get("memory"):
        parts += ["", "## peak memory of fit, relative to X.nbytes", "", memory_table(results["memory"])]
    if results.get("limits"):
        parts += ["", "## limits: what a step cannot go below on this machine (bench/README.md)", "",
                  limits_tables(results["limits"])]
    parts += ["", f"Total time: {results['total_seconds']:.1f} s"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# JSON and charts
# --------------------------------------------------------------------------


def _clean(obj):
    """Replace non-finite floats by None so the JSON is strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalar
        return _clean(obj.item())
    return obj


def comma_names(text):
    """The names of a comma-separated option, stripped (none when not given)."""
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def out_dir_problem(path):
    """Why the directory ``path`` cannot take the outputs, or None: it is
    created here if missing, so that a bad ``--out`` fails before the run."""
    if os.path.exists(path) and not os.path.isdir(path):
        return "exists and is not a directory"
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        return f"cannot create the directory ({exc.strerror or exc})"
    if not os.access(path, os.W_OK | os.X_OK):
        return "the directory is not writable"
    return None


def write_json(results, path):
    with open(path, "w") as f:
        json.dump(_clean(results), f, indent=1, allow_nan=False)


def write_charts(results, out_dir, stem):
    """Two PNGs: speed-up per workload (labelled with accuracies) and
    fraction of the GEMM limit. Returns the list of files written, or [] if
    matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return []
    fits = results["fits"]
    if not fits:
        return []
    written = []
    labels = [f"{f['workload']} {f['dtype']}" for f in fits]
    y = list(range(len(fits)))

    # speed-up chart
    others = [lib for lib in ("sklearn", "torch") if lib in results["libs"]]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(fits) + 1.5))
    height = 0.8 / max(1, len(others))
    for j, lib in enumerate(others):
        vals = [f.get(f"speedup_vs_{lib}") or 0.0 for f in fits]
        pos = [i + (j - (len(others) - 1) / 2) * height for i in y]
        ax.barh(pos, vals, height=height, label=f"vs {lib}")
        for p, v, f in zip(pos, vals, fits):
            fm, other = f["results"].get("fastmlp"), f["results"].get(lib)
            if v and fm and other:
                ax.text(v, p, f" {v:.2f}×  (score {fm['score']:.3f} vs {other['score']:.3f})",
                        va="center", fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("fastmlp speed-up (time per sample per epoch; >1 = fastmlp faster)")
    ax.set_title(f"fastmlp fit speed-up, best of {results['repeats']} ({results['mode']} mode)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = os.path.join(out_dir, f"{stem}_speedup.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    # fraction of the machine's peak (real flops over the size^3 GEMM)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(fits) + 1.5))
    vals = [f.get("fraction_of_peak") or 0.0 for f in fits]
    ax.barh(y, vals, color="tab:green")
    for i, (v, f) in enumerate(zip(vals, fits)):
        gf = f.get("fastmlp_real_gflops")
        ax.text(v, i, f" {v:.0%}" + (f"  ({gf:.1f} GFLOP/s)" if gf else ""), va="center", fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"real GFLOP/s / the machine's {_peak_size(results)}³ GEMM peak at the same "
                  "thread count")
    ax.set_title("fastmlp fit: fraction of the machine's peak")
    fig.tight_layout()
    path = os.path.join(out_dir, f"{stem}_peak_fraction.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written
