"""Tables a user may hand the tabular estimators: one class, object columns
of numbers, dates, complex values, empty tables, fits in threads, extreme
values.  The oracles are scikit-learn's own check_array messages, the same
table given with plain float columns, and the formulas' limits."""
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from fastmlp import TabularMLPClassifier, TabularMLPRegressor, TabularPreprocessor
from fastmlp._tabular_preprocessing import smooth_clip

pd = pytest.importorskip("pandas")

SMALL = dict(hidden_layer_sizes=(8,), max_iter=3, min_steps=0)


@pytest.mark.parametrize("seed", range(4))
def test_one_class_is_every_rows_class(seed):
    # the members' probabilities have two columns for one class; argmax of
    # them indexed classes_ out of range for some seeds (seed 1 here)
    X = pd.DataFrame({"a": np.arange(30.0)})
    clf = TabularMLPClassifier(**SMALL, random_state=seed).fit(X, ["yes"] * 30)
    assert list(clf.classes_) == ["yes"]
    assert (clf.predict(X) == "yes").all()
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((30, 1)))


def _numbers(n=200, seed=0):
    x = np.round(np.random.RandomState(seed).normal(size=n), 6)
    x[::7] = np.nan
    return x


@pytest.mark.parametrize("cell", [lambda v: Decimal(str(v)), float],
                         ids=["decimal", "float_or_none"])
def test_an_object_column_of_numbers_is_numeric(cell):
    # a SQL NUMERIC column comes as Decimal objects, floats with None as
    # object: both are the numbers a float column holds
    x = _numbers()
    obj = pd.DataFrame({"x": pd.Series([None if np.isnan(v) else cell(v) for v in x],
                                       dtype=object), "c": ["a", "b"] * 100})
    flt = pd.DataFrame({"x": x, "c": ["a", "b"] * 100})
    pre = TabularPreprocessor(random_state=0).fit(obj)
    assert list(pre.numeric_columns_) == [0] and list(pre.categorical_columns_) == [1]
    np.testing.assert_array_equal(pre.transform(obj),
                                  TabularPreprocessor(random_state=0).fit(flt).transform(flt))


def test_an_object_column_with_a_string_stays_categorical():
    X = pd.DataFrame({"x": pd.Series([1, 2.5, "three", None] * 10, dtype=object)})
    assert list(TabularPreprocessor().fit(X).categorical_columns_) == [0]


def _string_columns():
    """(dtype name, make(list of str or None)) for each string backend."""
    makes = [("object", lambda v: pd.Series(v, dtype=object)),
             ("string", lambda v: pd.Series(v, dtype="string")),
             ("str", lambda v: pd.Series(v).astype(str).where(pd.Series(v).notna()))]
    try:
        import pyarrow as pa
    except ImportError:
        return makes
    return makes + [("string[pyarrow]", lambda v: pd.Series(v, dtype=pd.ArrowDtype(pa.string())))]


@pytest.mark.parametrize("name,make", _string_columns(), ids=[n for n, _ in _string_columns()])
def test_a_string_column_of_numbers_is_numeric_whatever_its_backend(name, make):
    # pandas 3 gives strings its own 'str' dtype (.astype(str), a CSV's
    # text): numeric strings are numbers there as in an object column, as
    # HistGradientBoosting reads them; a word keeps the column categorical
    x = _numbers()
    cells = [None if np.isnan(v) else repr(float(v)) for v in x]
    X = pd.DataFrame({"x": make(cells), "c": ["a", "b"] * 100})
    flt = pd.DataFrame({"x": x, "c": ["a", "b"] * 100})
    pre = TabularPreprocessor(random_state=0).fit(X)
    assert list(pre.numeric_columns_) == [0], X["x"].dtype
    np.testing.assert_array_equal(pre.transform(X),
                                  TabularPreprocessor(random_state=0).fit(flt).transform(flt))
    words = pd.DataFrame({"x": make(cells[:-1] + ["many"])})
    assert list(TabularPreprocessor().fit(words).categorical_columns_) == [0]


def test_arrow_decimals_are_numbers_and_dictionaries_categories():
    # a parquet or SQL NUMERIC column read with dtype_backend='pyarrow'
    pa = pytest.importorskip("pyarrow")
    x = _numbers()
    dec = pd.Series([None if np.isnan(v) else Decimal(str(v)) for v in x],
                    dtype=pd.ArrowDtype(pa.decimal128(12, 6)))
    codes = pd.Series(["1", "2"] * 100).astype(pd.ArrowDtype(pa.dictionary(pa.int8(),
                                                                               pa.string())))
    flags = pd.Series([True, False] * 100, dtype=pd.ArrowDtype(pa.bool_()))
    X = pd.DataFrame({"x": dec, "codes": codes, "flags": flags})
    pre = TabularPreprocessor(random_state=0).fit(X)
    assert list(pre.numeric_columns_) == [0] and list(pre.categorical_columns_) == [1, 2]
    flt = pd.DataFrame({"x": x})
    np.testing.assert_array_equal(pre.transform(X)[:, :2],
                                  TabularPreprocessor(random_state=0).fit(flt).transform(flt))


DATES = ["2020-01-01T00:00", "2021-03-01T12:30", None, "2022-01-01T00:00"] * 10


def _ns(strings):
    """The oracle: NumPy's own nanoseconds since the epoch, NaN for None."""
    return np.array([np.nan if v is None else float(np.datetime64(v, "ns").astype(np.int64))
                     for v in strings])


@pytest.mark.parametrize("make", [
    lambda: pd.to_datetime(DATES),                       # pandas 3: microseconds
    lambda: pd.to_datetime(DATES).as_unit("ns"),
    lambda: pd.to_datetime(DATES).as_unit("s"),
    lambda: pd.to_datetime(DATES).tz_localize("UTC"),
    lambda: pd.to_datetime(DATES).tz_localize("UTC").tz_convert("Asia/Tokyo"),  # same instants
], ids=["us", "ns", "s", "utc", "tokyo"])
def test_times_are_nanoseconds_with_nat_missing_whatever_the_unit(make):
    # asi8 gave the column's own unit: a model fitted on ns and used on us
    # data read its dates 1000 times too small
    times = pd.Series(make())
    expected = _ns(DATES)
    from fastmlp._tabular_preprocessing import _time_column

    np.testing.assert_array_equal(_time_column(times), expected)
    pre = TabularPreprocessor(random_state=0).fit(pd.DataFrame({"t": times}))
    assert list(pre.numeric_columns_) == [0] and list(pre.indicator_columns_) == [0]
    as_float = pd.DataFrame({"t": expected})
    np.testing.assert_array_equal(
        pre.transform(pd.DataFrame({"t": times})),
        TabularPreprocessor(random_state=0).fit(as_float).transform(as_float))


def test_a_model_fitted_on_one_time_unit_reads_another_the_same():
    fit_on = pd.DataFrame({"t": pd.to_datetime(DATES).as_unit("ns")})
    pre = TabularPreprocessor(random_state=0).fit(fit_on)
    for unit in ("us", "s"):
        np.testing.assert_array_equal(
            pre.transform(pd.DataFrame({"t": pd.to_datetime(DATES).as_unit(unit)})),
            pre.transform(fit_on))



@pytest.mark.parametrize("freq", ["M", "Q", "D"])
def test_a_period_column_is_its_first_instants(freq):
    # a pandas Period column was categorical (every month a category of its
    # own, an unseen one row 0); it reads as the datetimes of its starts
    periods = pd.Series(pd.period_range("2001-01-01", periods=40, freq=freq))
    periods[3] = pd.NaT
    as_periods = pd.DataFrame({"t": periods, "x": np.arange(40.0)})
    as_times = pd.DataFrame({"t": periods.dt.start_time, "x": np.arange(40.0)})
    pre = TabularPreprocessor(random_state=0).fit(as_periods)
    assert list(pre.numeric_columns_) == [0, 1] and list(pre.indicator_columns_) == [0]
    np.testing.assert_array_equal(pre.transform(as_periods),
                                  TabularPreprocessor(random_state=0).fit(as_times)
                                  .transform(as_times))
    later = pd.DataFrame({"t": pd.Series(pd.period_range("2030-01-01", periods=2, freq=freq)),
                          "x": [0.0, 1.0]})
    np.testing.assert_array_equal(pre.transform(later), pre.transform(
        pd.DataFrame({"t": later["t"].dt.start_time, "x": [0.0, 1.0]})))


def test_timedeltas_are_nanoseconds_long():
    days = pd.Series(pd.to_timedelta([1, 2, None, 40] * 10, unit="D"))
    expected = np.array([np.nan if d is None else d * 86400e9 for d in [1, 2, None, 40] * 10])
    from fastmlp._tabular_preprocessing import _time_column

    for unit in ("ns", "s"):
        np.testing.assert_array_equal(_time_column(days.astype(f"timedelta64[{unit}]")),
                                      expected)


def test_arrow_dates_and_times_are_numbers_too():
    pa = pytest.importorskip("pyarrow")
    from fastmlp._tabular_preprocessing import _time_column

    days = [None if v is None else v[:10] for v in DATES]
    for dtype, strings in ((pa.date32(), days), (pa.timestamp("us"), DATES),
                           (pa.timestamp("s", tz="UTC"), DATES)):
        times = pd.Series(pd.to_datetime(strings)).astype(pd.ArrowDtype(dtype))
        np.testing.assert_array_equal(_time_column(times), _ns(strings))
        pre = TabularPreprocessor().fit(pd.DataFrame({"t": times}))
        assert list(pre.numeric_columns_) == [0]


def _as_objects(strings, cell):
    return pd.Series([None if v is None else cell(v) for v in strings], dtype=object)


@pytest.mark.parametrize("cell", [
    lambda v: pd.Timestamp(v).to_pydatetime(),                  # datetime.datetime
    lambda v: pd.Timestamp(v),
    lambda v: pd.Timestamp(v).tz_localize("UTC").tz_convert("Asia/Tokyo"),
    lambda v: np.datetime64(v, "m"),
], ids=["datetime", "timestamp", "tokyo", "datetime64"])
def test_an_object_column_of_datetimes_is_their_nanoseconds(cell):
    # object columns of dates (df.ts.dt.date, read_sql's DATE columns) were
    # categorical: more than 8 dates, each seen once, all read as one code
    X = pd.DataFrame({"t": _as_objects(DATES, cell)})
    pre = TabularPreprocessor(random_state=0).fit(X)
    assert list(pre.numeric_columns_) == [0] and list(pre.indicator_columns_) == [0]
    as_float = pd.DataFrame({"t": _ns(DATES)})
    oracle = TabularPreprocessor(numeric_scaling="robust").fit(as_float)
    assert np.unique(oracle.transform(as_float)[:, 0]).shape[0] == 3   # three dates (missing: the median, 0)
    np.testing.assert_array_equal(oracle.transform(X), oracle.transform(as_float))


def test_dates_as_objects_read_as_the_datetime_column_they_came_from():
    days = pd.Series(pd.to_datetime([None if v is None else v[:10] for v in DATES]))
    pre = TabularPreprocessor(random_state=0).fit(pd.DataFrame({"d": days}))
    np.testing.assert_array_equal(pre.transform(pd.DataFrame({"d": days.dt.date})),
                                  pre.transform(pd.DataFrame({"d": days})))
    durations = pd.Series(pd.to_timedelta([1, 2, None, 40] * 10, unit="D"))
    pre = TabularPreprocessor(random_state=0).fit(pd.DataFrame({"d": durations}))
    objects = pd.DataFrame({"d": pd.Series([None if pd.isna(d) else d.to_pytimedelta()
                                            for d in durations], dtype=object)})
    assert TabularPreprocessor().fit(objects).numeric_columns_.tolist() == [0]
    np.testing.assert_array_equal(pre.transform(objects),
                                  pre.transform(pd.DataFrame({"d": durations})))


@pytest.mark.parametrize("cells", [
    ["2020-01-01", pd.Timestamp("2020-01-02")],                 # a string among dates
    [pd.Timestamp("2020-01-01"), pd.Timedelta(days=1)],         # a date and a duration
], ids=["string", "duration"])
def test_an_object_column_of_dates_and_other_things_stays_categorical(cells):
    X = pd.DataFrame({"t": pd.Series(cells * 10, dtype=object)})
    assert TabularPreprocessor().fit(X).categorical_columns_.tolist() == [0]


@pytest.mark.parametrize("unit", ["D", "s", "ns"])
def test_an_array_of_datetimes_reads_as_a_frame_of_them(unit):
    # a 2-D datetime64 array kept its own unit and read NaT as -2**63 (the
    # lowest rank, no indicator), unlike the same column in a DataFrame
    days = np.datetime64("2020-01-01", unit) + np.arange(30).astype(f"timedelta64[{unit}]")
    days[3] = np.datetime64("NaT", unit)
    frame = pd.DataFrame({"x0": days})
    pre = TabularPreprocessor(random_state=0).fit(days.reshape(-1, 1))
    assert list(pre.indicator_columns_) == [0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # fitted without names
        np.testing.assert_array_equal(
            pre.transform(days.reshape(-1, 1)),
            TabularPreprocessor(random_state=0).fit(frame).transform(frame))


def test_time_units_of_months_years_and_multiples():
    # months and years failed once read in nanoseconds (f6e5368 counted
    # them in their unit); a multiple such as 10ms was read as 1ms
    from fastmlp._tabular_preprocessing import _time_array, _time_cell

    months = np.array(["2020-03", "NaT", "2021-12"], dtype="datetime64[M]")
    np.testing.assert_array_equal(_time_array(months),
                                  _ns(["2020-03-01T00:00", None, "2021-12-01T00:00"]))
    np.testing.assert_array_equal(_time_array(np.array(["2020"], dtype="datetime64[Y]")),
                                  _ns(["2020-01-01T00:00"]))
    np.testing.assert_array_equal(_time_array(np.array([3], dtype="timedelta64[10ms]")), [3e7])
    np.testing.assert_array_equal(_time_array(np.array([3], dtype="timedelta64[M]")), [3.0])
    pre = TabularPreprocessor().fit(months[[0, 2] * 10].reshape(-1, 1))
    assert pre.numeric_columns_.tolist() == [0]
    # a Timestamp's nanoseconds counted once (a second near the epoch: exact in float64)
    assert _time_cell(pd.Timestamp("1970-01-01 00:00:01.000000003")) == ("M", 1000000003.0)
    assert _time_cell(np.datetime64("1970-01-01T00:00:01.000000003")) == ("M", 1000000003.0)


def test_an_unknown_categorical_name_is_shown_as_written():
    X = pd.DataFrame({"size": [1.0, 2.0] * 5, "color": ["a", "b"] * 5})
    with pytest.raises(ValueError, match=r"names 'colr', not a column of X\.$"):
        TabularPreprocessor(categorical_features=["colr"]).fit(X)


@pytest.mark.parametrize("cells", [[1 + 2j, 2.0], [np.complex128(1 + 2j), 2.0]])
def test_an_object_column_of_complex_numbers_is_not_made_real(cells):
    # as for an array: a value that is not a real number makes it categorical
    X = pd.DataFrame({"z": pd.Series(cells * 10, dtype=object)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre = TabularPreprocessor().fit(X)
    assert list(pre.categorical_columns_) == [0]


def test_object_columns_follow_one_rule_for_frames_and_arrays():
    # numeric strings, bools with None, Decimals: numeric or not alike
    for cells in (["1.5", "2", None], [True, False, None], [Decimal("1.5"), None, 2],
                  ["a", 1.0, None]):
        col = np.array(cells * 10, dtype=object)
        frame = TabularPreprocessor().fit(pd.DataFrame({"c": pd.Series(col, dtype=object)}))
        array = TabularPreprocessor().fit(col.reshape(-1, 1))
        assert list(frame.categorical_columns_) == list(array.categorical_columns_), cells


def test_complex_columns_are_refused_as_for_arrays():
    X = pd.DataFrame({"z": [1 + 5j, 2 - 3j] * 10, "x": np.arange(20.0)})
    for est in (TabularPreprocessor(), TabularMLPRegressor(**SMALL)):
        with pytest.raises(ValueError, match="Complex data not supported"):
            est.fit(X, np.arange(20.0))


@pytest.mark.parametrize("shape", [(0, 3), (30, 0)])
@pytest.mark.parametrize("est", [TabularMLPClassifier(**SMALL), TabularMLPRegressor(**SMALL),
                                 TabularPreprocessor()], ids=lambda e: type(e).__name__)
def test_empty_tables_get_check_arrays_message(est, shape):
    with pytest.raises(ValueError) as expected:
        check_array(np.empty(shape), estimator=est)
    frame = pd.DataFrame(np.empty(shape), columns=[f"c{i}" for i in range(shape[1])])
    for X in (frame, np.empty(shape)):
        with pytest.raises(ValueError) as got:
            est.fit(X, np.zeros(shape[0]))
        assert str(got.value) == str(expected.value)


def test_predict_on_no_rows_names_the_estimator():
    X = pd.DataFrame({"a": np.arange(30.0), "b": ["u", "v", "w"] * 10})
    reg = TabularMLPRegressor(**SMALL, random_state=0).fit(X, np.arange(30.0))
    with pytest.raises(ValueError) as expected:
        check_array(np.empty((0, 2)), estimator=reg)
    with pytest.raises(ValueError) as got:
        reg.predict(X.iloc[:0])
    assert str(got.value) == str(expected.value)


def test_fits_in_threads_leave_the_warning_filters_alone():
    # a catch_warnings() around the members' fits, entered and left by two
    # threads at once, left an 'ignore ConvergenceWarning' filter behind
    # (fits long enough, ~0.1 s, that the two threads' fits overlap)
    X = pd.DataFrame({"a": np.arange(3000.0)})
    y = np.arange(3000) % 2
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inside = list(warnings.filters)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: TabularMLPClassifier(
                hidden_layer_sizes=(32,), max_iter=4, batch_size=32, min_steps=0,
                random_state=s).fit(X, y), range(2)))
        assert warnings.filters == inside
    assert warnings.filters == before
    # the epoch budget is the recipe: no ConvergenceWarning from the members
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_smooth_clip_holds_its_bound_where_the_square_overflows():
    z = np.array([-1e300, -1e160, -1e10, -1.0, 0.0, 2.0, 1e100, 1e200])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = smooth_clip(z)
    small = np.abs(z) < 1e150
    np.testing.assert_array_equal(out[small], z[small] / np.sqrt(1 + (z[small] / 3) ** 2))
    np.testing.assert_array_equal(out[~small], 3.0 * np.sign(z[~small]))


def test_robust_scaling_without_clip_stays_within_float32():
    pre = TabularPreprocessor(numeric_scaling="robust", smooth_clip=False, n_periodic=2)
    pre.fit(pd.DataFrame({"a": np.arange(20.0)}))
    out = pre.transform(pd.DataFrame({"a": [1e40, -1e300, 3.0]}))  # 1e40 / IQR > 3.4e38
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out[0, 0] == np.finfo(np.float32).max and out[1, 0] == -np.finfo(np.float32).max




def test_an_infinity_without_the_clip_is_the_largest_value_fit_saw():
    # +-inf ranks with the column's extremes (fit's statistics read it so);
    # without the clip it was float32's largest value, which overflowed the
    # networks' first layer: every epoch's loss NaN, R^2 0.19 (the clip: 0.98)
    pre = TabularPreprocessor(numeric_scaling="robust", smooth_clip=False, n_periodic=0)
    pre.fit(pd.DataFrame({"a": [0.0, 1, 2, 3, np.inf, 8, -np.inf, -2]}))
    np.testing.assert_array_equal([pre.data_min_[0], pre.data_max_[0]], [-2.0, 8.0])
    out = pre.transform(pd.DataFrame({"a": [np.inf, -np.inf, 8.0, -2.0, 100.0]}))[:, 0]
    assert out[0] == out[2] and out[1] == out[3] and out[4] > out[0] > 0 > out[1]
    # a preprocessor pickled before data_max_ maps them as it did
    old = pickle.loads(pickle.dumps(pre))
    del old.data_min_, old.data_max_
    big = np.finfo(np.float32).max
    np.testing.assert_array_equal(old.transform(pd.DataFrame({"a": [np.inf, -np.inf]}))[:, 0],
                                  [big, -big])
    rng = np.random.RandomState(0)
    x = rng.normal(size=300)
    x[0] = np.inf
    X = pd.DataFrame({"x": x, "z": rng.normal(size=300)})
    y = np.tanh(x) + X["z"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = TabularMLPRegressor(numeric_scaling="robust", smooth_clip=False, n_periodic=0,
                                  n_ensemble=1, max_iter=40, random_state=0).fit(X, y)
    assert np.isfinite(reg.loss_curve_).all() and reg.score(X[1:], y[1:]) > 0.9


def test_an_outlier_without_the_clip_trains_as_with_frozen_frequencies():
    # robust scaling without its clip passes an outlier of 1e12 on to the
    # periodic layer, whose cosine was NaN or past 1e20 there: every epoch's
    # loss was NaN (a diverged fit, R^2 -0.03); NumPy's cosine (frozen
    # frequencies) trained. Now both train, to the same fit up to rounding
    rng = np.random.RandomState(0)
    x = rng.normal(size=300)
    x[0] = 1e12
    X = pd.DataFrame({"x": x, "z": rng.normal(size=300)})
    y = np.tanh(x) + X["z"].to_numpy()
    scores = []
    for learn in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            reg = TabularMLPRegressor(numeric_scaling="robust", smooth_clip=False,
                                      learn_periodic=learn, n_ensemble=1, max_iter=40,
                                      random_state=0).fit(X, y)
        assert np.isfinite(reg.loss_curve_).all()
        scores.append(reg.score(X[1:], y[1:]))
    assert scores[0] > 0.9 and abs(scores[0] - scores[1]) < 0.05, scores


def test_many_bins_give_steps_not_nan():
    # past 1,000 bins the clipped tails make bins of width 0
    X = pd.DataFrame({"a": np.random.RandomState(0).rand(50)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = TabularPreprocessor(n_bins=1000, dtype=np.float64).fit_transform(X)
    bins = out[:, 1:1001]
    assert np.isfinite(bins).all() and bins.min() >= 0 and bins.max() <= 1


def test_feature_names_out_checks_the_names_given():
    pre = TabularPreprocessor().fit(pd.DataFrame({"a": [1.0, 2, 3], "b": ["x", "y", "x"]}))
    np.testing.assert_array_equal(pre.get_feature_names_out(["a", "b"]),
                                  pre.get_feature_names_out())
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        pre.get_feature_names_out(["q", "b"])
    unnamed = TabularPreprocessor().fit(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert list(unnamed.get_feature_names_out(["p", "q"])[:2]) == ["p", "q"]


def test_an_array_after_a_frame_warns_once():
    X = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 3})
    reg = TabularMLPRegressor(**SMALL, random_state=0).fit(X, np.arange(30.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.predict(X.to_numpy())
    names = [w for w in caught if "feature names" in str(w.message)]
    assert len(names) == 1 and "TabularMLPRegressor" in str(names[0].message)


def test_the_regressor_says_it_takes_several_targets():
    X = pd.DataFrame({"a": np.arange(40.0)})
    Y = np.c_[np.arange(40.0), -np.arange(40.0)]
    reg = TabularMLPRegressor(**SMALL, random_state=0).fit(X, Y)
    assert reg.__sklearn_tags__().target_tags.multi_output
    assert reg.predict(X).shape == (40, 2)


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_sample_weight_of_ones_is_no_weight(Est):
    X = pd.DataFrame({"a": np.random.RandomState(0).normal(size=300),
                      "c": np.random.RandomState(1).choice(list("xyz"), 300)})
    y = (X["a"] > 0).astype(int) if Est is TabularMLPClassifier else X["a"].to_numpy()
    method = "predict_proba" if Est is TabularMLPClassifier else "predict"
    kw = dict(hidden_layer_sizes=(16,), max_iter=4, min_steps=0, random_state=0)
    np.testing.assert_array_equal(
        getattr(Est(**kw).fit(X, y), method)(X),
        getattr(Est(**kw).fit(X, y, sample_weight=np.ones(300)), method)(X))


def test_rows_of_weight_zero_do_not_teach():
    # half the rows carry flipped labels: weighted 0 they are ignored, and
    # the clean rule is learnt; weighted 1 the rule is lost
    rng = np.random.RandomState(0)
    x = rng.normal(size=2000)
    clean = (x > 0).astype(int)
    noisy = np.r_[clean[:1000], 1 - clean[1000:]]
    X = pd.DataFrame({"x": x})
    sw = np.r_[np.ones(1000), np.zeros(1000)]
    kw = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    weighted = TabularMLPClassifier(**kw).fit(X, noisy, sample_weight=sw)
    unweighted = TabularMLPClassifier(**kw).fit(X, noisy)
    assert weighted.score(X, clean) > 0.95
    assert unweighted.score(X, clean) < 0.8


@pytest.mark.parametrize("sw, message", [
    (np.zeros(40), "Sample weights must contain at least one non-zero number"),
    (np.ones(3), r"sample_weight.shape == \(3,\), expected \(40,\)"),
    (np.r_[np.nan, np.ones(39)], "Input sample_weight contains NaN"),
])
def test_bad_sample_weight_gets_scikit_learns_errors(sw, message):
    X = pd.DataFrame({"a": np.arange(40.0)})
    for est in (TabularMLPRegressor(**SMALL), TabularMLPClassifier(**SMALL)):
        with pytest.raises(ValueError, match=message):
            est.fit(X, np.arange(40) % 2, sample_weight=sw)


@pytest.mark.parametrize("target, sw, message", [
    ("nan", None, "Input y contains NaN"),
    ("inf", None, "Input y contains infinity"),
    ("ok", "nan", "Input sample_weight contains NaN"),
    ("ok", "inf", "Input sample_weight contains infinity"),
])
def test_non_finite_y_and_weights_refused_under_assume_finite(target, sw, message):
    # assume_finite skips scikit-learn's checks; a NaN target then fitted a
    # regressor predicting NaN for every row, a NaN weight trained on. The
    # check costs a pass over a column, so it runs whatever the setting
    from sklearn import config_context

    X = pd.DataFrame({"a": np.arange(40.0)})
    value = {"nan": np.nan, "inf": np.inf}
    y = (np.arange(40) % 2).astype(float)
    weights = None
    if sw is None:
        y[1] = value[target]
    else:
        weights = np.ones(40)
        weights[1] = value[sw]
    for est in (TabularMLPRegressor(**SMALL), TabularMLPClassifier(**SMALL)):
        with config_context(assume_finite=True):
            with pytest.raises(ValueError, match=message):
                est.fit(X, y, sample_weight=weights)
        assert not hasattr(est, "network_")


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 4.0}, {1: 0.5}])
def test_class_weight_is_its_sample_weight(class_weight):
    # the oracle: scikit-learn's compute_sample_weight, given as sample_weight
    from sklearn.utils.class_weight import compute_sample_weight

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "c": rng.choice(list("xyz"), 300)})
    y = (X["a"] > 0.8).astype(int).to_numpy()
    kw = dict(hidden_layer_sizes=(16,), max_iter=4, min_steps=0, random_state=0)
    by_class = TabularMLPClassifier(**kw, class_weight=class_weight).fit(X, y)
    by_row = TabularMLPClassifier(**kw).fit(
        X, y, sample_weight=compute_sample_weight(class_weight, y))
    np.testing.assert_array_equal(by_class.predict_proba(X), by_row.predict_proba(X))
    # and with sample weights too: their product
    sw = rng.rand(300)
    both = TabularMLPClassifier(**kw, class_weight=class_weight).fit(X, y, sample_weight=sw)
    product = TabularMLPClassifier(**kw).fit(
        X, y, sample_weight=(sw.astype(np.float32)
                             * compute_sample_weight(class_weight, y).astype(np.float32)))
    np.testing.assert_array_equal(both.predict_proba(X), product.predict_proba(X))


def test_class_weight_must_be_finite():
    X = pd.DataFrame({"a": np.arange(40.0)})
    with pytest.raises(ValueError, match="class_weight must give finite weights; got 0 -> nan"):
        TabularMLPClassifier(**SMALL, class_weight={0: np.nan}).fit(X, np.arange(40) % 2)


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_predict_in_row_blocks_gives_the_same_bits(Est, monkeypatch):
    # predict works PREDICT_ROWS rows at a time (memory), a multiple of the
    # engine's row blocks: the same bits as X predicted whole
    import fastmlp._tabular as tab
    from fastmlp._tuning import PREDICT_BLOCK_ROWS

    n = 5 * PREDICT_BLOCK_ROWS + 37
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(list("pqrstuvwxyz"), n),
                      "c": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(size=n))})
    y = (X["a"] > 0).to_numpy() if Est is TabularMLPClassifier else X["a"].to_numpy()
    est = Est(hidden_layer_sizes=(16,), max_iter=3, min_steps=0, max_one_hot=4,
              random_state=0).fit(X, y)
    method = "predict_proba" if Est is TabularMLPClassifier else "predict"
    whole = getattr(est, method)(X)
    monkeypatch.setattr(tab, "PREDICT_ROWS", 2 * PREDICT_BLOCK_ROWS)   # three blocks here
    np.testing.assert_array_equal(getattr(est, method)(X), whole)
    # and fewer rows for a wide input: a block's float64 input within the bytes
    monkeypatch.setattr(tab, "PREDICT_ROWS", 256 * PREDICT_BLOCK_ROWS)
    width = est.network_.coefs_[0].shape[0]
    monkeypatch.setattr(tab, "PREDICT_BLOCK_BYTES", 8 * width * (PREDICT_BLOCK_ROWS + 5))
    assert tab._predict_rows(8 * width) == PREDICT_BLOCK_ROWS
    np.testing.assert_array_equal(getattr(est, method)(X), whole)


def test_predict_rows_bound_a_blocks_bytes():
    import fastmlp._tabular as tab
    from fastmlp._tuning import PREDICT_BLOCK_ROWS

    for width in (1, 50, 300, 2000, 18000, 10**6):
        rows = tab._predict_rows(8 * width)
        assert rows % PREDICT_BLOCK_ROWS == 0 and PREDICT_BLOCK_ROWS <= rows <= tab.PREDICT_ROWS
        assert rows == PREDICT_BLOCK_ROWS or 8 * width * rows <= tab.PREDICT_BLOCK_BYTES
    assert tab._predict_rows(8) == tab.PREDICT_ROWS
    assert tab._predict_rows(8 * 2000) < tab.PREDICT_ROWS


def test_predict_blocks_bound_the_preprocessed_matrix_too(monkeypatch):
    # with periodic_dim, the preprocessed matrix (float32, its cosine
    # columns left 0) is wider than the network's input: it sets the rows
    import fastmlp._tabular as tab

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 20))
    reg = TabularMLPRegressor(**SMALL, n_periodic=16, periodic_dim=1, random_state=0).fit(
        X, X[:, 0])
    pre = reg.preprocessor_
    assert 4 * pre.n_features_out_ > 8 * reg.network_.coefs_[0].shape[0]
    seen = []
    monkeypatch.setattr(tab, "_predict_rows", lambda row_bytes: seen.append(row_bytes) or 256)
    reg.predict(X)
    assert seen == [4 * pre.n_features_out_]


@pytest.mark.parametrize("periodic_dim", [0, 3])
def test_the_cosines_the_engine_computes_are_left_out_of_the_matrix(periodic_dim):
    # with learned periodic features the engine overwrites the cosine
    # columns per batch: the estimator no longer computes them (8/9 of a
    # wide numeric table's matrix, 40% of a predict's time), and the same
    # network predicts the same bits from a matrix with them
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300),
                      "c": rng.choice(list("pqr"), 300)})
    reg = TabularMLPRegressor(**SMALL, periodic_dim=periodic_dim, random_state=0).fit(
        X, X["a"] * X["b"])
    pre, net = reg.preprocessor_, reg.network_
    cols = reg._columns(X)
    n_cos = pre.periodic_frequencies_.size
    with_cos = pre._transform_columns(cols)
    without = pre._transform_columns(cols, periodic=False)
    assert n_cos and np.abs(with_cos[:, -n_cos:]).sum() > 0
    # the cosines left out, for the engine computes them
    assert without.shape[1] == with_cos.shape[1] - n_cos
    np.testing.assert_array_equal(without, with_cos[:, :-n_cos])
    from fastmlp._tabular import _network_input
    spec = net._periodic
    full = _network_input(pre, with_cos, spec, 0).astype(np.float64)
    np.testing.assert_array_equal(net.predict(full), net.predict(reg._input_of(cols)))


@pytest.mark.parametrize("spec", [[0.0], [0.5, 1.0]])
def test_float_categorical_features_get_histgbs_error(spec):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = np.random.RandomState(0).rand(30, 3), np.arange(30) % 2
    with pytest.raises(ValueError) as expected:
        HistGradientBoostingClassifier(categorical_features=spec).fit(X, y)
    for est in (TabularPreprocessor(categorical_features=spec),
                TabularMLPClassifier(**SMALL, categorical_features=spec)):
        with pytest.raises(ValueError) as got:
            est.fit(X, y)
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_rows_of_weight_zero_are_left_out_as_if_removed(Est, monkeypatch):
    # 90% zero weights: a minibatch or the held-out rows summed to 0 and the
    # fit raised ZeroDivisionError for every seed (HistGB fits)
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=1000), "c": rng.choice(list("xyz"), 1000)})
    y = (X["a"] > 0).to_numpy() if Est is TabularMLPClassifier else X["a"].to_numpy()
    sw = np.where(rng.rand(1000) < 0.9, 0.0, rng.rand(1000) + 0.5)
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, min_steps=0)
    method = "predict_proba" if Est is TabularMLPClassifier else "predict"
    for seed in range(3):
        with_zeros = Est(**kw, random_state=seed).fit(X, y, sample_weight=sw)
        assert np.isfinite(getattr(with_zeros, method)(X)).all()
    # every member trains and picks its epoch on rows of weight > 0 only,
    # all of them between its training and held-out rows
    seen = []
    real = Est._fit_network

    def recording(self, net, pre, Xt, target, train, val, spec, sample_weight=None):
        seen.append((train, val))
        return real(self, net, pre, Xt, target, train, val, spec, sample_weight)

    monkeypatch.setattr(Est, "_fit_network", recording)
    Est(**kw, random_state=0).fit(X, y, sample_weight=sw)
    assert len(seen) == 2
    for train, val in seen:
        assert (sw[train] > 0).all() and (sw[val] > 0).all()
        np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.flatnonzero(sw))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_class_whose_rows_all_weigh_zero_stays_in_classes_unlearnt(n_classes):
    # HistGradientBoosting's classes_ and the drop-in's are y's labels,
    # whatever the weights: the tabular networks get an output for the class
    # with no row left to train on, and learn to give it a low probability
    X = pd.DataFrame({"a": np.arange(60.0)})
    y = np.array(["x", "y", "z"])[np.arange(60) % n_classes]
    sw = (y != y[-1]).astype(float)
    clf = TabularMLPClassifier(**dict(SMALL, min_steps=300), random_state=0).fit(
        X, y, sample_weight=sw)
    hgb = HistGradientBoostingClassifier(max_iter=5).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(clf.classes_, hgb.classes_)
    proba = clf.predict_proba(X)
    assert proba.shape == (60, n_classes)
    assert (proba[:, -1] < 1.0 / n_classes).all()
    assert y[-1] not in set(clf.predict(X))
    for net in clf.networks_:   # the hint is gone: the member pickles as before
        assert "_classes" not in net.__dict__
        np.testing.assert_array_equal(net.classes_, hgb.classes_)


def test_predict_log_proba_is_the_log_of_predict_proba():
    X = pd.DataFrame({"a": np.random.RandomState(0).normal(size=80)})
    clf = TabularMLPClassifier(**SMALL, random_state=0).fit(X, X["a"] > 0)
    np.testing.assert_array_equal(clf.predict_log_proba(X), np.log(clf.predict_proba(X)))


def test_a_flag_fitted_as_bool_reads_0_and_1_at_predict_as_the_bools():
    # a DataFrame's bool column in fit, 0/1 numbers at predict (a database's
    # flag, a NumPy copy): HistGradientBoosting reads both as numbers, and so
    # must the categories here; the strings '1'/'0' stay other categories
    rng = np.random.RandomState(0)
    flag = rng.rand(200) < 0.5
    X = pd.DataFrame({"flag": flag, "a": rng.normal(size=200)})
    y = flag ^ (X["a"] > 1)
    clf = TabularMLPClassifier(**SMALL, random_state=0).fit(X, y)
    want = clf.predict_proba(X)
    for spelled in (flag.astype(int), flag.astype(np.uint8), flag.astype(float),
                    pd.array(flag.astype(int), dtype="Int64"), flag.astype(int).astype(object)):
        np.testing.assert_array_equal(clf.predict_proba(X.assign(flag=spelled)), want)
    pre = clf.preprocessor_
    as_strings = pre.transform(X.assign(flag=np.where(flag, "1", "0").astype(object)))
    flag_cols = np.isin(pre.get_feature_names_out(), ["flag_False", "flag_True"])
    assert not as_strings[:, flag_cols].any()      # unseen categories
    # and the other way: categories 0/1 in fit, bools at predict
    X01 = X.assign(flag=pd.Categorical(flag.astype(int)))
    pre01 = TabularPreprocessor(n_periodic=0).fit(X01)
    np.testing.assert_array_equal(pre01.transform(X.assign(flag=flag)), pre01.transform(X01))
    # a value beyond 0/1 is still unseen
    out = pre.transform(X.assign(flag=np.where(flag, 2, 0)))
    assert not out[flag][:, flag_cols].any() and out[~flag][:, flag_cols].any()
    # only a flag is respelled: not a column of other categories too, nor
    # codes 0..9 given a bool, nor strings '1'/'0' in a NumPy str array
    mixed = pd.DataFrame({"flag": [True, False, "maybe"], "a": [0.0, 1.0, 2.0]})
    pre_m = TabularPreprocessor(n_periodic=0).fit(mixed)
    out = pre_m.transform(mixed.assign(flag=[1, 0, "maybe"]))
    names = list(pre_m.get_feature_names_out())
    assert not out[:2, 1:].any() and out[2, names.index("flag_maybe")] == 1
    codes = pd.DataFrame({"code": pd.Categorical(np.arange(10) % 10), "a": np.arange(10.0)})
    pre_c = TabularPreprocessor(n_periodic=0).fit(codes)
    assert not pre_c.transform(codes.assign(code=[False] * 10))[:, 1:].any()
    as_str = np.c_[np.where(flag, "1", "0"), X["a"].to_numpy().astype(str)]
    pre_s = TabularPreprocessor(n_periodic=0, categorical_features=[0]).fit(
        np.c_[flag.astype(object), X["a"].to_numpy()])
    assert not pre_s.transform(as_str)[:, 1:].any()


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_fit_under_a_pandas_transform_output_configuration(Est):
    # sklearn.set_config(transform_output="pandas") made the internal
    # preprocessor return a DataFrame, which the networks indexed by rows:
    # every fit raised KeyError (HistGradientBoosting fits)
    import sklearn

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "c": rng.choice(["u", "v"], 80)})
    y = (X["a"] > 0).to_numpy() if Est is TabularMLPClassifier else X["a"].to_numpy()
    want = Est(**SMALL, random_state=0).fit(X, y)
    with sklearn.config_context(transform_output="pandas"):
        got = Est(**SMALL, random_state=0).fit(X, y)
        out = got.predict(X)
        assert isinstance(got.preprocessor_.transform(X), pd.DataFrame)  # the user's setting
    np.testing.assert_array_equal(out, want.predict(X))


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_y_of_another_length_gets_scikit_learns_message(Est):
    X = np.zeros((50, 2))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[50, 49\]"):
        Est(**SMALL).fit(X, np.arange(49) % 2)


@pytest.mark.parametrize("y", [pd.Series(["a", "b", np.nan, "a"] * 5),
                               np.array(["a", "b", np.nan, "a"] * 5, dtype=object)])
def test_a_missing_label_gets_scikit_learns_message(y):
    # a TypeError from sorting str and float before, where
    # HistGradientBoosting and the drop-in say "Input contains NaN"
    with pytest.raises(ValueError, match="Input contains NaN"):
        TabularMLPClassifier(**SMALL).fit(np.zeros((20, 1)), y)


def test_column_quantiles_of_a_range_past_the_largest_float():
    # max - min overflowed: NaN quantiles, then "Input X contains NaN" from
    # the private network class (HistGradientBoosting fits)
    # (np.quantile itself gives NaN there): the oracle is np.quantile of x / 4
    # times 4, the same bits, a power of two scaling exactly
    from fastmlp._tabular_preprocessing import QUANTILE_POINTS, column_quantiles

    rng = np.random.RandomState(0)
    for x in (np.r_[np.full(5, -1.7e308), np.full(4, 1.7e308)],
              rng.uniform(-1, 1, 3 * QUANTILE_POINTS + 1) * 1.7e308):
        levels = np.linspace(0, 1, min(QUANTILE_POINTS, x.shape[0]))
        got = column_quantiles(x)
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, np.quantile(x / 4, levels) * 4)


@pytest.mark.parametrize("smooth", [True, False])
@pytest.mark.parametrize("scaling", ["quantile", "robust", "both"])
def test_extreme_finite_values_fit_and_predict_without_nan(scaling, smooth):
    rng = np.random.RandomState(0)
    x = rng.normal(size=200)
    # a sign at +-1e308 (its quartiles' gap overflows), the same unbalanced
    # (the median's interpolation overflows), subnormals, a constant
    X = np.c_[x, np.where(x > 0, 1e308, -1e308), np.r_[np.full(101, -1e308), np.full(99, 1e308)],
              np.where(x > 0, 3e-310, 1e-310), np.full(200, -1e308)]
    X[:, 2] = X[np.argsort(x), 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        clf = TabularMLPClassifier(**SMALL, numeric_scaling=scaling, smooth_clip=smooth,
                                   random_state=0).fit(X, x > 0)
        # the column constant in fit at -1e308 given +1e308: still 0
        new = X.copy()
        new[:, 4] = 1e308
        Xt = clf.preprocessor_.transform(new)
        proba = clf.predict_proba(new)
    assert np.isfinite(Xt).all() and np.isfinite(proba).all()
    pre = clf.preprocessor_
    assert np.isfinite(pre.center_).all() and np.isfinite(pre.scale_).all()
    assert pre.scale_[4] == 0
    if scaling != "quantile":
        # the sign column's robust values, (x - median) / (q3 - q1): 0 and
        # +-1, q3 - q1 being 2e308 (its inverse a subnormal, to 1e-12)
        robust = pre._robust(X[:, 1], 1)
        want = (X[:, 1] / 2 - pre.center_[1] / 2) / 1e308
        assert set(np.unique(want)) in ({0.0, 1.0}, {-1.0, 0.0})
        np.testing.assert_allclose(robust, want if not smooth else smooth_clip(want),
                                   rtol=1e-12, atol=0)


@pytest.mark.parametrize("size", [1e200, 1e-200])
def test_regression_targets_far_from_1_are_learnt_as_at_1(size):
    # y's squares overflowed (|y| > 1e154: y_scale_ inf, predictions inf)
    # or underflowed (|y| < 1e-162: y_scale_ 1, nothing learnt)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    y = X[:, 0] + np.sin(X[:, 1])
    at_1 = TabularMLPRegressor(**SMALL, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        far = TabularMLPRegressor(**SMALL, random_state=0).fit(X, y * size)
        pred = far.predict(X)
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(far.y_scale_ / size, at_1.y_scale_, rtol=1e-12)
    np.testing.assert_allclose(pred / size, at_1.predict(X), rtol=1e-4, atol=1e-4)


def test_regression_target_whose_range_is_past_the_largest_float():
    # y - mean overflowed: the inner network refused an infinite target
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    y = np.where(X[:, 0] > 0.5, 1.5e308, -1.5e308)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # but scikit-learn's own check of y sums it (inf + -inf): its warning
        warnings.filterwarnings("ignore", "invalid value encountered in reduce", RuntimeWarning)
        reg = TabularMLPRegressor(**SMALL, random_state=0).fit(X, y)
        pred = reg.predict(X)
    assert np.isfinite(reg.y_mean_).all() and np.isfinite(reg.y_scale_).all()
    assert np.isfinite(pred).all() and (np.abs(pred) <= 1.5e308).all()


@pytest.mark.parametrize("frame", [True, False])
def test_errors_about_a_column_name_it(frame):
    # they named the column's position (and a class the user never made)
    X = np.column_stack([np.arange(20.0), np.linspace(0, 1, 20)])
    if frame:
        X = pd.DataFrame(X, columns=["age", "price"])
    where = "'price'" if frame else "1"
    est = TabularMLPRegressor(**SMALL).fit(X, np.arange(20.0))
    text = X.astype(object)
    if frame:
        text.loc[2, "price"] = "n/a"
    else:
        text[2, 1] = "n/a"
    with pytest.raises(ValueError, match=f"Column {where} was numeric in fit but holds"):
        est.predict(text)


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_infinite_values_fit_and_predict_as_histgbs_do(Est):
    # HistGradientBoosting takes +-inf (a ratio over 0); the tabular
    # estimators raised "contains infinity"
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"ratio": rng.normal(size=300), "x": rng.normal(size=300)})
    y = X["x"].to_numpy() > 0 if Est is TabularMLPClassifier else 2 * X["x"].to_numpy()
    X.loc[::11, "ratio"] = np.inf
    X.loc[3::17, "ratio"] = -np.inf
    est = Est(**SMALL, random_state=0).fit(X, y)
    out = est.predict_proba(X) if Est is TabularMLPClassifier else est.predict(X)
    assert np.isfinite(out).all()
    far = X.replace({np.inf: 1e9, -np.inf: -1e9})   # past fit's values, as inf
    again = est.predict_proba(far) if Est is TabularMLPClassifier else est.predict(far)
    np.testing.assert_array_equal(out, again)


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_read_only_tables_are_read_and_left_as_they_were(Est):
    # float64 columns are read in place (no copy): a read-only memory map
    # (joblib, a loaded model's data) fits and predicts, and nothing is written
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    X[::5, 1] = np.nan
    y = X[:, 0] > 0 if Est is TabularMLPClassifier else 2 * X[:, 0]
    before = X.copy()
    X.setflags(write=False)
    est = Est(**SMALL, random_state=0).fit(X, y)
    frame = pd.DataFrame(before.copy())
    np.testing.assert_array_equal(est.predict(X), est.predict(frame))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(frame.to_numpy(), before)


def test_kept_epoch_never_takes_a_nan_score_for_the_best():
    from fastmlp._tabular import _kept_epoch

    assert _kept_epoch([np.nan, 1.0, 3.0, 3.0, np.nan]) == 4   # the latest of the tied best
    assert _kept_epoch([-7e27, np.nan, np.nan]) == 1
    assert _kept_epoch([np.nan, np.nan]) == 0   # the initial weights


def test_a_diverging_fit_says_so_and_names_the_learning_rate():
    # a learning rate of 1e4: 127 of 128 validation scores NaN, best_epoch_
    # named an epoch of NaN score, and nothing was said; without a held-out
    # split the error blamed the input data, which the preprocessing scales
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    est = TabularMLPRegressor(learning_rate_init=1e4, max_iter=8, min_steps=0, n_ensemble=1,
                              random_state=0)
    with pytest.warns(ConvergenceWarning, match="Training diverged in 1 of 1 network.*"
                                                "Lower learning_rate_init"):
        est.fit(X, 3 * X[:, 0])
    scores = np.asarray(est.validation_scores_)
    assert np.isnan(scores).any()
    assert np.isfinite(scores[est.best_epoch_ - 1])
    assert scores[est.best_epoch_ - 1] == np.nanmax(scores)
    assert np.isfinite(est.predict(X)).all()
    message = "Training diverged: the network's weights became non-finite. Lower learning_rate_init"
    with pytest.raises(ValueError, match=message):
        est.set_params(best_epoch=False).fit(X, 3 * X[:, 0])
    # a classifier's held-out accuracy stays a number on non-finite weights,
    # which it may then keep: the same error
    with pytest.raises(ValueError, match=message):
        TabularMLPClassifier(learning_rate_init=1e6, max_iter=8, min_steps=0, n_ensemble=1,
                             random_state=0).fit(X, X[:, 0] > 0)


@pytest.mark.parametrize("w", [1e39, 1e-46])
def test_sample_weights_finite_in_float64_are_taken_at_any_scale(w):
    # cast to float32 before their checks: 1e39 was 'infinity' (with NumPy's
    # overflow warning) and 1e-46 all zeros; HistGradientBoosting takes both
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 3)), np.arange(120) % 2
    plain = TabularMLPClassifier(**SMALL, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weighted = TabularMLPClassifier(**SMALL, random_state=0).fit(
            X, y, sample_weight=np.full(120, w))
    np.testing.assert_array_equal(weighted.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("param,bad,good", [("n_lr_cycles", 65, 64),
                                            ("periodic_scale", 1001.0, 1000.0)])
def test_parameters_past_what_the_engine_computes_are_refused(param, bad, good):
    # n_lr_cycles=1024 overflowed 2**n (OverflowError); a periodic scale of
    # 1e9 sent the engine's cosine past its range and the fit into NaN
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = np.random.RandomState(0).normal(size=(60, 2)), np.arange(60) % 2
    with pytest.raises(InvalidParameterError, match=param):
        TabularMLPClassifier(**SMALL, **{param: bad}).fit(X, y)
    TabularMLPClassifier(**SMALL, **{param: good}).fit(X, y)


@pytest.mark.parametrize("w", [np.r_[np.zeros(10), -np.ones(110)],
                               np.r_[-np.ones(115), np.full(5, 1e-40)],
                               np.r_[-np.ones(115), np.full(5, -1e-40)]])
def test_negative_sample_weights_are_scaled_by_their_magnitude(w):
    # scaled by their largest value, weights whose largest is 0 or 1e-40 next
    # to -1 were "Input sample_weight contains NaN" / "... infinity" (0/0,
    # -1/1e-40 in float32); HistGradientBoosting and the drop-in fit them
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 3)), np.arange(120) % 2
    est = TabularMLPClassifier(**SMALL, random_state=0).fit(X, y, sample_weight=w)
    assert np.isfinite(est.predict_proba(X)).all()
    # the fit does not depend on the weights' scale
    again = TabularMLPClassifier(**SMALL, random_state=0).fit(X, y, sample_weight=w * 1e35)
    np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X), rtol=1e-5)


def _frames():
    """The same small table as pandas, polars, a pyarrow Table and dask."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 120
    zips = rng.choice(["75001", "10115", "00118"], n)
    frame = pd.DataFrame({"x": rng.normal(size=n), "zip": pd.Categorical(zips),
                          "flag": rng.rand(n) < 0.5})
    y = frame["x"].to_numpy() + (zips == "75001") + frame["flag"].to_numpy()
    return frame, y


@pytest.mark.parametrize("library", ["polars", "pyarrow", "dask"])
def test_other_libraries_frames_are_read_as_pandas(library):
    # made arrays by check_array, a polars frame or pyarrow Table lost its
    # column names (reordered columns predicted silently, r2 0.998 -> -4.9)
    # and its types (Categorical zip codes numeric); a dask frame crashed on
    # its lazy row count.  HistGradientBoosting reads all three.
    frame, y = _frames()
    if library == "polars":
        pl = pytest.importorskip("polars")
        other = pl.from_pandas(frame)
    elif library == "pyarrow":
        pa = pytest.importorskip("pyarrow")
        other = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        dd = pytest.importorskip("dask.dataframe")
        other = dd.from_pandas(frame, npartitions=2)
    params = dict(SMALL, n_ensemble=1, random_state=0)
    ref = TabularMLPRegressor(**params).fit(frame, y)
    est = TabularMLPRegressor(**params).fit(other, y)
    assert list(est.feature_names_in_) == ["x", "zip", "flag"]
    assert list(est.preprocessor_.categorical_columns_) == [1, 2]
    np.testing.assert_array_equal(est.predict(other), ref.predict(frame))
    np.testing.assert_array_equal(ref.predict(other), ref.predict(frame))
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame[["zip", "x", "flag"]])
    if library == "polars":
        with pytest.raises(ValueError, match="feature names should match"):
            est.predict(other.select(["zip", "x", "flag"]))
    pre = TabularPreprocessor().fit(other)
    np.testing.assert_array_equal(pre.transform(other), pre.transform(frame))


def test_a_target_of_weight_0_is_left_out_of_the_targets_scale_and_range():
    # a row of weight 0 is left out, as if removed: its target (a sentinel)
    # still set y_mean_, y_scale_ and the clip range (R^2 0.996 -> -10,486)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(201, 3))
    y = np.sin(X[:, 0]) + X[:, 1]
    y[-1] = 1e6
    w = np.ones(201)
    w[-1] = 0
    est = TabularMLPRegressor(**SMALL, n_ensemble=1, random_state=0).fit(X, y, sample_weight=w)
    kept = y[:-1]
    np.testing.assert_allclose(est.y_mean_, [kept.mean()])
    np.testing.assert_allclose(est.y_scale_, [kept.std()])
    assert est.y_min_[0] == kept.min() and est.y_max_[0] == kept.max()
    assert est.predict(X).max() <= kept.max()


@pytest.mark.parametrize("class_weight,sample_weight", [
    ({0: 1e-50, 1: 1e-50}, None), ({1: 1e40}, None), ({0: 1e300, 1: 1e300}, None),
    ({1: 1e20}, 1e20), ({0: 1e-50, 1: 1e-50}, 1e35)])
def test_class_weights_past_float32_are_taken_as_sample_weights_are(class_weight,
                                                                    sample_weight):
    # made float32 before their product, they were 0 or inf, and the fit
    # failed with "Input sample_weight contains NaN" (HistGB fits them)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 3)), np.arange(120) % 2
    sw = None if sample_weight is None else np.full(120, sample_weight)
    est = TabularMLPClassifier(**SMALL, class_weight=class_weight, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est.fit(X, y, sample_weight=sw)
    assert np.isfinite(est.predict_proba(X)).all()
    with pytest.raises(ValueError, match="class_weight gives every sample a weight of 0"):
        TabularMLPClassifier(**SMALL, class_weight={0: 0.0, 1: 0.0}).fit(X, y)


def test_a_column_named_compute_is_a_column():
    # as_table took a pandas column named "compute" for dask's method
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"compute": rng.normal(size=60), "b": rng.normal(size=60)})
    est = TabularMLPRegressor(**SMALL, n_ensemble=1, random_state=0).fit(frame, frame["b"])
    assert list(est.feature_names_in_) == ["compute", "b"]
    TabularPreprocessor().fit(frame).transform(frame)


def test_a_frame_that_cannot_become_pandas_says_so(monkeypatch):
    # polars' to_pandas needs pyarrow, which polars does not require: the
    # frame is read as an array, as before, and now with a warning
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"a": [0.1 * i for i in range(60)], "b": [1.0] * 60})

    def no_pyarrow(self, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'pyarrow'")

    monkeypatch.setattr(pl.DataFrame, "to_pandas", no_pyarrow)
    with pytest.warns(UserWarning, match="DataFrame read as an array, without its column names"):
        TabularMLPRegressor(**SMALL, n_ensemble=1).fit(frame, np.arange(60.0))
