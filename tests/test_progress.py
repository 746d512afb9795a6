"""EpochReporter, TimeBudget and the user callbacks."""
import io
import time

import pytest
from sklearn.utils._param_validation import validate_parameter_constraints

from fastmlp._progress import (
    PROGRESS_PARAM_CONSTRAINTS,
    EpochReporter,
    TimeBudget,
    run_callbacks,
    validate_callbacks,
)


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def screen(text):
    """What a terminal shows after ``text``: ``\r`` returns to column 0 and
    later characters overwrite earlier ones."""
    lines, cur, col = [], [], 0
    for ch in text:
        if ch == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        elif ch == "\r":
            col = 0
        else:
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
    return lines + ["".join(cur)]


# --------------------------------------------------------------- reporter


def test_silent_when_inactive(capsys):
    rep = EpochReporter(False, 100, 10)
    rep.epoch_end(epoch=1, loss=0.5, seconds=0.1)
    rep.message("hello")
    rep.close()
    tty = FakeTTY()
    rep = EpochReporter(False, 100, 10, file=tty)
    rep.epoch_end(epoch=1, loss=0.5, seconds=0.1)
    rep.close()
    assert capsys.readouterr().out == ""
    assert tty.getvalue() == ""


def test_line_format_stdout(capsys):
    rep = EpochReporter(True, 1500, 200)  # file=None: sys.stdout at call time
    rep.epoch_end(epoch=3, loss=0.1234564, seconds=0.1)
    rep.epoch_end(epoch=4, loss=0.1, seconds=0.5, val_score=0.9, val_loss=0.25)
    rep.epoch_end(epoch=5, loss=0.1, seconds=2.0, val_score=0.875)
    rep.epoch_end(epoch=6, loss=0.1, seconds=2.0, val_loss=0.2)
    rep.close()
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3/200: loss=0.123456, 0.10 s, 15,000 samples/s",
        "Epoch 4/200: loss=0.100000, val_loss=0.250000, val_score=0.900000, 0.50 s,"
        " 3,000 samples/s",
        "Epoch 5/200: loss=0.100000, val_score=0.875000, 2.00 s, 750 samples/s",
        "Epoch 6/200: loss=0.100000, val_loss=0.200000, 2.00 s, 750 samples/s",
    ]


def test_file_defaults_to_stdout_at_call_time(monkeypatch):
    rep = EpochReporter(True, 10, 5)
    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)  # swapped after construction
    rep.epoch_end(epoch=1, loss=1.0, seconds=1.0)
    assert buf.getvalue() == "Epoch 1/5: loss=1.000000, 1.00 s, 10 samples/s\n"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_stdout_writes_nothing(monkeypatch):
    # sys.stdout is None in a process started with stdout closed, or under
    # pythonw: progress=True crashed fit with AttributeError ('write'),
    # where scikit-learn's verbose prints nothing
    import numpy as np

    from fastmlp import MLPClassifier

    monkeypatch.setattr("sys.stdout", None)
    rep = EpochReporter(True, 10, 5)
    rep.epoch_end(epoch=1, loss=1.0, seconds=1.0)
    rep.message("text")
    rep.close()
    X = np.random.RandomState(0).normal(size=(40, 3))
    clf = MLPClassifier((4,), max_iter=2, progress=True, max_time=100).fit(X, X[:, 0] > 0)
    assert clf.n_iter_ == 2


def test_no_max_iter_and_zero_seconds():
    buf = io.StringIO()
    rep = EpochReporter(True, 10, None, file=buf)
    rep.epoch_end(epoch=7, loss=1.0, seconds=0.0)
    assert buf.getvalue() == "Epoch 7: loss=1.000000, 0.00 s, inf samples/s\n"


def test_non_tty_has_no_bar():
    buf = io.StringIO()
    rep = EpochReporter(True, 10, 4, file=buf)
    for epoch in range(1, 5):
        rep.epoch_end(epoch=epoch, loss=1.0, seconds=0.01)
    rep.close()
    assert "\r" not in buf.getvalue()
    assert "[" not in buf.getvalue()
    assert len(buf.getvalue().splitlines()) == 4


def test_tty_bar_drawn_updated_and_cleared():
    tty = FakeTTY()
    rep = EpochReporter(True, 100, 4, file=tty)
    rep.epoch_end(epoch=1, loss=0.5, seconds=1.0)
    out = tty.getvalue()
    line, bar = out.split("\n")
    assert line == "Epoch 1/4: loss=0.500000, 1.00 s, 100 samples/s"
    # the bar is on its own line, carriage-return based, no newline after it
    assert bar.startswith("\r[") and "\n" not in bar
    assert "1/4" in bar and "eta 3.0 s" in bar
    assert bar.count("#") == 30 // 4 + 1  # round(0.25 * 30) = 8 filled cells

    rep.epoch_end(epoch=2, loss=0.4, seconds=1.0)
    out2 = tty.getvalue()[len(out):]
    # the old bar is blanked out before the next line is written
    assert out2.startswith("\r" + " " * (len(bar) - 1) + "\r")
    assert "Epoch 2/4: loss=0.400000" in out2
    bar2 = out2.rsplit("\n", 1)[1]
    assert bar2.startswith("\r[") and "2/4" in bar2 and bar2.count("#") == 15

    before_close = tty.getvalue()
    rep.close()
    tail = tty.getvalue()[len(before_close):]
    assert tail == "\r" + " " * (len(bar2) - 1) + "\r"
    # on screen: the two epoch lines, and a blank last line where the bar was
    shown = screen(tty.getvalue())
    assert [x.rstrip() for x in shown] == [
        "Epoch 1/4: loss=0.500000, 1.00 s, 100 samples/s",
        "Epoch 2/4: loss=0.400000, 1.00 s, 100 samples/s",
        "",
    ]
    assert screen(before_close)[-1].startswith("[###############.")
    rep.close()  # idempotent
    assert tty.getvalue() == before_close + tail


def test_tty_bar_full_at_last_epoch_without_eta():
    tty = FakeTTY()
    rep = EpochReporter(True, 100, 2, file=tty)
    rep.epoch_end(epoch=1, loss=0.5, seconds=1.0)
    rep.epoch_end(epoch=2, loss=0.5, seconds=1.0)
    bar = tty.getvalue().rsplit("\n", 1)[1]
    assert "#" * 30 in bar and "2/2" in bar and "eta" not in bar


def test_message_keeps_bar_below():
    tty = FakeTTY()
    rep = EpochReporter(True, 100, 10, file=tty)
    rep.epoch_end(epoch=3, loss=0.5, seconds=1.0)
    start = len(tty.getvalue())
    rep.message("Validation score did not improve. Stopping.")
    out = tty.getvalue()[start:]
    cleared, rest = out.split("Validation", 1)
    assert cleared.startswith("\r") and cleared.endswith("\r")
    assert cleared.strip() == ""
    assert "Stopping.\n\r[" in rest and "3/10" in rest
    rep.close()


def test_context_manager_closes():
    tty = FakeTTY()
    with EpochReporter(True, 100, 10, file=tty) as rep:
        rep.epoch_end(epoch=1, loss=0.5, seconds=1.0)
    assert tty.getvalue().endswith(" \r")


# ------------------------------------------------------------- time budget


def test_time_budget_none_never_exceeded():
    budget = TimeBudget(None)
    assert budget.exceeded() is False


def test_time_budget_exceeded():
    budget = TimeBudget(0.05)
    assert not budget.exceeded()
    time.sleep(0.06)
    assert budget.exceeded()
    assert budget.elapsed() >= 0.05


def test_time_budget_long_not_exceeded():
    assert not TimeBudget(3600).exceeded()


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-1.0, ValueError),
                                      (float("nan"), ValueError), ("1", TypeError),
                                      (True, TypeError)])
def test_time_budget_rejects(bad, exc):
    with pytest.raises(exc, match="max_time"):
        TimeBudget(bad)


def test_progress_constraints():
    ok = {"max_time": 1.5, "callbacks": [print]}
    validate_parameter_constraints(PROGRESS_PARAM_CONSTRAINTS, ok, "est")
    for bad in ({"max_time": 0}, {"max_time": -1}, {"callbacks": 3}):
        with pytest.raises(ValueError):
            validate_parameter_constraints(PROGRESS_PARAM_CONSTRAINTS, bad, "est")


# --------------------------------------------------------------- callbacks


def _history(n=2):
    return {
        "loss": [1.0, 0.5][:n],
        "val_loss": [],
        "val_score": [],
        "seconds": [0.1, 0.1][:n],
        "learning_rate": [0.001, 0.001][:n],
    }


def test_run_callbacks_none():
    assert run_callbacks(None, object(), _history()) is False
    assert run_callbacks([], object(), _history()) is False


def test_run_callbacks_single_callable_receives_arguments():
    seen = []
    est, hist = object(), _history()
    assert run_callbacks(lambda e, h: seen.append((e, h)), est, hist) is False
    assert seen == [(est, hist)] and seen[0][0] is est and seen[0][1] is hist


@pytest.mark.parametrize("ret, stop", [(None, False), (False, False), (0, False),
                                       (True, True), (1, True), ("stop", True)])
def test_run_callbacks_truthy_stops(ret, stop):
    assert run_callbacks(lambda e, h: ret, None, _history()) is stop


def test_run_callbacks_list_all_called_any_stops():
    calls = []

    def stop_after_loss(est, hist):
        calls.append("a")
        return hist["loss"][-1] < 0.6

    def logger(est, hist):
        calls.append("b")

    assert run_callbacks([stop_after_loss, logger], None, _history(2)) is True
    assert calls == ["a", "b"]  # the logger still ran after the stop request
    calls.clear()
    assert run_callbacks((stop_after_loss, logger), None, _history(1)) is False
    assert calls == ["a", "b"]


def test_run_callbacks_exception_propagates():
    class Boom(RuntimeError):
        pass

    def bad(est, hist):
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        run_callbacks([lambda e, h: None, bad], None, _history())


def test_validate_callbacks():
    assert validate_callbacks(None) == []
    assert validate_callbacks(print) == [print]
    assert validate_callbacks([print, len]) == [print, len]
    with pytest.raises(TypeError, match=r"callbacks\[1\] is not callable \(got int\)"):
        validate_callbacks([print, 3])
    with pytest.raises(TypeError, match="got str"):
        validate_callbacks("print")
    with pytest.raises(TypeError):
        run_callbacks([None], None, _history())
