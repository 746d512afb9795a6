"""Probes that setup.py runs once per build, with the compiler object that
build_ext will compile the extensions with (so CC, CFLAGS, LDFLAGS and the
platform's defaults are the ones the extensions get).

Each probe compiles, links and runs a small program and says yes or no; it
never decides anything.  The decisions (which flags, what to do when a probe
fails) are setup.py's.  Where a probe checks a construct of fastmlp's own
headers (the SIMD clones, the spin barrier), it includes that header, so
the probe and the extensions compile the same code.

Like scikit-learn's setuptools-era openmp_helpers: probe once, report
plainly, and let the caller fall back (build serial) with a loud warning.
"""
import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap

from setuptools.errors import CompileError, LinkError

HERE = os.path.dirname(os.path.abspath(__file__))
HEADERS = os.path.join(HERE, "fastmlp")


@contextlib.contextmanager
def _output_to(path):
    """Send this process's stdout and stderr (and so the compiler's, which
    distutils runs as a child) to a file: a failing probe is expected on
    many systems, and its error messages would read like a failed build."""
    with open(path, "w") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def try_program(compiler, code, compile_args=(), link_args=(), macros=(), run=True):
    """Compile `code` (C), link it as an executable and run it.

    Returns (ok, text): text is the program's output when it ran, else the
    last lines of the compiler's or the program's messages.
    """
    with tempfile.TemporaryDirectory(prefix="fastmlp-probe-") as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(textwrap.dedent(code))
        log = os.path.join(tmp, "probe.log")
        try:
            with _output_to(log):
                objects = compiler.compile(
                    [src], output_dir=tmp, include_dirs=[HEADERS],
                    macros=list(macros), extra_postargs=list(compile_args))
                compiler.link_executable(objects, "probe", output_dir=tmp,
                                         extra_postargs=list(link_args))
        except (CompileError, LinkError):
            # without the temporary directory: the record of a build must
            # not change from one build to the next
            return False, _tail(log, 20).replace(tmp + os.sep, "")
        if not run:
            return True, ""
        exe = os.path.join(tmp, compiler.executable_filename("probe"))
        try:
            out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, str(exc)
        if out.returncode != 0:
            return False, (out.stdout + out.stderr).strip() or f"exit {out.returncode}"
        return True, out.stdout.strip()


def _tail(path, n=6):
    with open(path, errors="replace") as f:
        lines = [line.rstrip() for line in f if line.strip()]
    return "\n".join(lines[-n:])


def reason(text):
    """One line of a failed probe's messages that says why: the first that
    names an error, else the last."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "no message"


def accepts_flag(compiler, flag):
    """Does the compiler take `flag` without a warning (gcc-style drivers)?"""
    ok, _ = try_program(compiler, "int main(void) { return 0; }\n",
                        compile_args=[flag, "-Werror"], run=False)
    return ok


def openmp_works(compiler, compile_args, link_args):
    """Does an OpenMP program build with these flags, and run a team?"""
    return try_program(
        compiler,
        """\
        #ifndef _OPENMP
        #error "_OPENMP is not defined: these flags do not turn OpenMP on"
        #endif
        #include <omp.h>
        #include <stdio.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel num_threads(2) reduction(+:n)
            n += 1;
            printf("%d %d", n, (int) _OPENMP);
            return !(n >= 1 && omp_get_max_threads() > 0);
        }
        """,
        compile_args, link_args)


def target_clones_work(compiler, compile_args):
    """Do _simd.h's clones (ifunc dispatch) compile, link and run?

    The probe includes _simd.h with FASTMLP_USE_CLONES=1, so it tests the
    very attribute the kernels use; the output names the clone it ran."""
    return try_program(
        compiler,
        """\
        #include <stdio.h>
        #if !defined(__x86_64__)
        #error "not x86-64: the clones are x86-64 code"
        #elif !(defined(__GNUC__) || defined(__clang__))
        #error "target_clones is a GCC and clang attribute"
        #endif
        #include "_simd.h"
        #if !FASTMLP_HAVE_CLONES
        #error "_simd.h does not make clones on this target"
        #endif
        FASTMLP_CLONES int fastmlp_probe_sum(const int* x, int n) {
            int s = 0;
            for (int i = 0; i < n; i++) s += x[i];
            return s;
        }
        int main(void) {
            int x[64];
            for (int i = 0; i < 64; i++) x[i] = i;
            if (fastmlp_probe_sum(x, 64) != 2016) return 1;
            printf("%s", fastmlp_simd_path());
            return 0;
        }
        """,
        compile_args, macros=[("FASTMLP_USE_CLONES", "1")])


def spin_barrier_works(compiler, compile_args):
    """Does _spin_barrier.h's spin barrier (C11 atomics, _Alignas,
    sched_yield) compile, link and run (one thread: it returns at once)?"""
    return try_program(
        compiler,
        """\
        #include <stdio.h>
        #ifdef __STDC_NO_ATOMICS__
        #error "no C11 atomics here (__STDC_NO_ATOMICS__)"
        #endif
        #include "_spin_barrier.h"
        #if !FASTMLP_HAVE_SPIN_BARRIER
        #error "_spin_barrier.h did not compile the spin barrier"
        #endif
        int main(void) {
            fastmlp_spin_barrier b;
            int local = 0;
            fastmlp_spin_init(&b, 1);
            fastmlp_spin_wait(&b, &local);
            fastmlp_spin_wait(&b, &local);
            printf("%s", FASTMLP_BARRIER_KIND);
            return local != 0;
        }
        """,
        compile_args, macros=[("FASTMLP_SPIN_BARRIER", "1")])


def compiler_version(compiler):
    """The first line of `<cc> --version`, for the build record."""
    command = getattr(compiler, "compiler_so", None) or getattr(compiler, "compiler", None)
    if not command:
        return compiler.compiler_type
    try:
        out = subprocess.run([command[0], "--version"], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.SubprocessError):
        return command[0]
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else command[0]
