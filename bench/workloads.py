"""The benchmark problems: shapes, batch sizes, epochs and data generators.

Design: a ``Workload`` is a frozen description (network shape, batch size,
number of epochs, sample counts per mode) plus a generator that returns a
train/test split in the requested dtype. Every mode keeps the network shapes
and batch sizes; quick and smoke modes shrink only sample counts and epochs.
Data are generated from a fixed seed so every library sees the same arrays.

``caps`` limits how many training samples a slow library is given (PyTorch
and scikit-learn at batch size 1 run one Python-level step per sample). The
runners report time per sample as well as per epoch, and speed-ups are
computed from time per sample, so a capped library is compared honestly.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp

MODES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Sizes:
    """Sample counts and epochs for one mode."""

    n_train: int
    n_test: int
    epochs: int
    # library name -> maximum number of training samples given to it
    caps: Dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """One fit benchmark.

    Attributes
    ----------
    name : str
        Identifier used by ``--only`` and in the JSON.
    kind : {"classification", "regression"}
    n_features : int
    hidden : tuple of int
        ``hidden_layer_sizes``.
    n_outputs : int
        Number of output units (classes for classification, >2 classes).
    batch_size : int
    sizes : dict
        Mode name -> ``Sizes``.
    make : callable
        ``make(n_train, n_test, dtype) -> X_train, X_test, y_train, y_test``.
    sparse : bool
        Whether X is a CSR matrix.
    description : str
    """

    name: str
    kind: str
    n_features: int
    hidden: Tuple[int, ...]
    n_outputs: int
    batch_size: int
    sizes: Dict[str, Sizes]
    make: Callable
    sparse: bool = False
    description: str = ""

    def layer_shapes(self):
        """List of ``(fan_in, fan_out)`` for each weight matrix."""
        units = [self.n_features, *self.hidden, self.n_outputs]
        return list(zip(units[:-1], units[1:]))

    def params_per_sample(self):
        """Sum of fan_in * fan_out over the layers."""
        return sum(a * b for a, b in self.layer_shapes())


# --------------------------------------------------------------------------
# Data generators. Each returns float64/float32 X in the requested dtype and
# int64 labels (classification) or dtype targets (regression).
# --------------------------------------------------------------------------


def _standardize(X_train, X_test):
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std


def _split(X, y, n_train, n_test):
    return X[:n_train], X[n_train : n_train + n_test], y[:n_train], y[n_train : n_train + n_test]


def make_digits(n_train, n_test, dtype):
    """scikit-learn's 8x8 digits (1797 samples), shuffled, standardized."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(X.shape[0])
    X, y = X[order], y[order]
    n_total = X.shape[0]
    n_test = min(n_test, n_total // 4)
    n_train = min(n_train, n_total - n_test)
    X_train, X_test = X[:n_train], X[n_total - n_test :]
    y_train, y_test = y[:n_train], y[n_total - n_test :]
    X_train, X_test = _standardize(X_train, X_test)
    return X_train.astype(dtype), X_test.astype(dtype), y_train.astype(np.int64), y_test.astype(np.int64)


def _gaussian_classes(n, n_features, n_classes, n_informative, seed, separation=1.5):
    """Gaussian classes that differ on a random low-dimensional subspace.

    Labels come from the nearest of ``n_classes`` centroids placed in an
    ``n_informative``-dimensional subspace, so the problem is learnable but
    not linearly trivial at a few epochs.
    """
    rng = np.random.default_rng(seed)
    centroids = rng.normal(scale=separation, size=(n_classes, n_informative))
    y = rng.integers(0, n_classes, size=n)
    Z = centroids[y] + rng.normal(size=(n, n_informative))
    basis = rng.normal(size=(n_informative, n_features)) / np.sqrt(n_informative)
    X = Z @ basis + 0.5 * rng.normal(size=(n, n_features))
    # a nonlinear feature so hidden layers have something to do
    X[:, 0] = np.tanh(Z[:, 0] * Z[:, 1])
    return X, y


def make_synthetic_100(n_train, n_test, dtype):
    """100 features, 10 Gaussian classes on a 20-dimensional subspace."""
    X, y = _gaussian_classes(n_train + n_test, 100, 10, 20, seed=1, separation=1.2)
    X_train, X_test, y_train, y_test = _split(X, y, n_train, n_test)
    X_train, X_test = _standardize(X_train, X_test)
    return X_train.astype(dtype), X_test.astype(dtype), y_train, y_test


def make_mnist_shaped(n_train, n_test, dtype):
    """784 'pixels' in [0, 1], 10 classes: class templates plus noise."""
    n = n_train + n_test
    rng = np.random.default_rng(2)
    # smooth-ish 28x28 templates: sums of a few random blobs per class
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), -1).reshape(-1, 2)
    templates = np.zeros((10, 784))
    for c in range(10):
        for _ in range(6):
            center = rng.uniform(4, 24, size=2)
            width = rng.uniform(2, 5)
            templates[c] += np.exp(-((grid - center) ** 2).sum(1) / (2 * width**2))
    templates /= templates.max(axis=1, keepdims=True)
    y = rng.integers(0, 10, size=n)
    X = np.empty((n, 784), dtype=dtype)
    chunk = 4096
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        block = templates[y[start:stop]] * rng.uniform(0.5, 1.0, size=(stop - start, 1))
        block += rng.normal(scale=0.45, size=block.shape)
        np.clip(block, 0.0, 1.0, out=block)
        X[start:stop] = block
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def make_tfidf(n_train, n_test, dtype, n_features=5000, density=0.005, n_classes=10):
    """tf-idf-like CSR rows: Zipf background words plus class topic words.

    About ``density * n_features`` distinct words per row, idf-weighted and
    L2-normalized per row, as ``TfidfVectorizer`` would produce.
    """
    n = n_train + n_test
    rng = np.random.default_rng(3)
    words_per_row = max(1, int(round(density * n_features)))
    ranks = np.arange(1, n_features + 1)
    zipf = 1.0 / ranks**1.1
    zipf /= zipf.sum()
    topic_size = 100
    topics = np.stack([rng.choice(n_features, size=topic_size, replace=False) for _ in range(n_classes)])
    y = rng.integers(0, n_classes, size=n)
    background = rng.choice(n_features, size=(n, words_per_row), p=zipf)
    from_topic = rng.random((n, words_per_row)) < 0.15
    topic_words = topics[y[:, None], rng.integers(0, topic_size, size=(n, words_per_row))]
    cols = np.where(from_topic, topic_words, background)
    rows = np.repeat(np.arange(n), words_per_row)
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols.ravel())), shape=(n, n_features))
    X.sum_duplicates()
    df = np.bincount(X.indices, minlength=n_features)
    idf = np.log((1 + n) / (1 + df)) + 1.0
    X.data = np.log1p(X.data) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    X = sp.diags(1.0 / norms) @ X
    X = X.tocsr().astype(dtype)
    X.sort_indices()
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def make_regression_50(n_train, n_test, dtype):
    """50 features, a smooth nonlinear target, standardized."""
    n = n_train + n_test
    rng = np.random.default_rng(4)
    X = rng.normal(size=(n, 50))
    w = rng.normal(size=50) / np.sqrt(50)
    v = rng.normal(size=50) / np.sqrt(50)
    y = X @ w + np.sin(2.0 * (X @ v)) + 0.5 * (X[:, 0] * X[:, 1]) + 0.1 * rng.normal(size=n)
    y = (y - y.mean()) / y.std()
    X_train, X_test, y_train, y_test = _split(X, y, n_train, n_test)
    return X_train.astype(dtype), X_test.astype(dtype), y_train.astype(dtype), y_test.astype(dtype)


# --------------------------------------------------------------------------
# The workloads.
# --------------------------------------------------------------------------

_SMOKE_DIGITS = Sizes(n_train=120, n_test=60, epochs=2)

WORKLOADS = [
    Workload(
        name="digits_b1",
        kind="classification",
        n_features=64,
        hidden=(100,),
        n_outputs=10,
        batch_size=1,
        sizes={
            "smoke": Sizes(40, 60, 1),
            "quick": Sizes(1347, 450, 1, caps={"sklearn": 200, "torch": 200}),
            "full": Sizes(1347, 450, 3),
        },
        make=make_digits,
        description="load_digits, standardized, 64-100-10, batch 1",
    ),
    Workload(
        name="digits_b32",
        kind="classification",
        n_features=64,
        hidden=(100,),
        n_outputs=10,
        batch_size=32,
        sizes={
            "smoke": _SMOKE_DIGITS,
            "quick": Sizes(1347, 450, 5),
            "full": Sizes(1347, 450, 10),
        },
        make=make_digits,
        description="load_digits, standardized, 64-100-10, batch 32",
    ),
    Workload(
        name="digits_b200",
        kind="classification",
        n_features=64,
        hidden=(100,),
        n_outputs=10,
        batch_size=200,
        sizes={
            "smoke": _SMOKE_DIGITS,
            "quick": Sizes(1347, 450, 10),
            "full": Sizes(1347, 450, 10),
        },
        make=make_digits,
        description="load_digits, standardized, 64-100-10, batch 200 (sklearn's 'auto')",
    ),
    Workload(
        name="synth_100_256_128",
        kind="classification",
        n_features=100,
        hidden=(256, 128),
        n_outputs=10,
        batch_size=256,
        sizes={
            "smoke": Sizes(128, 64, 2),
            "quick": Sizes(6_000, 2_000, 2),
            "full": Sizes(50_000, 10_000, 5),
        },
        make=make_synthetic_100,
        description="synthetic Gaussian classes, 100-256-128-10, batch 256",
    ),
    Workload(
        name="mnist_1024x2",
        kind="classification",
        n_features=784,
        hidden=(1024, 1024),
        n_outputs=10,
        batch_size=512,
        sizes={
            "smoke": Sizes(64, 32, 1),
            "quick": Sizes(1_024, 1_000, 2),
            "full": Sizes(20_000, 5_000, 3),
        },
        make=make_mnist_shaped,
        description="synthetic MNIST-shaped pixels, 784-1024-1024-10, batch 512",
    ),
    Workload(
        name="tfidf_sparse",
        kind="classification",
        n_features=5000,
        hidden=(100,),
        n_outputs=10,
        batch_size=200,
        sizes={
            "smoke": Sizes(200, 64, 1),
            "quick": Sizes(4_000, 2_000, 2),
            "full": Sizes(20_000, 5_000, 5),
        },
        make=make_tfidf,
        sparse=True,
        description="tf-idf-like CSR, 5000 features, density 0.5%, 5000-100-10, batch 200",
    ),
    Workload(
        name="regression_50",
        kind="regression",
        n_features=50,
        hidden=(100, 50),
        n_outputs=1,
        batch_size=200,
        sizes={
            "smoke": Sizes(200, 64, 2),
            "quick": Sizes(6_000, 2_000, 3),
            "full": Sizes(20_000, 5_000, 5),
        },
        make=make_regression_50,
        description="MLPRegressor, smooth nonlinear target, 50-100-50-1, batch 200",
    ),
]

BY_NAME = {w.name: w for w in WORKLOADS}

# Workloads used for the thread-scaling table: the two largest by FLOPs.
# digits at batch 200 is there to show whether a second core helps a
# small network (bench/README.md, "Limits")
THREAD_WORKLOADS = ("digits_b200", "synth_100_256_128", "mnist_1024x2")

# Model used for predict latency / throughput, and rows for throughput.
PREDICT_WORKLOAD = "synth_100_256_128"
PREDICT_ROWS = {"smoke": 1_000, "quick": 100_000, "full": 100_000}
PREDICT_CALLS = {"smoke": 40, "quick": 1_000, "full": 5_000}

# Workload and sizes used for peak memory of fit.
MEMORY_WORKLOAD = "synth_100_256_128"
MEMORY_SIZES = {
    "smoke": Sizes(1_000, 10, 1),
    "quick": Sizes(10_000, 10, 1),
    "full": Sizes(50_000, 10, 2),
}

# Each timed loop of a GEMM-limit product lasts at least this long (seconds).
GEMM_MIN_TIME = {"smoke": 0.0002, "quick": 0.003, "full": 0.01}

# Pause (seconds) before each timed contestant, so that the previous
# library's idle BLAS/OpenMP threads, which spin for up to ~0.1 s after their
# last call (OpenBLAS), have gone to sleep and do not take the next one's cores.
PAUSE = {"smoke": 0.0, "quick": 0.1, "full": 0.2}

# A 1-minute load average above this at the start of a run means the machine
# was not idle: the suite (bench/__main__.py) and bench/scaling.py print a note.
IDLE_LOAD = 0.5

# Sections that are not fit workloads but can be named in --only.
EXTRA_SECTIONS = ("predict", "memory", "threads", "limits")


def make_data(workload: Workload, mode: str, dtype, n_train: Optional[int] = None):
    """Generate the train/test split for ``workload`` in ``mode``."""
    sizes = workload.sizes[mode]
    return workload.make(n_train if n_train is not None else sizes.n_train, sizes.n_test, dtype)
