"""TabularPreprocessor: a table (DataFrame or array) in, a float matrix out.

Design: the first stage of the tabular estimators (``_tabular.py``), fitted
with them and pickled inside them.  Every fitted attribute is a plain NumPy
array, list, str or int, so a fitted preprocessor holds no pandas or
scikit-learn private object (skops loads it trusting fastmlp alone).

Columns are read one at a time, by duck typing: a pandas DataFrame (anything
with ``columns``, ``dtypes`` and ``iloc``) gives its columns with their
dtypes; anything else goes through ``sklearn.utils.check_array`` with
``dtype=None`` (a 2-D array, numeric or object).  pandas is never imported.

Which columns are categorical (``categorical_features='auto'``): a
DataFrame's ``category``, ``bool`` and pyarrow dictionary columns, and the
object and string columns (of a DataFrame, whatever its backend, or of an
array) holding a value that is not a real number: one rule for all, so a
column of ``Decimal`` values (a SQL NUMERIC column, object or pyarrow
decimal), of floats with ``None`` or of numeric strings (pandas 3's ``str``
columns too) is numeric, as HistGradientBoosting reads it.
Datetime, date, period and timedelta columns are numeric: nanoseconds since
the epoch (UTC; a period's first instant) or long, whatever their unit, with
NaT missing; a DataFrame's time and Period dtypes, NumPy's datetime64 and
timedelta64 arrays, and object columns of date, datetime, Timestamp or
timedelta values alike.  A
complex dtype is an error; complex values in an object column are not real
numbers, so it is categorical.

Numeric column j, ``numeric_scaling='robust'`` (the RealMLP paper's), with
m its median, q1/q3 its quartiles, over the non-missing training values::

    s = 1 / (q3 - q1)           if q3 > q1
      = 2 / (max - min)         else, if max > min
      = 0                       else (a constant column), or where the
                                inverse overflows (a spread of subnormals)
    z = s * (x - m)             (0 at any x when s = 0)
    out = z / sqrt(1 + (z / 3)**2)      (smooth clipping; or z when off,
                                         within the output dtype's range)

``numeric_scaling='quantile'``: the column's rank among the training
values, mapped to a standard normal quantile.  With ``Q`` the training
values' quantiles at ``QUANTILE_POINTS`` (at most) evenly spaced levels
``u_0 = 0 .. u_last = 1``::

    u   = (interp(x, Q, u) + (1 - interp(-x, -Q[::-1], 1 - u[::-1]))) / 2
    out = Phi^-1(clip(u, QUANTILE_TAIL, 1 - QUANTILE_TAIL))     (|out| <= 3.09)

the mean of the lowest and highest level a value ties with (so a 0/1 column
maps to two values, each at its share's middle rank), 0 for a constant
column; smooth clipping does not apply.

``numeric_scaling='both'``: the 'quantile' value, and after the missing
indicators a second column per numeric column with its 'robust' value
(smoothly clipped when ``smooth_clip``): the rank and the magnitude, which
a rank alone loses (a ratio of two columns, a linear trend).  The
piecewise-linear and periodic features read the 'quantile' value.

A missing value (NaN, None, pandas NA) becomes 0, the median's image, and,
when the column had missing values in ``fit`` and ``add_missing_indicator``
is on, a 0/1 indicator column records it.  +-inf ranks past every finite
value, as HistGradientBoosting bins it: fit's statistics read it as the
column's largest (smallest) finite value, and at transform 'quantile' maps
it to the top (bottom) level and 'robust' to +-3 after smooth clipping (the
robust value of that largest (smallest) value without).

Categorical column j: its values are compared as strings (``str(v)``, an
integral float written as an int).  A flag keeps its meaning across
spellings: at transform, a bool cell whose spelling fit never saw is read
as 0/1, and a 0/1 number as the bool, when fit saw that other spelling (a
DataFrame's bool column in fit, 0/1 from a database at predict:
HistGradientBoosting reads both as numbers).  Its
``max_categories`` most frequent categories (ties by string order) get one
0/1 column each.  Rarer categories share one "infrequent" column, which also
takes categories first seen at predict time; when no category was rare,
unseen ones get all zeros.  A missing value gets a "missing" column of its
own when ``fit`` saw one, all zeros otherwise.

Embedded categorical columns (``max_one_hot``): a column with more than
``max_one_hot`` categories in fit is not one-hot encoded but given as one
code column, for a learned embedding table in the network.  Every category
seen in at least ``EMBED_MIN_COUNT`` (2) training rows has a code of its
own (``max_categories`` does not apply): category i of ``categories_``
(string order) is ``1 + i``, a missing value ``1 + len(categories_)`` when
fit saw one, and anything else (a category seen once, or first seen at
predict, or missing when fit saw none) is 0, the "infrequent" code.  The code
columns come after the one-hot columns, in column order, and the table
sizes are ``embedding_cards_``.

Piecewise-linear features (``n_bins = T > 0``): after the missing
indicators, each numeric column k gets T more, from its scaled value ``z``
(0 where missing), with edges ``e_t = Phi^-1(clip(t / T, QUANTILE_TAIL,
1 - QUANTILE_TAIL))``, t = 0 .. T, the same for every column::

    clip((z - e_t) / (e_{t+1} - e_t), 0, 1)       t = 0 .. T-1

With 'quantile' scaling the edges are the column's training quantiles at
levels t / T: this is the quantile "piecewise linear encoding" of Gorishniy
et al. (2022), each bin holding a T-th of the training rows.

Periodic features (``n_periodic = K > 0``): after all the columns above,
each numeric column k gets K more, from its scaled value ``z`` (0 where
missing)::

    cos(f[k, i] * z + p[k, i])       i = 0 .. K-1
    f[k, i] = 2 pi * sigma_i * N(0, 1),   p[k, i] ~ U(-pi, pi)
    sigma_i = periodic_scale * PERIODIC_SPREAD ** ((i - (K - 1)) / (K - 1))

so the scales ``sigma_i`` run log-evenly from ``periodic_scale /
PERIODIC_SPREAD`` to ``periodic_scale`` (``periodic_scale`` when K is 1),
each column drawing its own frequencies and phases from ``random_state``.
These are the starting values: the tabular estimators' networks learn them
(``learn_periodic``, as RealMLP's PBLD layer) and, with ``periodic_dim``,
mix each column's cosines in a layer of its own before the first dense
layer (see README, "Where fastmlp's recipe differs").  The preprocessor
alone computes them with the drawn values.
"""
import datetime
import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import ndtri
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from fastmlp import _omp_host, _pacing
from fastmlp._engine import thread_share
from fastmlp._openmp import effective_n_threads
from fastmlp._quantile import quantile_normal_columns
from fastmlp._saved_state import refuse_unreadable, with_defaults
from fastmlp._sklearn_compat import Interval, StrOptions, _check_feature_names_in

SMOOTH_CLIP_AT = 3.0  # z / sqrt(1 + (z / SMOOTH_CLIP_AT)**2)
ROBUST_LEVELS = (0.25, 0.5, 0.75)  # robust scaling's quartiles and median
QUANTILE_POINTS = 1000  # most quantiles kept per numeric column ('quantile' scaling)
QUANTILE_TAIL = 1e-3  # ranks clipped to [QUANTILE_TAIL, 1 - QUANTILE_TAIL]: |z| <= 3.09
PERIODIC_SPREAD = 20.0  # ratio of the largest to the smallest frequency scale
# the compiled quantile scaling (_quantile.pyx) runs on one thread below
# this many values (a team's start costs more)
QUANTILE_PARALLEL_VALUES = 32768
# an embedded column's categories with fewer training rows than this share
# code 0 with the unseen ones (a row of its own would learn one row by heart)
EMBED_MIN_COUNT = 2
_FEATURE_BLOCK_ROWS = 8192  # rows per block of the periodic and binned features (memory)
_MIN_BIN_WIDTH = 1e-12  # a bin narrower than this on the scaled axis is a step


def smooth_clip(z):
    """``z / sqrt(1 + (z / 3)**2)``: about z near 0, bounded by +-3.  Where
    ``(z / 3)**2`` would overflow (|z / 3| > 1e150), the value is the bound
    itself, +-3, which the formula equals there to the last bit."""
    a = z / SMOOTH_CLIP_AT
    huge = np.abs(a) > 1e150
    if not huge.any():
        return z / np.sqrt(1.0 + a ** 2)
    out = z / np.sqrt(1.0 + np.where(huge, 0.0, a) ** 2)
    out[huge] = SMOOTH_CLIP_AT * np.sign(z[huge])
    return out


def sorted_quantiles(xs, q):
    """The quantiles at levels ``q`` of the sorted, non-empty values ``xs``:
    those of ``np.quantile`` (its default, 'linear' method), bit for bit
    (tests/test_tabular_preprocessing.py), and finite where np.quantile's
    are NaN (two neighbouring values more than the largest float apart).

    Hyndman and Fan's 7th definition, as NumPy writes it: with v = (n - 1) q
    for level q and i = floor(v), the value is ``a + (b - a) g`` with a, b
    the sorted values at i and i + 1 and g = v - i, or ``b - (b - a)(1 - g)``
    when g >= 0.5; at v = n - 1 (q = 1) both are the largest value."""
    n = xs.shape[0]
    v = (n - 1) * np.asarray(q, dtype=np.float64)
    lo = np.floor(v)
    hi = lo + 1.0
    top = v >= n - 1
    lo[top], hi[top] = -1.0, -1.0   # as NumPy: then g = v + 1, and a = b
    lo, hi = lo.astype(np.intp), hi.astype(np.intp)
    g = v - lo
    a, b = xs[lo], xs[hi]
    with np.errstate(over="ignore"):
        d = b - a
    if not np.isfinite(d).all():
        # a range beyond the largest float (values near +-1.8e308): the
        # same formulas on half the gap, 2 h = d exactly where d is finite
        # (np.where computes both: the branch not taken may overflow)
        h = b / 2 - a / 2
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(g >= 0.5, b - h * (2.0 * (1.0 - g)), a + h * (2.0 * g))
    return np.where(g >= 0.5, b - d * (1.0 - g), a + d * g)


def column_quantiles(x):
    """The non-missing values ``x``'s quantiles at up to ``QUANTILE_POINTS``
    evenly spaced levels from 0 to 1 (empty when there are none), from one
    sort of x (``sorted_quantiles``).  np.quantile partitions x at the 2 x
    1000 neighbouring ranks instead, which at 2,000 to 4,000 values took
    1.5-3.5 ms a column against 0.3 for the sort (half of the preprocessing
    of a 73-column table)."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(0)
    return sorted_quantiles(np.sort(x), np.linspace(0.0, 1.0, min(QUANTILE_POINTS, n)))


def _inverse_spread(numerator, lo, hi):
    """``numerator / (hi - lo)`` for lo < hi, with hi - lo taken on halves
    where it overflows (a range past the largest float); 0 where the
    inverse overflows (a spread of subnormals, ~1e-310: a constant)."""
    with np.errstate(over="ignore"):
        d = hi - lo
        scale = numerator / d if np.isfinite(d) else (numerator / 2) / (hi / 2 - lo / 2)
    return scale if np.isfinite(scale) else 0.0


def _zero_but_nan(x):
    """0 for each value of x, NaN (missing) kept."""
    return np.where(np.isnan(x), np.nan, 0.0)


def quantile_normal(x, quantiles):
    """``x`` mapped through its column's ``quantiles`` to standard normal
    quantiles (module docstring); 0 for a constant or empty column, NaN
    stays NaN."""
    n = quantiles.shape[0]
    if n < 2 or quantiles[-1] <= quantiles[0]:
        return _zero_but_nan(x)
    levels = np.linspace(0.0, 1.0, n)
    low = np.interp(x, quantiles, levels)
    high = 1.0 - np.interp(-x, -quantiles[::-1], 1.0 - levels[::-1])
    u = np.clip(0.5 * (low + high), QUANTILE_TAIL, 1.0 - QUANTILE_TAIL)
    return ndtri(u)


def _quantile_normal_into(out, xs, quantiles):
    """out[:, k] = quantile_normal(xs[k], quantiles[k]), 0 where xs[k] is
    NaN, for the float64 columns xs: compiled (_quantile.pyx), bit for bit,
    in one parallel region."""
    n_rows = out.shape[0]
    qs = [np.ascontiguousarray(q, dtype=np.float64) for q in quantiles]
    n_threads = 1
    if n_rows * len(xs) >= QUANTILE_PARALLEL_VALUES:
        # the CPUs a busy machine leaves free (_pacing), read once
        n_threads = _omp_host.threads_for(
            _pacing.team_for_load(thread_share(effective_n_threads())))
    _omp_host.run(
        n_threads, quantile_normal_columns,
        np.array([x.ctypes.data for x in xs], dtype=np.uintp),
        np.array([x.strides[0] for x in xs], dtype=np.intp), n_rows,
        np.array([q.ctypes.data for q in qs], dtype=np.uintp),
        np.array([q.shape[0] for q in qs], dtype=np.intp), 0, out, QUANTILE_TAIL, n_threads)


def bin_edges(n_bins):
    """The piecewise-linear features' T + 1 edges on the scaled axis
    (module docstring)."""
    levels = np.clip(np.linspace(0.0, 1.0, n_bins + 1), QUANTILE_TAIL, 1.0 - QUANTILE_TAIL)
    return ndtri(levels)


def binned_features(Z, n_bins, dtype):
    """``clip((Z[:, k] - e_t) / (e_{t+1} - e_t), 0, 1)`` for each numeric
    column k and bin t, as (n_samples, n_numeric * n_bins) columns, column
    k's bins after column k-1's."""
    edges = bin_edges(n_bins)
    # past 1,000 bins the clipped tails give bins of width 0: each a step
    lo, width = edges[:-1], np.maximum(np.diff(edges), _MIN_BIN_WIDTH)
    n, n_num = Z.shape
    out = np.empty((n, n_num * n_bins), dtype=dtype)
    for r0 in range(0, n, _FEATURE_BLOCK_ROWS):
        z = Z[r0:r0 + _FEATURE_BLOCK_ROWS, :, None].astype(np.float64)
        out[r0:r0 + _FEATURE_BLOCK_ROWS] = np.clip((z - lo) / width, 0.0, 1.0).reshape(
            z.shape[0], n_num * n_bins)
    return out


def periodic_frequencies(n_numeric, n_periodic, periodic_scale, random_state):
    """Frequencies and phases of the periodic features (module docstring).

    Returns
    -------
    frequencies, phases : ndarrays of shape (n_numeric, n_periodic)
    """
    rng = check_random_state(random_state)
    i = np.arange(n_periodic)
    sigma = periodic_scale * PERIODIC_SPREAD ** ((i - (n_periodic - 1)) / max(n_periodic - 1, 1))
    frequencies = 2.0 * np.pi * sigma * rng.standard_normal((n_numeric, n_periodic))
    phases = rng.uniform(-np.pi, np.pi, (n_numeric, n_periodic))
    return frequencies, phases


def periodic_features(Z, frequencies, phases, dtype):
    """``cos(frequencies[k] * Z[:, k, None] + phases[k])`` for each numeric
    column k, as (n_samples, n_numeric * n_periodic) columns, column k's
    block after column k-1's."""
    n, (n_num, K) = Z.shape[0], frequencies.shape
    out = np.empty((n, n_num * K), dtype=dtype)
    for r0 in range(0, n, _FEATURE_BLOCK_ROWS):
        z = Z[r0:r0 + _FEATURE_BLOCK_ROWS, :, None].astype(np.float64)
        out[r0:r0 + _FEATURE_BLOCK_ROWS] = np.cos(z * frequencies + phases).reshape(
            z.shape[0], n_num * K)
    return out


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def as_table(X):
    """X, with another library's DataFrame as pandas: a polars DataFrame or
    a pyarrow Table (``to_pandas``), a dask DataFrame (``compute``).  Made an
    array by check_array, they lost their column names (no check of them at
    predict: reordered columns predicted silently) and their types (polars
    Categorical zip codes numeric); HistGradientBoosting reads both."""
    if _is_dataframe(X):
        # dask: lazy, a pandas frame inside (the method looked up on the
        # class: a pandas column named "compute" is an attribute too)
        return X.compute() if callable(getattr(type(X), "compute", None)) else X
    if hasattr(X, "to_pandas") and hasattr(X, "columns") and getattr(X, "ndim", 2) == 2:
        try:
            return X.to_pandas()
        except ImportError as e:   # pandas, or polars' pyarrow, not installed
            warnings.warn(
                f"{type(X).__name__} read as an array, without its column names and "
                f"types: its to_pandas() needs a package that is not installed ({e}).",
                UserWarning)
            return X
    return X


def _is_missing(v):
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return math.isnan(v)
    # pandas.NA and pandas.NaT, without importing pandas
    return type(v).__name__ in ("NAType", "NaTType")


def _per_distinct(col, fn):
    """``[fn(v) for v in col]``, with fn called once per distinct (type,
    value) pair: a table's column of n cells holds few distinct values, and
    the per-cell calls were most of a fit's preprocessing (ames: 0.26 of
    0.40 s).  The type is in the key so that 1, 1.0 and True, equal as dict
    keys, stay apart; a cell that cannot be a key (unhashable, or whose
    comparison raises, as pandas.NA's) is converted on its own."""
    cache, out = {}, []
    for v in col:
        try:
            key = (type(v), v)
            r = cache.get(key)
            if r is None:
                r = cache[key] = fn(v)
        except TypeError:
            r = fn(v)
        out.append(r)
    return out


def _missing_mask(col):
    if col.dtype.kind == "f":
        return np.isnan(col)
    if col.dtype.kind == "O":
        return np.array(_per_distinct(col, _is_missing), dtype=bool)
    return np.zeros(col.shape[0], dtype=bool)


def _is_complex(v):
    return isinstance(v, (complex, np.complexfloating))


_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_EPOCH_DATE = datetime.date(1970, 1, 1)


def _nanoseconds(delta):
    """A timedelta (pandas.Timedelta too) as whole nanoseconds, exactly."""
    whole = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
    return whole * 1000 + getattr(delta, "nanoseconds", 0)


def _time_cell(v):
    """('M', ns since the epoch) for a date, datetime or Timestamp object
    (UTC for an aware one, as a DataFrame's datetime column), ('m', ns) for
    a timedelta (``_time_array`` for NumPy's), None for anything else."""
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return ("M" if isinstance(v, np.datetime64) else "m"), _time_array(np.asarray([v]))[0]
    if isinstance(v, datetime.datetime):
        # a Timestamp's difference is a Timedelta, which keeps its nanoseconds
        since = v - (_EPOCH if v.tzinfo is None else _EPOCH_UTC)
        return "M", float(_nanoseconds(since))
    if isinstance(v, datetime.date):
        return "M", float((v - _EPOCH_DATE).days * 86400 * 10**9)
    if isinstance(v, datetime.timedelta):
        return "m", float(_nanoseconds(v))
    return None


def _time_array(values):
    """A NumPy datetime64 or timedelta64 array as float64 nanoseconds since
    the epoch or long, NaN for NaT, whatever its unit (``10ms`` too).
    Dates in months or years are their first day; durations in months or
    years (or of no unit), which have no length in nanoseconds, are counted
    in their unit."""
    unit, count = np.datetime_data(values.dtype)
    if unit in ("Y", "M") and values.dtype.kind == "M":
        values = values.astype("datetime64[D]")   # exact: the first day
        unit, count = "D", 1
    if unit in ("Y", "M", "generic"):
        ns_per_unit = float(count)
    else:
        ns_per_unit = np.timedelta64(count, unit) / np.timedelta64(1, "ns")
    out = values.view(np.int64).astype(np.float64) * ns_per_unit
    out[np.isnat(values)] = np.nan
    return out


def _times_as_float(col, missing):
    """An object column whose every non-missing cell is a date or datetime
    (or every one a timedelta) as float64 nanoseconds, NaN where missing;
    None otherwise."""
    present = col[~missing]
    if present.shape[0] == 0 or _time_cell(present[0]) is None:
        return None   # the common case, a column of strings, at the cost of one cell
    cells = _per_distinct(present, _time_cell)
    if any(c is None for c in cells) or len({c[0] for c in cells}) > 1:
        return None
    out = np.full(col.shape[0], np.nan)
    out[~missing] = [c[1] for c in cells]
    return out


def _as_float(col):
    """A column as float64 with NaN for missing values, or None if some
    value is not a number.  Dates, datetimes and timedeltas (a datetime64
    or timedelta64 array, or objects) are numbers: nanoseconds since the
    epoch (UTC) or long, whatever their unit.  A float64 column is returned
    as it is (a view of X's column, perhaps read-only): never write to the
    result."""
    if col.dtype.kind in "biuf":
        return col.astype(np.float64, copy=False)
    if col.dtype.kind in "mM":
        return _time_array(col)
    missing = _missing_mask(col)
    if col.dtype.kind == "O":
        kinds = _per_distinct(col, _misread_as_float)
        if "complex" in kinds:
            return None   # astype would drop the imaginary part, with a warning
        if "time" in kinds:
            return _times_as_float(col, missing)   # astype would count in its unit
    values = np.where(missing, np.nan, col) if missing.any() else col
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        pass
    return _times_as_float(col, missing) if col.dtype.kind == "O" else None


def _misread_as_float(v):
    """Whether astype(float64) would misread a cell: 'complex' (drops the
    imaginary part), 'time' (a NumPy datetime64 or timedelta64, counted in
    its own unit), or ''."""
    if _is_complex(v):
        return "complex"
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return "time"
    return ""


def _infinities_as_extremes(x):
    """The non-missing values x for fit's statistics: +-inf as the largest
    (smallest) finite value, so that it ranks past every finite one (+-1
    when no value is finite)."""
    infinite = np.isinf(x)
    if not infinite.any():
        return x
    finite = x[~infinite]
    if finite.shape[0] == 0:
        return np.sign(x)
    return np.clip(x, finite.min(), finite.max())


def _check_frame_shape(X, who):
    """scikit-learn's check_array errors for a DataFrame with no rows or no
    columns (check_array's own messages, naming the estimator)."""
    if who is not None and not isinstance(who, str):
        who = type(who).__name__
    by = f" by {who}" if who else ""
    shape = tuple(X.shape)
    if shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum "
                         f"of 1 is required{by}.")
    if shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum "
                         f"of 1 is required{by}.")


def _time_zone(series):
    """A datetime column's time zone, or None (also for Arrow dates, whose
    accessor has no tz)."""
    try:
        return series.dt.tz
    except (AttributeError, NotImplementedError):
        return None


def _time_column(series):
    """A datetime, date or timedelta column as float64 nanoseconds since the
    epoch (UTC for a time zone) or long, NaN for NaT, whatever its unit
    (pandas parses dates to microseconds, parquet gives ns or s, Arrow dates
    are days): the same instant is the same number.  None for any other
    column, or a time column pandas cannot convert (read as before: its
    values as categories).  A pandas Period column is its periods' first
    instants, as a date in months or years is its first day (it was
    categorical: every month a category of its own)."""
    kind = getattr(series.dtype, "kind", None)
    if str(getattr(series.dtype, "name", "")).startswith("period["):
        try:
            series, kind = series.dt.start_time, "M"
        except (TypeError, ValueError, AttributeError):
            return None
    if kind not in ("m", "M"):
        return None
    try:
        if kind == "M" and _time_zone(series) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        values = np.asarray(series.to_numpy())
        if values.dtype.kind not in "mM":   # Arrow dates: datetime.date objects
            values = np.asarray(series.astype(
                "datetime64[ns]" if kind == "M" else "timedelta64[ns]").to_numpy())
        out = _time_array(values)
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return None
    out[np.asarray(series.isna(), dtype=bool)] = np.nan
    return out


def _read_columns(X, who=None):
    """(list of 1-D arrays, list of flags: True for a categorical dtype,
    None for object or string data that is categorical unless every value
    is a number (_as_float), False for a numeric dtype); `who`, the
    estimator's name for the errors of an empty table."""
    if _is_dataframe(X):
        _check_frame_shape(X, who)
        cols, flags = [], []
        for i in range(X.shape[1]):
            series = X.iloc[:, i]
            dtype = series.dtype
            name = getattr(dtype, "name", str(dtype))
            if getattr(dtype, "kind", "") == "c":
                raise ValueError("Complex data not supported.")
            times = _time_column(series)
            if times is not None:
                cols.append(times)
                flags.append(False)
                continue
            kind = getattr(dtype, "kind", "O")
            categorical = kind in "OUSb"   # read as objects (category, bool, strings, ...)
            if categorical:
                cols.append(np.asarray(series.to_numpy(dtype=object)))
                if not (name == "category" or kind == "b" or name.startswith("dictionary<")):
                    # object, str, pyarrow decimal or string: numbers or not
                    categorical = None

            elif isinstance(dtype, np.dtype):
                cols.append(series.to_numpy())  # ints stay ints (as categories too)
            else:
                # an extension dtype (pandas Int64, Float64): NaN for NA
                try:
                    cols.append(series.to_numpy(dtype=np.float64, na_value=np.nan))
                except (TypeError, ValueError):
                    cols.append(np.asarray(series.to_numpy(dtype=object)))
                    categorical = True
            flags.append(categorical)
        return cols, flags
    X = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1,
                    estimator=who)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported.")
    return [X[:, i] for i in range(X.shape[1])], [
        None if X.dtype.kind in "OUS" else False] * X.shape[1]


def _category_string(v):
    """A category's key: ``str(v)``, with integral floats written as ints
    (so 3, 3.0 and a nullable integer column's 3 are one category)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _category_cell(v):
    missing = _is_missing(v)
    return missing, "" if missing else _category_string(v)


# a flag's two spellings, each way (_flag_spellings)
_FLAG_SPELLINGS = {"False": "0", "True": "1", "0": "False", "1": "True"}
_FLAGS = ({"False", "True"}, {"0", "1"})


def _is_flag_value(v):
    """A bool or a number (never a string: '1' is a category's name)."""
    return isinstance(v, (bool, np.bool_, Real, np.number))


def _flag_spellings(col, strings, kept):
    """``strings``, with each cell that is a bool or a 0/1 number spelled
    as fit saw the flag (True as '1', or 1 as 'True') where fit saw only
    the other spelling; unchanged when there is no such cell, or when fit
    saw no flag: categories among 'False'/'True' alone, or '0'/'1' alone (a
    column of codes 0..9 keeps them).  A string is never respelled: '1' is
    a category's name.  ``kept``: the fitted categories."""
    if col.dtype.kind in "US" or not 0 < kept.shape[0] <= 2:
        return strings
    seen = set(kept.tolist())
    if not any(seen <= flag for flag in _FLAGS):
        return strings
    other = {s: a for s, a in _FLAG_SPELLINGS.items() if a in seen and s not in seen}
    respell = np.isin(strings, list(other))
    if respell.any() and col.dtype.kind == "O":
        respell[respell] = _per_distinct(col[respell], _is_flag_value)
    if not respell.any():
        return strings
    out = strings.astype(f"<U{max(5, strings.dtype.itemsize // 4)}")
    for s, a in other.items():
        out[respell & (strings == s)] = a
    return out


def _category_cells(col):
    """(missing mask, category strings: '' where missing) of a column."""
    cells = _per_distinct(col, _category_cell)
    missing = np.array([m for m, _ in cells], dtype=bool)
    return missing, np.asarray([s for _, s in cells], dtype=str)


def _unique_names(names):
    """names, each one that repeats an earlier one suffixed _1, _2, ... (the
    first free): a category named 'missing' and the missing column, or a
    column 'a_missing' and a's indicator, were both 'c_missing' and
    'a_missing', and a pandas output had duplicate columns."""
    seen, out = set(names), []
    taken = set()
    for name in names:
        if name in taken:
            k = 1
            while f"{name}_{k}" in seen or f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
        taken.add(name)
        out.append(name)
    return out


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Numeric and categorical table columns to one float matrix.

    Numeric columns are robustly scaled and smoothly clipped, or mapped to
    normal quantiles, and imputed, with optional missing-value indicators; categorical columns are one-hot
    encoded, their rare categories pooled.  See the module docstring of
    ``fastmlp._tabular_preprocessing`` for the exact formulas.

    Parameters
    ----------
    categorical_features : 'auto', array-like of int, str or bool, default='auto'
        Which columns are categorical. 'auto': a DataFrame's category,
        bool and pyarrow dictionary columns, and the object and string
        columns of a DataFrame or an array that hold a value that is not a
        real number (a column of numbers, such as ``Decimal`` values or
        numeric strings, is numeric; so are datetime and timedelta columns,
        as nanoseconds, NaT missing). Otherwise column indices, column names (DataFrame
        input) or a boolean mask.
    max_categories : int >= 1, default=32
        Most categories of one column that get a one-hot column each; the
        rarer ones share one "infrequent" column.
    max_one_hot : int >= 1 or None, default=None
        A categorical column with more categories than this is given as
        one code column (for an embedding) instead of one-hot columns; None
        one-hot encodes every column.
    numeric_scaling : {'robust', 'quantile', 'both'}, default='robust'
        'robust': ``(x - median) / IQR``; 'quantile': the training rank of
        x as a standard normal quantile (within +-3.09); 'both': the
        quantile and, in a column of its own, the robust value. The tabular
        estimators use 'quantile'.
    smooth_clip : bool, default=True
        Apply ``z / sqrt(1 + (z / 3)**2)`` after robust scaling (not to
        'quantile'; with 'both', to the robust columns).
    add_missing_indicator : bool, default=True
        Add a 0/1 column per numeric column that had missing values in fit.
    n_bins : int >= 0, default=0
        Piecewise-linear features per numeric column (0: none); see the
        module docstring.
    n_periodic : int >= 0, default=0
        Periodic features per numeric column (0: none); see the module
        docstring. The tabular estimators use 8.
    periodic_scale : float > 0, default=1.0
        Largest scale of the periodic features' frequencies.
    random_state : int, RandomState instance or None, default=None
        Draws the periodic features' frequencies and phases.
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the output matrix.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in fit, when they are all strings.
    numeric_columns_ : ndarray of int
        Input indices of the numeric columns.
    categorical_columns_ : ndarray of int
        Input indices of the categorical columns.
    center_ : ndarray of shape (n_numeric,)
        Median of each numeric column.
    scale_ : ndarray of shape (n_numeric,)
        Scale factor ``s`` of each numeric column.
    data_min_, data_max_ : ndarray of shape (n_numeric,)
        Smallest and largest value of each numeric column in fit, as fit's
        statistics read them: +-inf as the largest (smallest) finite value,
        +-1 in a column with no finite value, 0 in one with no value at all.
        Without ``smooth_clip``, the robust value of -inf and +inf is theirs.
    quantiles_ : list of ndarray
        With 'quantile' or 'both' scaling, each numeric column's quantiles
        (empty list otherwise).
    indicator_columns_ : ndarray of int
        Positions, among the numeric columns, that get a missing indicator.
    categories_ : list of ndarray of str
        Per categorical column, the categories with a column (an embedded
        column: a code) of their own.
    has_infrequent_ : ndarray of bool
        Per categorical column, whether it has an "infrequent" column.
    has_missing_ : ndarray of bool
        Per categorical column, whether it has a "missing" column (code).
    embedded_ : ndarray of bool
        Per categorical column, whether it is given as a code column.
    embedding_cards_ : ndarray of int
        Per embedded column, its codes' count (its embedding table's rows).
    periodic_frequencies_, periodic_phases_ : ndarray of shape (n_numeric, n_periodic)
        The periodic features' frequencies and phases.
    n_features_out_ : int
        Number of output columns.
    """

    _parameter_constraints: dict = {
        "categorical_features": [str, "array-like"],
        "max_categories": [Interval(Integral, 1, None, closed="left")],
        "max_one_hot": [Interval(Integral, 1, None, closed="left"), None],
        "numeric_scaling": [StrOptions({"robust", "quantile", "both"})],
        "smooth_clip": ["boolean"],
        "add_missing_indicator": ["boolean"],
        "n_bins": [Interval(Integral, 0, None, closed="left")],
        "n_periodic": [Interval(Integral, 0, None, closed="left")],
        "periodic_scale": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "dtype": [type],
    }

    def __init__(self, categorical_features="auto", max_categories=32, max_one_hot=None,
                 numeric_scaling="robust", smooth_clip=True, add_missing_indicator=True,
                 n_bins=0, n_periodic=0, periodic_scale=1.0, random_state=None,
                 dtype=np.float32):
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.max_one_hot = max_one_hot
        self.numeric_scaling = numeric_scaling
        self.smooth_clip = smooth_clip
        self.add_missing_indicator = add_missing_indicator
        self.n_bins = n_bins
        self.n_periodic = n_periodic
        self.periodic_scale = periodic_scale
        self.random_state = random_state
        self.dtype = dtype

    def _categorical_mask(self, X, flags, cols):
        n = len(cols)
        spec = self.categorical_features
        if isinstance(spec, str):
            if spec != "auto":
                raise ValueError(
                    f"categorical_features must be 'auto' or a list of columns, got {spec!r}."
                )
            # object data: categorical unless every value is a number
            return np.array([flag if flag is not None else _as_float(cols[i]) is None
                             for i, flag in enumerate(flags)], dtype=bool)
        spec = np.asarray(spec)
        mask = np.zeros(n, dtype=bool)
        if spec.size == 0:
            return mask
        if spec.dtype.kind not in "biuUSO":
            # HistGradientBoosting's message
            raise ValueError("categorical_features must be an array-like of bool, int or "
                             f"str, got: {spec.dtype.name}.")
        if spec.dtype == bool:
            if spec.shape != (n,):
                raise ValueError(
                    f"categorical_features as a mask needs {n} entries, got {spec.shape[0]}."
                )
            return spec.copy()
        if spec.dtype.kind in "iu":
            if spec.min() < 0 or spec.max() >= n:
                raise ValueError(
                    f"categorical_features has column indices outside [0, {n}): {spec}."
                )
            mask[spec] = True
            return mask
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            raise ValueError(
                "categorical_features gives column names, but X has no column names."
            )
        for name in spec:
            where = np.flatnonzero(names == name)
            if where.size == 0:
                plain = name.item() if isinstance(name, np.generic) else name
                raise ValueError(f"categorical_features names {plain!r}, not a column of X.")
            mask[where[0]] = True
        return mask

    def fit(self, X, y=None):
        """Learn each column's scaling or categories.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table.
        y : ignored

        Returns
        -------
        self : TabularPreprocessor
        """
        self._fit_columns(X)
        return self

    def _fit_columns(self, X):
        """fit; returns X's columns (``_read_columns``), which the tabular
        estimators reuse for their matrix (X read once)."""
        self._validate_params()
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be np.float32 or np.float64, got {self.dtype!r}.")
        X = as_table(X)
        cols, flags = _read_columns(X, self)
        validate_data(self, X, skip_check_array=True, reset=True)
        categorical = self._categorical_mask(X, flags, cols)
        self.numeric_columns_ = np.flatnonzero(~categorical)
        self.categorical_columns_ = np.flatnonzero(categorical)

        n_num = self.numeric_columns_.shape[0]
        self.center_ = np.zeros(n_num)
        self.scale_ = np.zeros(n_num)
        self.data_min_ = np.zeros(n_num)
        self.data_max_ = np.zeros(n_num)
        self.quantiles_ = []
        indicators = []
        for k, j in enumerate(self.numeric_columns_):
            x = _as_float(cols[j])
            if x is None:
                raise ValueError(
                    f"Column {self._column_label(j)} was given as numeric but holds values "
                    "that are not numbers."
                )
            x = _infinities_as_extremes(x[~np.isnan(x)])
            if x.shape[0] < cols[j].shape[0]:
                indicators.append(k)
            if self.numeric_scaling in ("quantile", "both"):
                self.quantiles_.append(column_quantiles(x))
            if x.shape[0] == 0:
                continue  # all missing: center 0, scale 0
            xs = np.sort(x)
            q1, med, q3 = sorted_quantiles(xs, ROBUST_LEVELS)
            self.center_[k] = med
            self.data_min_[k], self.data_max_[k] = xs[0], xs[-1]
            if q3 > q1:
                self.scale_[k] = _inverse_spread(1.0, q1, q3)
            elif xs[-1] > xs[0]:
                self.scale_[k] = _inverse_spread(2.0, xs[0], xs[-1])
        self.indicator_columns_ = np.asarray(
            indicators if self.add_missing_indicator else [], dtype=np.intp)

        self.categories_, infrequent, has_missing, embedded = [], [], [], []
        for j in self.categorical_columns_:
            col = cols[j]
            missing, strings = _category_cells(col)
            values, counts = np.unique(strings[~missing], return_counts=True)
            embed = self.max_one_hot is not None and values.shape[0] > self.max_one_hot
            order = np.lexsort((values, -counts))  # most frequent first, ties by value
            if embed:
                kept = values[counts >= EMBED_MIN_COUNT]  # still in string order
            else:
                kept = np.sort(values[order[: self.max_categories]])
            self.categories_.append(kept)
            infrequent.append(values.shape[0] > kept.shape[0])
            has_missing.append(bool(missing.any()))
            embedded.append(embed)
        self.has_infrequent_ = np.asarray(infrequent, dtype=bool)
        self.has_missing_ = np.asarray(has_missing, dtype=bool)
        self.embedded_ = np.asarray(embedded, dtype=bool)
        self.embedding_cards_ = np.asarray(
            [1 + self.categories_[c].shape[0] + self.has_missing_[c]
             for c in np.flatnonzero(self.embedded_)], dtype=np.intp)
        self.periodic_frequencies_, self.periodic_phases_ = periodic_frequencies(
            n_num, int(self.n_periodic), float(self.periodic_scale), self.random_state)
        one_hot = ~self.embedded_
        self.n_features_out_ = int(
            n_num + self.indicator_columns_.shape[0] + self._n_robust()
            + n_num * int(self.n_bins)
            + sum(c.shape[0] for c, h in zip(self.categories_, one_hot) if h)
            + self.has_infrequent_[one_hot].sum() + self.has_missing_[one_hot].sum()
            + self.embedding_cards_.shape[0] + n_num * int(self.n_periodic)
        )
        return cols

    def transform(self, X):
        """The float matrix of X.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features_out_), dtype ``dtype``
        """
        check_is_fitted(self)
        X = as_table(X)
        cols, _ = _read_columns(X, self)
        validate_data(self, X, skip_check_array=True, reset=False)
        return self._transform_columns(cols)

    def _transform_columns(self, cols, periodic=True):
        """transform, from X's columns (``_read_columns``) once X's feature
        names are checked: the tabular estimators check them against their
        own (the same names), and a second check would warn twice.  With
        ``periodic`` False the cosine columns are left out (the last
        ``periodic_frequencies_.size`` of ``n_features_out_``): the engine's
        periodic layer computes them per batch (a wide table's cosines were
        8/9 of its matrix and 40% of a predict's time)."""
        if len(cols) != self.n_features_in_:
            raise ValueError(
                f"X has {len(cols)} features, but TabularPreprocessor is expecting "
                f"{self.n_features_in_} features as input."
            )
        n = cols[0].shape[0] if cols else 0
        n_cos = self.periodic_frequencies_.size
        out = np.zeros((n, self.n_features_out_ - (0 if periodic else n_cos)), dtype=self.dtype)
        n_num = self.numeric_columns_.shape[0]
        pos = n_num
        indicator_of = {int(k): n_num + i for i, k in enumerate(self.indicator_columns_)}
        pos += len(indicator_of)
        robust_at = pos
        pos += self._n_robust()
        bins_at = pos
        pos += n_num * int(self.n_bins)
        xs = []
        for j in self.numeric_columns_:
            x = _as_float(cols[j])
            if x is None:
                raise ValueError(f"Column {self._column_label(j)} was numeric in fit but "
                                 "holds values that are not numbers.")
            xs.append(x)
        if self.quantiles_:
            _quantile_normal_into(out, xs, self.quantiles_)
        for k, x in enumerate(xs):
            missing = np.isnan(x)
            if not self.quantiles_:
                z = self._robust(x, k)
                z[missing] = 0.0
                out[:, k] = z
            if self._n_robust():
                z = self._robust(x, k)
                z[missing] = 0.0
                out[:, robust_at + k] = z
            if k in indicator_of:
                out[:, indicator_of[k]] = missing
        if self.n_bins:
            out[:, bins_at:pos] = binned_features(out[:, :n_num], int(self.n_bins), self.dtype)
        rows = np.arange(n)
        code_pos = self.n_features_out_ - n_cos - self.embedding_cards_.shape[0]
        for c, j in enumerate(self.categorical_columns_):
            col = cols[j]
            missing, strings = _category_cells(col)
            kept = self.categories_[c]
            strings = _flag_spellings(col, strings, kept)
            width = kept.shape[0]
            where = np.searchsorted(kept, strings).clip(0, max(width - 1, 0))
            known = (kept[where] == strings) & ~missing if width else np.zeros(n, bool)
            if self.embedded_[c]:
                # codes: 1 + i for category i, then missing, 0 for the rest
                code = np.where(known, 1 + where, 0)
                if self.has_missing_[c]:
                    code[missing] = 1 + width
                out[:, code_pos] = code
                code_pos += 1
                continue
            out[rows[known], pos + where[known]] = 1.0
            extra = pos + width
            if self.has_infrequent_[c]:
                out[~known & ~missing, extra] = 1.0
                extra += 1
            if self.has_missing_[c]:
                out[missing, extra] = 1.0
                extra += 1
            pos = extra
        if n_cos and periodic:
            out[:, self.n_features_out_ - n_cos:] = periodic_features(
                out[:, :n_num], self.periodic_frequencies_, self.periodic_phases_, self.dtype)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            The input columns' names: when None, the names seen in fit
            (``x0, x1, ...`` without them); when given, they must match the
            names seen in fit, if any.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        out = [str(names[j]) for j in self.numeric_columns_]
        out += [f"{names[self.numeric_columns_[k]]}_missing" for k in self.indicator_columns_]
        if self._n_robust():
            out += [f"{names[j]}_robust" for j in self.numeric_columns_]
        out += [f"{names[j]}_bin{t}" for j in self.numeric_columns_
                for t in range(int(self.n_bins))]
        codes = []
        for c, j in enumerate(self.categorical_columns_):
            if self.embedded_[c]:
                codes.append(f"{names[j]}_code")
                continue
            out += [f"{names[j]}_{v}" for v in self.categories_[c]]
            if self.has_infrequent_[c]:
                out.append(f"{names[j]}_infrequent")
            if self.has_missing_[c]:
                out.append(f"{names[j]}_missing")
        out += codes
        out += [f"{names[j]}_cos{i}" for j in self.numeric_columns_
                for i in range(self.periodic_frequencies_.shape[1])]
        return np.asarray(_unique_names(out), dtype=object)

    def _column_label(self, j):
        """Input column j as an error names it: its name, quoted, when fit saw
        names, else its position."""
        names = getattr(self, "feature_names_in_", None)
        return repr(str(names[j])) if names is not None and j < len(names) else str(j)

    def _n_robust(self):
        """How many robust columns follow the indicators ('both')."""
        return self.numeric_columns_.shape[0] if self.numeric_scaling == "both" else 0

    def _robust(self, x, k):
        """Numeric column k's robust value, smoothly clipped when asked: 0
        for a column constant in fit (NaN stays NaN), whatever the value; a
        difference past the largest float is +-inf, clipped below."""
        c, s = self.center_[k], self.scale_[k]
        if s == 0:
            return _zero_but_nan(x)
        if not self.smooth_clip and hasattr(self, "data_max_"):
            # +-inf as the largest (smallest) value fit saw, as fit's
            # statistics read it (a model pickled before data_max_ keeps the
            # output dtype's largest value, which overflowed the float32
            # networks: every epoch's loss NaN)
            x = np.where(x == np.inf, self.data_max_[k],
                         np.where(x == -np.inf, self.data_min_[k], x))
        with np.errstate(over="ignore", invalid="ignore"):
            z = (x - c) * s
            far = np.isinf(z)
            if far.any():   # x - c past the largest float: on halves
                z[far] = (x[far] / 2 - c / 2) * s * 2
        if self.smooth_clip:
            return smooth_clip(z)
        big = np.finfo(self.dtype).max  # a value beyond the output's range is its edge
        return np.clip(z, -big, big)

    def __setstate__(self, state):
        # saved by an earlier fastmlp (_saved_state): parameters added since
        # at their defaults; one fitted before the periodic features, the
        # quantiles and the embeddings cannot transform here
        state = with_defaults(type(self), state)
        refuse_unreadable(type(self), state, "numeric_columns_", (
            "periodic_frequencies_", "periodic_phases_", "quantiles_", "embedding_cards_"))
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name]
        return tags
