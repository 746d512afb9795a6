"""fastmlp: scikit-learn's MLPClassifier and MLPRegressor, compiled.

Change one import::

    from fastmlp import MLPClassifier, MLPRegressor
"""
from fastmlp._config import show_config
from fastmlp._display import LossCurveDisplay
from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor
from fastmlp._onnx import to_onnx

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLPRegressor", "show_config", "__version__", "to_onnx",
           "LossCurveDisplay"]
