"""Whether the tests run on this checkout's own fastmlp (built in place, or
installed editable) or on an installed one, as from an unpacked sdist
(``pytest path/to/fastmlp-X.Y/tests`` after installing its wheel).  There
the unbuilt ``fastmlp/`` beside ``tests/`` must not come first on a path
(it shadowed the installed package: "No module named fastmlp._openmp"),
and the benchmark suite (``bench/``, a checkout's only: it is no installed
package) is absent."""
import os

import fastmlp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTING_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__))) == ROOT
HAS_BENCH = TESTING_CHECKOUT and os.path.isfile(os.path.join(ROOT, "bench", "__main__.py"))
NO_BENCH = "the benchmark suite (bench/) is a checkout's: these tests need one"


def pythonpath(env):
    """PYTHONPATH for a subprocess that imports fastmlp (and bench): the
    checkout first when it is what is being tested, else as it was."""
    paths = [ROOT] if TESTING_CHECKOUT else []
    return os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])


def cwd():
    """A working directory for ``python -m``, which puts it first on the
    path: the checkout when it is what is being tested, else the tests'."""
    return ROOT if TESTING_CHECKOUT else os.path.dirname(os.path.abspath(__file__))
