"""fastmlp: scikit-learn's MLPClassifier and MLPRegressor, compiled.

Change one import::

    from fastmlp import MLPClassifier, MLPRegressor

and, for tables (DataFrames with categorical and missing values),
``TabularMLPClassifier`` and ``TabularMLPRegressor``.
"""
# first, before any compiled module loads OpenMP: how long its idle threads spin
from fastmlp._omp_idle import start_runtime as _start_runtime


def _not_built(exc):
    """ImportError saying what to do when fastmlp's compiled modules are
    missing beside their sources: a source tree (an unpacked sdist, a
    checkout installed without -e) imported in place of an installed
    fastmlp, since Python looks in the current directory first."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    name = (exc.name or "").rpartition(".")[2]
    if not name or not os.path.exists(os.path.join(here, name + ".pyx")):
        return exc
    return ImportError(
        f"{exc}: fastmlp's compiled modules are not built in {here}, a source tree "
        "that Python imported in place of an installed fastmlp (it looks in the current "
        "directory first). Build them there with `pip install -e .` (or `python setup.py "
        "build_ext --inplace`), or run from another directory to use the installed "
        "fastmlp.", name=exc.name, path=exc.path)


try:
    _start_runtime()
except ImportError as _exc:
    raise _not_built(_exc) from _exc
from fastmlp._config import show_config  # noqa: E402
from fastmlp._display import LossCurveDisplay  # noqa: E402
from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor  # noqa: E402
from fastmlp._onnx import to_onnx  # noqa: E402
from fastmlp._tabular import TabularMLPClassifier, TabularMLPRegressor  # noqa: E402
from fastmlp._tabular_preprocessing import TabularPreprocessor  # noqa: E402

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLPRegressor", "show_config", "__version__", "to_onnx",
           "LossCurveDisplay", "TabularMLPClassifier", "TabularMLPRegressor",
           "TabularPreprocessor"]
