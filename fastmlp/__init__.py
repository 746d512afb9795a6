"""fastmlp: scikit-learn's MLPClassifier and MLPRegressor, compiled.

Change one import::

    from fastmlp import MLPClassifier, MLPRegressor

and, for tables (DataFrames with categorical and missing values),
``TabularMLPClassifier`` and ``TabularMLPRegressor``.
"""
from fastmlp._config import show_config
from fastmlp._display import LossCurveDisplay
from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor
from fastmlp._onnx import to_onnx
from fastmlp._tabular import TabularMLPClassifier, TabularMLPRegressor
from fastmlp._tabular_preprocessing import TabularPreprocessor

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLPRegressor", "show_config", "__version__", "to_onnx",
           "LossCurveDisplay", "TabularMLPClassifier", "TabularMLPRegressor",
           "TabularPreprocessor"]
