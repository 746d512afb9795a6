"""Build the fastmlp Cython extensions.

Every compiler setting is here, decided once per build (in build_ext, with
the compiler object that then builds the extensions) from small programs
that _build_utils.py compiles, links and runs:

  OpenMP       probed.  Without it fastmlp builds serial (every kernel on
               one thread) with a loud warning.  FASTMLP_OPENMP=0 builds
               serial anyway (as Apple's clang would); FASTMLP_OPENMP=1, or
               FASTMLP_REQUIRE_OPENMP=1, makes a failed probe an error.
  SIMD clones  the AVX-512, AVX2+FMA and baseline clones of the C loops
               (_simd.h) need the compiler, linker and C library to do
               ifunc dispatch: probed.  Without it the loops are built once,
               for the baseline (portable loops).  FASTMLP_SIMD_CLONES=0
               forces that; =1 makes a failed probe an error.
  barrier      the online step's spin barrier (_spin_barrier.h) needs C11
               atomics and sched_yield: probed.  Without them the threads
               meet on OpenMP's barrier.  FASTMLP_BARRIER=omp forces that;
               =spin makes a failed probe an error.
  debug        FASTMLP_DEBUG=1 turns Cython's bounds checks on, and the
               engine's asserts of its layout invariants (_debug.h).

Every BLAS call goes through scipy.linalg.cython_blas: no BLAS is linked.
What was decided, and why, is written to fastmlp/_build_info.py beside the
extensions; fastmlp.show_config() prints it next to what the compiler
itself reported (fastmlp/_build_facts.pyx).
"""
import os
import pprint
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _build_utils  # noqa: E402  (beside this file; in the sdist by MANIFEST.in)

MODULES = [
    "_tuning",
    "_openmp",
    "_build_facts",
    "_finite",
    "_blas",
    "_activations",
    "_losses",
    "_optimizers",
    "_csr",
    "_dropout",
    "_layers",
    "_input_layer",
    "_step",
    "_pacing",
    "_online",
    "_network",
    "_predict",
    "_quantile",
]

# gcc-style drivers (gcc, clang, icx).  -fno-math-errno lets exp/sqrt loops
# vectorize; it does not change IEEE results (unlike -ffast-math, which we
# never use).  No -march=native: the SIMD clones pick the CPU's instructions
# at load time.
UNIX_COMPILE_ARGS = ["-O3", "-fno-math-errno"]
MSVC_COMPILE_ARGS = ["/O2"]

# Per module, on top of the above, where the compiler takes them:
# _vexp.h's exp loop (and _vact.h's SiLU loops around it) ends in selects
# on float comparisons (clamping, overflow, NaN), and GCC if-converts, and
# so vectorizes, such a loop only when comparisons may not trap.  fastmlp reads no floating-point exception
# flags, and no value changes (every operation stays IEEE's; only which
# flags get raised may differ).  clang does not model traps by default.
UNIX_MODULE_ARGS = {"_losses": ["-fno-trapping-math"],
                    "_activations": ["-fno-trapping-math"],  # _vact.h, the same loops
                    "_dropout": ["-fno-trapping-math"],  # _vdropout.h's selects
                    "_input_layer": ["-fno-trapping-math"],  # _vtrig.h's selects
                    # np.interp's bits: a * b + c stays two roundings
                    "_quantile": ["-ffp-contract=off"]}

# (compile args, link args) to try for OpenMP, in order
UNIX_OPENMP = [(["-fopenmp"], ["-fopenmp"])]
if sys.platform == "darwin":
    # Apple's clang: the OpenMP runtime (libomp) comes separately, with its
    # include and library directories in CPPFLAGS and LDFLAGS
    UNIX_OPENMP.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
MSVC_OPENMP = [(["/openmp"], [])]

# In a serial build, -fopenmp-simd keeps the `omp simd` loops (the
# optimizer's vectorized sums) vectorizing without the OpenMP runtime.
UNIX_SERIAL_ARGS = ["-fopenmp-simd"]


def _switch(name, choices):
    """An environment switch: None when unset (probe and decide), else one
    of `choices`."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in choices:
        sys.exit(f"fastmlp: {name}={value!r}: expected one of {', '.join(choices)} or auto")
    return value


def _loud(message):
    bar = "*" * 72
    print(f"\n{bar}\n{message}\n{bar}", file=sys.stderr, flush=True)


def _decide_openmp(compiler, msvc):
    """OpenMP (compile args, link args, record) from the switch and the probe."""
    switch = _switch("FASTMLP_OPENMP", ("0", "1"))
    if switch is None and _switch("FASTMLP_REQUIRE_OPENMP", ("0", "1")) == "1":
        switch = "1"
    if switch == "0":
        return [], [], {"enabled": False, "why": "FASTMLP_OPENMP=0: serial by request"}
    failures = []
    for compile_args, link_args in MSVC_OPENMP if msvc else UNIX_OPENMP:
        ok, out = _build_utils.openmp_works(compiler, compile_args, link_args)
        if ok:
            version = out.split()[-1]
            return compile_args, link_args, {
                "enabled": True, "version": int(version),
                "why": f"probe: a team ran with {' '.join(compile_args)}"}
        failures.append(f"{' '.join(compile_args)}: {_build_utils.reason(out)}")
    message = (
        "fastmlp: the C compiler cannot build OpenMP programs\n  "
        + "\n  ".join(failures) + "\n"
        "fastmlp will be built SERIAL: every kernel runs on one thread.\n"
        "Install a compiler with OpenMP (gcc, or clang with libomp) for speed.\n"
        "Set FASTMLP_OPENMP=1 to make this an error.")
    if switch == "1":
        sys.exit(message)
    _loud(message)
    return [], [], {"enabled": False, "why": "probe failed: " + "; ".join(failures)}


def _decide_clones(compiler, msvc, args):
    """SIMD clones (macro value, record) from the switch and the probe."""
    switch = _switch("FASTMLP_SIMD_CLONES", ("0", "1"))
    if switch == "0":
        return "0", {"enabled": False, "why": "FASTMLP_SIMD_CLONES=0: portable loops by request"}
    ok, out = (False, "not a gcc-style compiler") if msvc else \
        _build_utils.target_clones_work(compiler, args)
    if ok:
        return "1", {"enabled": True, "why": f"probe: the clones ran ({out})"}
    why = _build_utils.reason(out)
    if switch == "1":
        sys.exit(f"fastmlp: FASTMLP_SIMD_CLONES=1 but the clones do not build here: {why}")
    print(f"fastmlp: no SIMD clones ({why}); the C loops are built once, portable",
          file=sys.stderr, flush=True)
    return "0", {"enabled": False, "why": f"probe failed: {why}"}


def _decide_barrier(compiler, msvc, args):
    """The online step's barrier (macro value, record)."""
    switch = _switch("FASTMLP_BARRIER", ("spin", "omp"))
    if switch == "omp":
        return "0", {"kind": "omp", "why": "FASTMLP_BARRIER=omp: OpenMP barrier by request"}
    ok, out = (False, "not a gcc-style compiler") if msvc else \
        _build_utils.spin_barrier_works(compiler, args)
    if ok:
        return "1", {"kind": "spin", "why": "probe: C11 atomics and sched_yield work"}
    why = _build_utils.reason(out)
    if switch == "spin":
        sys.exit(f"fastmlp: FASTMLP_BARRIER=spin but it does not build here: {why}")
    print(f"fastmlp: the online step meets on OpenMP's barrier, slower than the "
          f"spin barrier ({why})", file=sys.stderr, flush=True)
    return "0", {"kind": "omp", "why": f"probe failed: {why}"}


def configure(compiler):
    """Probe once; return (common compile args, link args, macros,
    per-module compile args, the record of what was decided and why)."""
    msvc = compiler.compiler_type == "msvc"
    base = list(MSVC_COMPILE_ARGS if msvc else UNIX_COMPILE_ARGS)
    omp_compile, omp_link, openmp = _decide_openmp(compiler, msvc)
    if not openmp["enabled"] and not msvc:
        base += [a for a in UNIX_SERIAL_ARGS if _build_utils.accepts_flag(compiler, a)]
    clones, clones_record = _decide_clones(compiler, msvc, base)
    spin, barrier = _decide_barrier(compiler, msvc, base + omp_compile)
    module_args = {} if msvc else {
        name: [a for a in args if _build_utils.accepts_flag(compiler, a)]
        for name, args in UNIX_MODULE_ARGS.items()}
    debug = _switch("FASTMLP_DEBUG", ("0", "1")) == "1"
    macros = [("FASTMLP_USE_CLONES", clones), ("FASTMLP_SPIN_BARRIER", spin),
              ("FASTMLP_DEBUG", "1" if debug else "0")]  # _debug.h's layout asserts
    record = {
        "compiler": {"type": compiler.compiler_type,
                     "command": (getattr(compiler, "compiler_so", None) or ["?"])[0],
                     "version": _build_utils.compiler_version(compiler)},
        "openmp": openmp,
        "simd_clones": clones_record,
        "barrier": barrier,
        "debug": debug,
        "compile_args": base + omp_compile,
        "link_args": omp_link,
        "module_args": module_args,
        "macros": dict(macros),
    }
    return base + omp_compile, omp_link, macros, module_args, record


def cython_directives(debug):
    return {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": False,
        "initializedcheck": debug,
        "nonecheck": False,
        "cdivision": True,
        "embedsignature": True,
    }


def _read_record(path):
    try:
        with open(path) as f:
            scope = {}
            exec(f.read(), scope)
            return scope.get("BUILD")
    except OSError:
        return None


class build_ext(_build_ext):
    """Probe, cythonize and set the flags, then build as usual.

    The record of the build (fastmlp/_build_info.py) is written beside the
    extensions; when it differs from the last build's in the same build
    directory (another compiler, FASTMLP_DEBUG, ...), everything is
    cythonized and compiled again instead of trusting file dates."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel in (None, True):  # one job per core (Cython, then the C compiler)
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        from Cython.Build import cythonize

        compile_args, link_args, macros, module_args, record = configure(self.compiler)
        record["cython_directives"] = cython_directives(record["debug"])
        self._record_path = os.path.join(self.build_lib, "fastmlp", "_build_info.py")
        if _read_record(self._record_path) != record:
            self.force = True
        for ext in self.extensions:
            name = ext.name.rsplit(".", 1)[-1]
            ext.sources = [f"fastmlp/{name}.pyx"]
            ext.extra_compile_args = compile_args + module_args.get(name, [])
            ext.extra_link_args = list(link_args)
            ext.define_macros = list(macros)
        # the C files go to the build directory: they depend on the directives
        cythonized = cythonize(
            self.extensions, build_dir=os.path.join(self.build_temp, "cython"),
            compiler_directives=record["cython_directives"], force=self.force, quiet=True,
            nthreads=self.parallel if self.parallel > 1 else 0)
        for ext, new in zip(self.extensions, cythonized):
            assert ext.name == new.name
            ext.sources = new.sources
        print("fastmlp build: " + "; ".join(
            [f"{record['compiler']['version']}",
             f"OpenMP {'on' if record['openmp']['enabled'] else 'OFF'}",
             f"SIMD clones {'on' if record['simd_clones']['enabled'] else 'off'}",
             f"barrier {record['barrier']['kind']}",
             f"debug {'on' if record['debug'] else 'off'}"]), file=sys.stderr, flush=True)
        super().build_extensions()
        # written once every extension is built: a build stopped halfway
        # leaves the previous record, so the next one compiles everything
        os.makedirs(os.path.dirname(self._record_path), exist_ok=True)
        with open(self._record_path, "w") as f:
            f.write('"""Written by setup.py: how this fastmlp was built, and why '
                    '(fastmlp.show_config() prints it)."""\n')
            f.write("BUILD = " + pprint.pformat(record, sort_dicts=False) + "\n")

    def copy_extensions_to_source(self):
        super().copy_extensions_to_source()
        shutil.copyfile(self._record_path, os.path.join("fastmlp", "_build_info.py"))


setup(
    ext_modules=[
        Extension(f"fastmlp.{name}", [f"fastmlp/{name}.pyx"], include_dirs=["fastmlp"],
                  depends=sorted(f"fastmlp/{h}" for h in os.listdir("fastmlp")
                                 if h.endswith(".h")))
        for name in MODULES
    ],
    cmdclass={"build_ext": build_ext},
)
