"""Fork safety: a child process trains and predicts after its parent used threads.

GNU libgomp's thread pool does not survive fork: a child forked after the
parent ran an OpenMP team hangs in its own first team.  fastmlp runs such a
child on one thread and warns once (fastmlp/_openmp.pyx), and resets the
engine's session state there (fastmlp/_engine.py).  Three processes
(tests/_fork_work.py) each fit with a team of two, then have pool workers
started with fork, spawn or forkserver fit three models (minibatches,
L-BFGS, batch size 1 on the online step) and predict (large: the engine's
session; small: BLAS outside it).  Each wait on a worker has a timeout, and
the whole process group is killed if a scenario process itself overruns,
so a hang fails the test instead of freezing pytest.

Without the fix the forked children time out (CHILD_TIMEOUT each).  With it
the file took 38-49 s on 2 cores shared with other builds (load average
3-6), most of it interpreter and scikit-learn imports in the five processes.
"""
import os
import pickle
import signal
import subprocess
import sys

import numpy as np
import pytest

from fastmlp._openmp import OPENMP_ENABLED

pytestmark = pytest.mark.skipif(
    not OPENMP_ENABLED or sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2,
    reason="needs fastmlp built with OpenMP, the fork start method and two cores",
)

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_TIMEOUT = 120  # the scenario takes a few seconds; this only stops a hang


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run each scenario process once for the module (it starts several
    children: _fork_work.SCENARIOS)."""
    results = {}

    def get(scenario):
        if scenario not in results:
            results[scenario] = _run(scenario, tmp_path_factory.mktemp(scenario))
        return results[scenario]

    return get


def _scenario_of(child):
    from _fork_work import SCENARIOS

    return next(s for s, children in SCENARIOS.items() if child in children)


def _run(scenario, tmp_path):
    out = tmp_path / "result.pkl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(var, None)
    # the hazard under test is a parent whose OpenMP team ran: keep the team
    # even when the machine is busy (the pacer would run such fits on one thread)
    env["FASTMLP_PACE"] = "0"
    code = f"import _fork_work; _fork_work.main({scenario!r}, {str(out)!r})"
    # a session of its own: on a timeout, kill the pool's workers with it
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"scenario {scenario} hung for {SCENARIO_TIMEOUT} s")
    assert proc.returncode == 0, err
    with open(out, "rb") as f:
        result = pickle.load(f)
    print(scenario, {k: round(v, 2) for k, v in result["timings"].items()})
    return result


def _assert_parent_used_teams(result):
    assert result["parent_n_threads"] >= 2
    # libgomp's worker thread, started by the parent's fits and still alive
    assert result["parent_new_os_threads"] >= 1
    assert result["online_team_in_parent"] == 2


def _assert_same_fits(child, reference):
    assert child.keys() == reference.keys()
    for name, (weights, proba, proba_small) in child.items():
        ref_weights, ref_proba, ref_small = reference[name]
        for w, r in zip(weights, ref_weights, strict=True):
            np.testing.assert_array_equal(w, r, err_msg=name)
        np.testing.assert_array_equal(proba, ref_proba, err_msg=name)
        np.testing.assert_array_equal(proba_small, ref_small, err_msg=name)


def _assert_learned(fits):
    # the minibatch model after 3 epochs (0.78): far better than chance on digits
    from _fork_work import digits

    X, y = digits()
    _, proba, _ = fits["minibatch"]
    assert np.mean(proba.argmax(axis=1) == y) > 0.7


@pytest.mark.parametrize("scenario", ["fork", "fork_during_fit"])
def test_forked_child_trains_on_one_thread_and_warns_once(scenario, run):
    result = run(_scenario_of(scenario))
    _assert_parent_used_teams(result)
    child = result["children"][scenario]
    assert child != "timeout", "the forked child hung"
    assert child["pid"] != result["parent_pid"]
    # one thread in the child: the same fits as the parent's on one thread
    assert child["n_threads_after"] == 1
    _assert_same_fits(child["fits"], result["reference_1"])
    _assert_learned(child["fits"])
    # one warning for three fits and six predictions, saying why and what to do
    assert len(child["runtime_warnings"]) == 1, child["runtime_warnings"]
    message = child["runtime_warnings"][0]
    assert message.startswith(
        f"fastmlp uses 1 thread instead of {result['parent_n_threads']} in this process")
    assert "forked" in message and "'spawn' or 'forkserver'" in message
    # BLAS keeps the threads it had before any fit (the small predictions
    # ran on them, outside the engine's session)
    assert child["blas_threads"] == result["parent_blas_threads"]
    assert child["active_sessions"] == 0
    assert not child["session_lock_held"]
    if scenario == "fork_during_fit":
        # the parent's other thread was inside fit, holding BLAS to one
        # thread, and the session lock was held: in the child no fit runs,
        # the lock is free and BLAS has its threads back
        assert result["sessions_at_fork"] == 1
        assert result["blas_threads_at_fork"] == [1]
        assert result["parent_blas_threads"][0] > 1


@pytest.mark.parametrize("scenario", ["spawn", "forkserver", "fork_before_any_fit"])
def test_child_keeps_its_threads_when_it_can(scenario, run):
    # spawn: a fresh process; forkserver: forked from a server that imported
    # fastmlp and never fitted; fork_before_any_fit: forked before the parent
    # started a team.  None of them has a broken thread pool.
    result = run(_scenario_of(scenario))
    _assert_parent_used_teams(result)
    child = result["children"][scenario]
    assert child != "timeout", "the child hung"
    assert child["pid"] != result["parent_pid"]
    assert child["n_threads_after"] == result["parent_n_threads"]
    _assert_same_fits(child["fits"], result["reference_2"])
    _assert_learned(child["fits"])
    assert child["runtime_warnings"] == []
    assert child["blas_threads"] == result["parent_blas_threads"]


def test_fork_inside_a_fit_counts_only_the_childs_sessions(run):
    # os.fork from a callback: the child finishes the fit it was forked in
    # (on one OpenMP thread), whose session began in the parent; the child's
    # next fit must still hold BLAS to one thread and give it back after
    result = run("fork")
    child = result["inside_fit"]
    assert child["sessions_after_fit"] == 0
    assert result["parent_blas_threads"][0] > 1
    assert child["blas_after_fit"] == result["parent_blas_threads"]
    assert child["blas_in_next_fit"] and all(b == [1] for b in child["blas_in_next_fit"])
    assert child["blas_after_next_fit"] == result["parent_blas_threads"]
    assert child["sessions_after_next_fit"] == 0
