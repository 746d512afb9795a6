"""fastmlp: scikit-learn's MLPClassifier and MLPRegressor, compiled.

Change one import::

    from fastmlp import MLPClassifier, MLPRegressor

and, for tables (DataFrames with categorical and missing values),
``TabularMLPClassifier`` and ``TabularMLPRegressor``.
"""
# first, before any compiled module loads OpenMP: how long its idle threads spin
from fastmlp._omp_idle import start_runtime as _start_runtime

_start_runtime()
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
