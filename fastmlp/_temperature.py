"""Temperature scaling: a classifier's probabilities made calibrated after
training, without changing which class each row gets.

Design: a network trained with label smoothing learns targets
``(1 - eps) * y + eps / K``, so its probabilities stay away from 0 and 1 (a
minority class of 1% is given at least ~eps / K): its log loss can be worse
than predicting the class frequencies.  Guo et al. (2017) fit one number per
network on held-out rows, the temperature ``T``::

    tempered(p) = softmax(log(p) / T)          (row-wise)

``log(p)`` are the logits up to a constant per row, which the softmax
removes, so for a 2-column ``[1 - p, p]`` this is ``sigmoid(logit(p) / T)``.
Dividing every logit of a row by the same ``T > 0`` keeps their order: the
predicted class does not change.  ``T`` minimizes the held-out rows'
weighted log loss, which is convex in ``1 / T``; it is searched within
``TEMPERATURE_RANGE``, so that a held-out split the network classifies
without an error (whose log loss falls for ever as ``T`` shrinks) does not
make the probabilities 0 and 1.
"""
import numpy as np
from scipy.optimize import minimize_scalar

# the temperatures searched (T = 1: the network's own probabilities)
TEMPERATURE_RANGE = (0.1, 10.0)


def _logits(proba):
    """log of the probabilities, a probability of 0 as the smallest float's."""
    return np.log(np.maximum(np.asarray(proba, dtype=np.float64), np.finfo(np.float64).tiny))


def _softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def temper(proba, temperature):
    """``softmax(log(proba) / temperature)`` row by row, in float64;
    ``proba`` as it is (as float64) for a temperature of 1."""
    if temperature == 1.0:
        return np.asarray(proba, dtype=np.float64)
    return _softmax_rows(_logits(proba) / temperature)


def fit_temperature(proba, codes, sample_weight=None):
    """The temperature within ``TEMPERATURE_RANGE`` whose tempered
    ``proba`` (n_rows x n_classes) have the least weighted log loss on the
    rows' classes ``codes`` (column indices); 1.0 when the rows do not show
    every class (none, or a rare class missing from them: the log loss of
    the classes shown falls as T shrinks, and the missing class's
    probabilities would go to 0 with it)."""
    proba = np.asarray(proba)
    if proba.shape[1] < 2 or np.unique(codes).shape[0] < proba.shape[1]:
        return 1.0
    z = _logits(proba)
    z -= z.max(axis=1, keepdims=True)   # the softmax's own shift: exp(beta * z) <= 1
    picked = z[np.arange(z.shape[0]), codes]
    w = (np.ones(z.shape[0]) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    w = w / w.sum()

    def loss(beta):   # beta = 1 / T; log-sum-exp of beta * z, less beta * z_y
        return float(w @ (np.log(np.exp(beta * z).sum(axis=1)) - beta * picked))

    low, high = 1.0 / TEMPERATURE_RANGE[1], 1.0 / TEMPERATURE_RANGE[0]
    beta = minimize_scalar(loss, bounds=(low, high), method="bounded",
                           options={"xatol": 1e-6}).x
    return float(1.0 / beta)
