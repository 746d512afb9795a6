"""Build the fastmlp Cython extensions.

OpenMP is probed once: if the compiler cannot build and link a tiny OpenMP
program, the extensions are built serial with a loud warning, or the build
fails when FASTMLP_REQUIRE_OPENMP=1.  FASTMLP_DEBUG=1 turns bounds checking on.
Every BLAS call goes through scipy.linalg.cython_blas: no BLAS is linked here.
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup

MODULES = [
    "_openmp",
    "_finite",
    "_blas",
    "_activations",
    "_losses",
    "_optimizers",
    "_online",
    "_network",
]

# -fno-math-errno lets exp/sqrt loops vectorize; it does not change IEEE
# results (unlike -ffast-math, which we never use).  No -march=native.
BASE_COMPILE_ARGS = ["-O3", "-fno-math-errno"]

# Per module, on top of the above: _vexp.h's exp loop ends in selects on
# float comparisons (clamping, overflow, NaN), and GCC if-converts, and so
# vectorizes, such a loop only when comparisons may not trap.  fastmlp reads
# no floating-point exception flags, and no value changes (every operation
# stays IEEE's; only which flags get raised may differ).
MODULE_COMPILE_ARGS = {"_losses": ["-fno-trapping-math"]}


def _openmp_flag():
    return ["-fopenmp"]


def check_openmp_support():
    """Compile and run a small OpenMP program once; return the flags or []."""
    cc = sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    code = textwrap.dedent(
        """\
        #include <omp.h>
        #include <stdio.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            printf("%d", n > 0 && omp_get_max_threads() > 0);
            return 0;
        }
        """
    )
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(code)
        flags = _openmp_flag()
        subprocess.run(
            [cc, *flags, src, "-o", exe, *flags],
            check=True,
            capture_output=True,
        )
        out = subprocess.run([exe], check=True, capture_output=True, text=True)
        return flags if out.stdout.strip() == "1" else []
    except (OSError, subprocess.CalledProcessError):
        return []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def openmp_flags():
    flags = check_openmp_support()
    if flags:
        return flags
    message = (
        "\n" + "*" * 72 + "\n"
        "fastmlp: the C compiler cannot build OpenMP programs.\n"
        "fastmlp will be built SERIAL: every kernel runs on one thread.\n"
        "Install a compiler with OpenMP (gcc, or clang with libomp) for speed.\n"
        "Set FASTMLP_REQUIRE_OPENMP=1 to make this an error.\n" + "*" * 72
    )
    if os.environ.get("FASTMLP_REQUIRE_OPENMP", "0") not in ("", "0"):
        sys.exit(message)
    warnings.warn(message)
    print(message, file=sys.stderr)
    return []


def extensions():
    from Cython.Build import cythonize

    omp = openmp_flags()
    debug = os.environ.get("FASTMLP_DEBUG", "0") not in ("", "0")
    exts = [
        Extension(
            f"fastmlp.{name}",
            [f"fastmlp/{name}.pyx"],
            include_dirs=["fastmlp"],
            depends=sorted(glob.glob("fastmlp/*.h")),
            extra_compile_args=BASE_COMPILE_ARGS + MODULE_COMPILE_ARGS.get(name, []) + omp,
            extra_link_args=omp,
            define_macros=[("FASTMLP_OPENMP", "1" if omp else "0")],
        )
        for name in MODULES
    ]
    return cythonize(
        exts,
        compile_time_env={"FASTMLP_OPENMP": bool(omp)},
        compiler_directives={
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": False,
            "initializedcheck": debug,
            "nonecheck": False,
            "cdivision": True,
            "embedsignature": True,
        },
    )


setup(ext_modules=extensions())
