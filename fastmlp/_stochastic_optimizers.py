"""The stochastic solvers' state, in one object per model.

Design: scikit-learn keeps each solver's state in an optimizer object
(``sklearn/neural_network/_stochastic_optimizers.py``), and so does fastmlp.
The arithmetic of a step runs in C inside the engine (``_optimizers.pyx``,
called from ``_network.train_epoch`` with no return to Python per
minibatch), so this object holds what outlives an epoch and hands the engine
the constants of each one:

- ``state1``/``state2``: SGD's velocity; Adam's first and second moments;
  RMSprop's and Adagrad's running squares (``state2`` is empty but for Adam);
- ``t``: Adam's step count, from which the engine takes each step's bias
  correction (``_optimizers.pxd``, ``adam_step_size``: written once);
- ``learning_rate``: the current rate of scikit-learn's own schedules
  ('constant', 'invscaling', 'adaptive'), changed between epochs by
  :meth:`iteration_ends` and :meth:`trigger_stopping` as scikit-learn does.

The estimator pickles it (and skops saves it) as the plain dict of
:meth:`to_state`.
"""
import numpy as np

from fastmlp._optimizers import SOLVERS as SOLVER_CODES

ADAM_SOLVERS = ("adam", "adamw")


class StochasticOptimizer:
    """State of one stochastic solver over a flat parameter buffer.

    Parameters
    ----------
    solver : {'sgd', 'adam', 'rmsprop', 'adagrad', 'adamw'}
    n_params : int
        Length of the flat parameter buffer.
    dtype : numpy dtype
        The parameters' dtype (float32 or float64).
    learning_rate_init : float
    """

    def __init__(self, solver, n_params, dtype, learning_rate_init):
        self.solver = solver
        self.code = SOLVER_CODES[solver]
        self.state1 = np.zeros(n_params, dtype=dtype)
        self.state2 = np.zeros(n_params if solver in ADAM_SOLVERS else 0, dtype=dtype)
        self.t = 0
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.hyper = {}

    def set_hyperparameters(self, *, momentum, nesterov, beta_1, beta_2, epsilon, rho,
                            weight_decay, alpha1, clip_value):
        """The estimator's current constants (read each call, so set_params
        between partial_fit calls takes effect)."""
        self.hyper = {
            "momentum": float(momentum),
            "nesterov": bool(nesterov),
            "beta_1": float(beta_1),
            "beta_2": float(beta_2),
            "epsilon": float(epsilon),
            "rho": float(rho),
            "weight_decay": float(weight_decay) if self.solver == "adamw" else 0.0,
            "alpha1": float(alpha1),
            "clip_value": float(clip_value or 0.0),
        }

    def set_learning_rate_init(self, learning_rate_init, learning_rate, time_step, power_t):
        """A learning_rate_init set between partial_fit calls takes effect,
        as the other constants do: the schedule's current rate restarts
        from it ('invscaling': at the samples seen so far, ``time_step``)."""
        new = float(learning_rate_init)
        if new == self.learning_rate_init:
            return
        self.learning_rate_init = new
        if self.solver == "sgd" and learning_rate == "invscaling" and time_step > 0:
            self.learning_rate = new / (time_step + 1) ** power_t
        else:
            self.learning_rate = new

    def epoch_constants(self, lr):
        """What the engine's step needs for an epoch at base rate ``lr``."""
        return {"lr": float(lr), **self.hyper}

    def iteration_ends(self, time_step, learning_rate, power_t):
        """scikit-learn's 'invscaling' rule, applied after each epoch
        (``time_step``: samples seen so far, the estimator's ``t_``)."""
        if self.solver == "sgd" and learning_rate == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** power_t

    def trigger_stopping(self, msg, learning_rate, say):
        """scikit-learn's rule: stop, unless sgd 'adaptive' can still divide
        the rate by 5.  Returns whether to stop."""
        if not (self.solver == "sgd" and learning_rate == "adaptive"):
            say(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            say(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        say(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def writable(self):
        """State loaded read-only (joblib's mmap_mode, loky workers) is copied
        before the engine writes to it."""
        if not self.state1.flags.writeable:
            self.state1 = np.array(self.state1)
        if not self.state2.flags.writeable:
            self.state2 = np.array(self.state2)
        return self

    def fits(self, solver, n_params, dtype):
        """Can this state continue training ``solver`` over these parameters?"""
        return (
            self.solver == solver
            and self.state1.shape == (n_params,)
            and self.state1.dtype == dtype
            and self.state2.shape == ((n_params,) if solver in ADAM_SOLVERS else (0,))
            and self.state2.dtype == dtype
        )

    def to_state(self):
        """Plain types only (the estimator pickles this, so that skops need
        trust nothing but the estimators); ``from_state`` rebuilds."""
        return {
            "solver": self.solver,
            "state1": self.state1,
            "state2": self.state2,
            "t": int(self.t),
            "learning_rate_init": self.learning_rate_init,
            "learning_rate": self.learning_rate,
        }

    @classmethod
    def from_state(cls, state):
        opt = cls.__new__(cls)
        opt.solver = state["solver"]
        opt.code = SOLVER_CODES[opt.solver]
        opt.state1 = state["state1"]
        opt.state2 = state["state2"]
        opt.t = int(state["t"])
        opt.learning_rate_init = float(state["learning_rate_init"])
        opt.learning_rate = float(state["learning_rate"])
        opt.hyper = {}
        return opt
