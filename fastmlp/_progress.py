"""Watching training: per-epoch report, time budget and user callbacks.

Design: everything here runs once per epoch, between calls into the compiled
engine, so none of it is on the minibatch path.

- ``EpochReporter`` prints one line per epoch when the estimator's
  ``progress=True`` and, when the output is a terminal, keeps a one-line
  progress bar under those lines (carriage-return based; no dependency).
  ``verbose`` stays scikit-learn's: any true value prints scikit-learn's
  lines, which the estimator prints itself (above the bar, through
  ``message``, when both are on).
- ``TimeBudget`` answers "has ``max_time`` passed since fit started?".
- ``run_callbacks`` calls the user's ``callbacks(estimator, history)`` and
  says whether one of them asked to stop.
"""
import math
import sys
import time
from numbers import Real

from fastmlp._sklearn_compat import Interval

# Constraints for the estimator's ``_parameter_constraints``.
PROGRESS_PARAM_CONSTRAINTS = {
    "progress": ["boolean"],
    "max_time": [None, Interval(Real, 0, None, closed="neither")],
    "callbacks": [None, callable, list, tuple],
}

_BAR_WIDTH = 30


def _format_rate(n_samples, seconds):
    if seconds > 0:
        return "{:,.0f} samples/s".format(n_samples / seconds)
    return "inf samples/s"


class EpochReporter:
    """Per-epoch progress lines, and a progress bar on a terminal.

    Parameters
    ----------
    active : bool
        The estimator's ``progress``: when false, every method does nothing.
    n_samples : int
        Training samples per epoch, for the samples/s figure.
    max_iter : int or None
        Epochs planned; ``None`` (e.g. ``partial_fit``) prints ``Epoch 3``
        instead of ``Epoch 3/200`` and draws no bar.
    file : file-like, default=None
        Where to write; ``None`` means ``sys.stdout`` looked up at each write
        (nowhere when that is None: a process started with stdout closed,
        or pythonw, where ``print`` writes nothing either).

    Notes
    -----
    A line reads ``Epoch 3/200: loss=0.123456, val_loss=0.234567,
    val_score=0.912345, 0.12 s, 15,000 samples/s``; the ``val_`` parts are
    left out when ``None``.  When ``file.isatty()`` is true, a bar
    ``[#########.....................] 3/200 eta 24.1 s`` is redrawn in place
    (``\\r``) below the lines after every epoch, and erased by ``close()``.
    Other messages printed while the bar is shown should go through
    ``message()`` so that they do not land on the bar's line.
    """

    def __init__(self, active, n_samples, max_iter, file=None):
        self.active = bool(active)
        self.n_samples = int(n_samples)
        self.max_iter = None if max_iter is None else int(max_iter)
        self._file = file
        self._bar_width = 0  # characters of the bar currently on screen
        self._epochs_timed = 0
        self._seconds = 0.0
        self._last_epoch = 0

    @property
    def file(self):
        return sys.stdout if self._file is None else self._file

    def _isatty(self, file):
        isatty = getattr(file, "isatty", None)
        try:
            return bool(isatty()) if isatty is not None else False
        except (ValueError, OSError):  # closed or detached stream
            return False

    def _clear_bar(self, file):
        if self._bar_width:
            file.write("\r" + " " * self._bar_width + "\r")
            self._bar_width = 0

    def _draw_bar(self, file, epoch):
        if self.max_iter is None or self.max_iter <= 0:
            return
        frac = min(1.0, epoch / self.max_iter)
        filled = int(round(frac * _BAR_WIDTH))
        bar = "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"
        text = "%s %d/%d" % (bar, epoch, self.max_iter)
        remaining = self.max_iter - epoch
        if remaining > 0 and self._epochs_timed:
            text += " eta %.1f s" % (self._seconds / self._epochs_timed * remaining)
        file.write("\r" + text)
        self._bar_width = len(text)

    def epoch_end(self, *, epoch, loss, seconds, val_score=None, val_loss=None):
        """Report one finished epoch.

        Parameters
        ----------
        epoch : int
            1-based number of the epoch just finished (the estimator's
            ``n_iter_`` after it has been incremented).
        loss : float
            Training loss of the epoch.
        seconds : float
            Wall time of the epoch.
        val_score, val_loss : float or None
            Validation score / loss of the epoch, if computed.
        """
        if not self.active or self.file is None:
            return
        self._epochs_timed += 1
        self._seconds += float(seconds)
        self._last_epoch = int(epoch)
        parts = ["loss=%.6f" % loss]
        if val_loss is not None:
            parts.append("val_loss=%.6f" % val_loss)
        if val_score is not None:
            parts.append("val_score=%.6f" % val_score)
        parts.append("%.2f s" % seconds)
        parts.append(_format_rate(self.n_samples, seconds))
        head = "Epoch %d" % epoch
        if self.max_iter is not None:
            head += "/%d" % self.max_iter
        line = head + ": " + ", ".join(parts)

        file = self.file
        tty = self._isatty(file)
        self._clear_bar(file)
        file.write(line + "\n")
        if tty:
            self._draw_bar(file, epoch)
        file.flush()

    def message(self, text):
        """Print ``text`` on its own line, keeping the bar below it."""
        if not self.active or self.file is None:
            return
        file = self.file
        had_bar = self._bar_width
        self._clear_bar(file)
        file.write(str(text) + "\n")
        if had_bar:
            self._draw_bar(file, self._last_epoch)  # where it was
        file.flush()

    def close(self):
        """Erase the progress bar, if one is shown.  Safe to call twice."""
        if not self._bar_width or self.file is None:
            return
        file = self.file
        self._clear_bar(file)
        file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class TimeBudget:
    """Wall-clock budget started at construction.

    Parameters
    ----------
    max_time : float > 0 or None
        Seconds allowed; ``None`` means no limit.
    """

    def __init__(self, max_time):
        if max_time is not None:
            if isinstance(max_time, bool) or not isinstance(max_time, Real):
                raise TypeError(
                    "max_time must be None or a number of seconds, got %r." % (max_time,)
                )
            if not (max_time > 0) or math.isnan(max_time):
                raise ValueError("max_time must be > 0 seconds, got %r." % (max_time,))
        self.max_time = max_time
        self._start = time.perf_counter()

    def elapsed(self):
        """Seconds since construction."""
        return time.perf_counter() - self._start

    def exceeded(self):
        """True once ``max_time`` seconds have passed; always False for None."""
        return self.max_time is not None and self.elapsed() >= self.max_time


def _as_list(callbacks):
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    if isinstance(callbacks, (list, tuple)):
        return list(callbacks)
    raise TypeError(
        "callbacks must be None, a callable or a list of callables, got %s."
        % type(callbacks).__name__
    )


def validate_callbacks(callbacks):
    """Check ``callbacks`` and return them as a list (empty for None).

    Raises
    ------
    TypeError
        If ``callbacks`` is not None, a callable or a list/tuple of callables;
        the message names the offending position and type.
    """
    cbs = _as_list(callbacks)
    for i, cb in enumerate(cbs):
        if not callable(cb):
            raise TypeError(
                "callbacks[%d] is not callable (got %s); each callback is called"
                " as callback(estimator, history)." % (i, type(cb).__name__)
            )
    return cbs


def run_callbacks(callbacks, estimator, history):
    """Call every callback as ``cb(estimator, history)``; True means stop.

    Parameters
    ----------
    callbacks : None, callable or list of callables
    estimator : the estimator being fitted
    history : dict of lists
        Keys ``"loss"``, ``"val_loss"``, ``"val_score"``, ``"seconds"``,
        ``"learning_rate"``, one entry per epoch so far.

    Returns
    -------
    stop : bool
        True if any callback returned a truthy value.  Every callback is
        called each epoch, even after one has asked to stop, so that loggers
        see the last epoch.  An exception raised by a callback propagates.
    """
    stop = False
    for cb in validate_callbacks(callbacks):
        if cb(estimator, history):
            stop = True
    return stop
